"""Helpers shared by the datasets: id lists, seeded splits, grids and mask labels."""

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = (
    'grid_windows',
    'mask_labels',
    'read_id_list',
    'seeded_split',
    'stratified_split',
    'strip_image_extension',
)

Split = dict[str, list[int]]


#: Extensions stripped from ids in id lists (ALS4GAN stored file names).
IMAGE_EXTENSIONS = ('.tif', '.tiff', '.png', '.jpg', '.jpeg', '.jp2')


def strip_image_extension(name: str) -> str:
    """An id without a trailing image file extension (``a/b.tif`` -> ``a/b``).

    Only image extensions are stripped: ids may hold folders (``town/tile_0``)
    and dots (``scene.v2_r0_c0``).

    Args:
        name: an id or file name.

    Returns:
        The id.
    """
    stem, ext = os.path.splitext(name)
    return stem if ext.lower() in IMAGE_EXTENSIONS else name


def read_id_list(path: str | os.PathLike[str]) -> list[str]:
    """Read an id list in the ALS4GAN format: one id per line, no extension.

    Blank lines and surrounding white space are ignored; a trailing file extension
    (for example ``agricultural05.tif``) is stripped.

    Args:
        path: text file.

    Returns:
        The ids in file order, duplicates removed.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file contains no ids.
    """
    if not os.path.isfile(path):
        msg = f'Id list file {os.fspath(path)!r} does not exist'
        raise FileNotFoundError(msg)
    ids: list[str] = []
    for line in Path(path).read_text().splitlines():
        name = line.strip()
        if not name:
            continue
        name = strip_image_extension(name)
        if name not in ids:
            ids.append(name)
    if not ids:
        msg = f'Id list file {os.fspath(path)!r} contains no ids'
        raise ValueError(msg)
    return ids


def _check_fractions(fractions: Sequence[float]) -> None:
    if len(fractions) != 3 or any(f < 0 for f in fractions):
        msg = f'split_fractions must be three non-negative numbers, got {fractions}'
        raise ValueError(msg)
    if not np.isclose(sum(fractions), 1.0):
        msg = f'split_fractions must sum to 1, got {fractions} (sum {sum(fractions)})'
        raise ValueError(msg)


def seeded_split(n: int, fractions: Sequence[float], seed: int) -> Split:
    """Split ``range(n)`` into train/val/test at random with a fixed seed.

    Args:
        n: number of items.
        fractions: train, val and test fractions (sum to 1).
        seed: seed of the permutation.

    Returns:
        Sorted item indices per split name.
    """
    return stratified_split([0] * n, fractions, seed)


def stratified_split(
    labels: Sequence[int], fractions: Sequence[float], seed: int
) -> Split:
    """Split items into train/val/test per class with a fixed seed.

    Within each class the items are permuted with a generator seeded by ``seed``;
    ``round(n * f_val)`` go to val, ``round(n * f_test)`` to test and the rest to
    train, so every class is represented in proportion.

    Args:
        labels: class of each item.
        fractions: train, val and test fractions (sum to 1).
        seed: seed of the permutations.

    Returns:
        Sorted item indices per split name.
    """
    _check_fractions(fractions)
    rng = np.random.default_rng(seed)
    out: Split = {'train': [], 'val': [], 'test': []}
    label_array = np.asarray(labels)
    for cls in np.unique(label_array):
        items = np.flatnonzero(label_array == cls)
        items = items[rng.permutation(len(items))]
        n_val = round(len(items) * fractions[1])
        n_test = round(len(items) * fractions[2])
        out['val'].extend(items[:n_val].tolist())
        out['test'].extend(items[n_val : n_val + n_test].tolist())
        out['train'].extend(items[n_val + n_test :].tolist())
    return {key: sorted(value) for key, value in out.items()}


def grid_windows(
    height: int, width: int, size: int, stride: int
) -> list[tuple[int, int]]:
    """Top-left corners of a grid of square windows covering an image.

    The grid starts at (0, 0); the last row and column of windows reach past the
    image when it is not a multiple of the stride, so every pixel is covered (the
    caller pads) and nothing is dropped.

    Args:
        height: image height.
        width: image width.
        size: window side.
        stride: step between windows.

    Returns:
        (row, col) of each window, row-major.

    Raises:
        ValueError: If ``size`` or ``stride`` is not positive.
    """
    if size <= 0 or stride <= 0:
        msg = f'size and stride must be positive, got size={size}, stride={stride}'
        raise ValueError(msg)
    n_rows = max(-(-(height - size) // stride), 0) + 1
    n_cols = max(-(-(width - size) // stride), 0) + 1
    return [(r * stride, c * stride) for r in range(n_rows) for c in range(n_cols)]


def mask_labels(
    mask: Tensor, num_classes: int, ignore_index: int, presence_threshold: float
) -> dict[str, Tensor]:
    """Image-level labels of a patch derived from its segmentation mask.

    Args:
        mask: class indices [H, W]; ``ignore_index`` marks unlabelled pixels.
        num_classes: number of segmentation classes.
        ignore_index: mask value without a label.
        presence_threshold: fraction of the labelled pixels a class must cover to
            count as present.

    Returns:
        ``label``: the dominant class (``ignore_index`` when no pixel is
        labelled), and ``label_multi``: float multi-hot presence [num_classes].
    """
    valid = mask[(mask != ignore_index) & (mask >= 0) & (mask < num_classes)]
    counts = torch.bincount(valid.long(), minlength=num_classes).float()
    if valid.numel():
        dominant = int(counts.argmax())
        multi = (counts / valid.numel() >= presence_threshold).float()
    else:
        dominant = ignore_index
        multi = torch.zeros(num_classes)
    return {'label': torch.tensor(dominant), 'label_multi': multi}
