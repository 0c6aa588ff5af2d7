"""Pixels per class per tile: what the hypercolumn pixels stage trains on."""

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ('PixelSample', 'sample_pixels_per_class')


class PixelSample(NamedTuple):
    """Chosen pixels of a batch of masks."""

    #: Row of each pixel.
    rows: Tensor
    #: Column of each pixel.
    cols: Tensor
    #: Image index of each pixel.
    batch: Tensor
    #: Class of each pixel.
    labels: Tensor
    #: Per class: the pixels asked for that a tile lacked (took what exists).
    short: Tensor


def sample_pixels_per_class(
    masks: Tensor,
    k: int,
    num_classes: int,
    ignore_index: int | None = 255,
    generator: torch.Generator | None = None,
) -> PixelSample:
    """``k`` random pixels of every class present in each mask (stratified, seeded).

    A tile with fewer than ``k`` pixels of a class gives all it has; how many
    were missing per class is returned, so the caller can report it.

    Args:
        masks: class indices [B, H, W].
        k: pixels per class per tile.
        num_classes: classes (values outside ``0 .. num_classes - 1`` and the
            ignore index are never chosen).
        ignore_index: unlabelled value.
        generator: random generator (seeded by the caller).

    Returns:
        The chosen pixels, grouped by tile then class.

    Raises:
        ValueError: If ``k`` is not positive or the masks are not [B, H, W].
    """
    if k < 1:
        msg = f'pixels_per_class must be a positive integer, got {k!r}'
        raise ValueError(msg)
    if masks.ndim != 3:
        msg = f'masks must be [B, H, W], got shape {tuple(masks.shape)}'
        raise ValueError(msg)
    width = masks.shape[-1]
    rows, cols, batch, labels = [], [], [], []
    short = torch.zeros(num_classes, dtype=torch.long)
    flat = masks.flatten(1).cpu()
    for b in range(masks.shape[0]):
        for c in range(num_classes):
            if c == ignore_index:
                continue
            where = (flat[b] == c).nonzero()[:, 0]
            if len(where) == 0:
                continue
            if len(where) < k:
                short[c] += k - len(where)
                chosen = where
            else:
                chosen = where[torch.randperm(len(where), generator=generator)[:k]]
            rows.append(chosen // width)
            cols.append(chosen % width)
            batch.append(torch.full_like(chosen, b))
            labels.append(torch.full_like(chosen, c))
    device = masks.device
    if not rows:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return PixelSample(empty, empty, empty, empty, short)
    return PixelSample(
        torch.cat(rows).to(device), torch.cat(cols).to(device),
        torch.cat(batch).to(device), torch.cat(labels).to(device), short,
    )  # fmt: skip
