"""Segmenter-based scores: one uncertainty per patch from per-pixel probabilities.

STAL lets the segmenter being trained choose what to label, instead of a
separate image classifier (ALS4GAN). Each function takes the softmax output of
a segmenter ``[B, C, H, W]`` and, optionally, a ``[B, H, W]`` mask of the
pixels that count (padding and nodata left out), and returns one float per
patch. Larger is more uncertain for :func:`pixel_entropy` and
:func:`region_impurity`; smaller for :func:`pixel_margin`. A patch without
valid pixels scores NaN (it is never chosen).
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ('pixel_entropy', 'pixel_margin', 'region_impurity')

_EPS = 1e-12


def _entropy_map(probs: Tensor) -> Tensor:
    """Per-pixel entropy over the class dimension, divided by ``log C``."""
    entropy = -(probs * probs.clamp_min(_EPS).log()).sum(dim=1)
    return entropy / math.log(probs.shape[1])


def _valid(probs: Tensor, valid: Tensor | None) -> Tensor:
    if probs.ndim != 4 or probs.shape[1] < 2:
        msg = f'probs must be [B, C, H, W] with C >= 2, got {tuple(probs.shape)}'
        raise ValueError(msg)
    if valid is None:
        return torch.ones_like(probs[:, 0], dtype=torch.bool)
    if valid.shape != probs[:, 0].shape:
        msg = f'valid must be {tuple(probs[:, 0].shape)}, got {tuple(valid.shape)}'
        raise ValueError(msg)
    return valid.bool()


def _mean(values: Tensor, valid: Tensor) -> Tensor:
    """Mean of ``values`` [B, H, W] over the valid pixels of each patch (NaN: none)."""
    count = valid.flatten(1).sum(dim=1)
    total = (values * valid).flatten(1).sum(dim=1)
    return torch.where(count > 0, total / count.clamp_min(1), torch.nan)


def pixel_entropy(probs: Tensor, valid: Tensor | None = None) -> Tensor:
    """STAL's score: mean normalized pixel entropy ``mean(H) / log C``.

    Args:
        probs: softmax probabilities [B, C, H, W].
        valid: pixels that count [B, H, W] (default: all).

    Returns:
        Scores [B] in [0, 1]: 1 for uniform predictions, 0 for one-hot ones.
    """
    mask = _valid(probs, valid)
    return _mean(_entropy_map(probs), mask)


def pixel_margin(probs: Tensor, valid: Tensor | None = None) -> Tensor:
    """Mean gap between the two most probable classes; smaller is more uncertain.

    Args:
        probs: softmax probabilities [B, C, H, W].
        valid: pixels that count [B, H, W] (default: all).

    Returns:
        Scores [B] in [0, 1].
    """
    mask = _valid(probs, valid)
    top2 = probs.topk(2, dim=1).values
    return _mean(top2[:, 0] - top2[:, 1], mask)


def region_impurity(
    probs: Tensor, valid: Tensor | None = None, k: int = 1, top: float = 0.1
) -> Tensor:
    """RIPU's region impurity x uncertainty (Xie et al. 2022), per patch.

    For every pixel, the ``(2k+1)^2`` window around it gives the histogram of
    the predicted classes; its entropy (divided by ``log C``) is the region's
    *impurity*, and the mean normalized pixel entropy in the window its
    *uncertainty*. A pixel scores ``impurity * uncertainty``: high where the
    segmenter is unsure near class boundaries and small objects, 0 inside a
    region of a single predicted class. A patch scores the mean of its top
    ``top`` share of valid pixels.

    Args:
        probs: softmax probabilities [B, C, H, W].
        valid: pixels that count [B, H, W] (default: all).
        k: window radius (1: 3 x 3, RIPU's default).
        top: share of the patch's valid pixels averaged, in (0, 1].

    Returns:
        Scores [B] in [0, 1].

    Raises:
        ValueError: If ``k`` is negative or ``top`` outside (0, 1].
    """
    if k < 0:
        msg = f'region_impurity: k must be >= 0, got {k}'
        raise ValueError(msg)
    if not 0 < top <= 1:
        msg = f'region_impurity: top must be in (0, 1], got {top}'
        raise ValueError(msg)
    mask = _valid(probs, valid)
    num_classes = probs.shape[1]
    weight = mask.unsqueeze(1).to(probs.dtype)
    onehot = F.one_hot(probs.argmax(dim=1), num_classes).permute(0, 3, 1, 2)

    def window(values: Tensor) -> Tensor:  # mean over each (2k+1)^2 window
        return F.avg_pool2d(values, 2 * k + 1, stride=1, padding=k)

    # sums over the window of the valid pixels only (divisor cancels out)
    counts = window(onehot.to(probs.dtype) * weight)
    total = window(weight)
    share = counts / total.clamp_min(_EPS)
    impurity = -(share * share.clamp_min(_EPS).log()).sum(dim=1) / math.log(num_classes)
    entropy = window(_entropy_map(probs).unsqueeze(1) * weight)
    uncertainty = (entropy / total.clamp_min(_EPS)).squeeze(1)
    score = (impurity * uncertainty).masked_fill(~mask, -1).flatten(1)
    count = mask.flatten(1).sum(dim=1)
    # mean of each patch's top ceil(top * valid) scores, for the whole batch at once
    keep = torch.ceil(count.double() * top - 1e-9).long().clamp_min(1)
    ranked = score.sort(dim=1, descending=True).values.cumsum(dim=1)
    out = ranked.gather(1, (keep - 1).unsqueeze(1)).squeeze(1) / keep.to(score.dtype)
    return torch.where(count > 0, out, torch.nan)
