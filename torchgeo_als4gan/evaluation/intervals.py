"""Confidence intervals of mIoU: bootstrap over test items, t-intervals over seeds."""

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = (
    'bootstrap_miou',
    'miou_of_confusions',
    'paired_difference',
    'resample_weights',
    'seed_interval',
)

#: Two-sided 95 % quantiles of Student's t by degrees of freedom (1..30).
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
    2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074,
    2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def miou_of_confusions(
    confusions: NDArray[np.integer] | NDArray[np.floating],
) -> NDArray[np.float64]:
    """MIoU over present classes of each of a stack of confusion matrices.

    The same rule as :func:`~torchgeo_als4gan.evaluation.segmentation_scores`:
    a class neither in the truth nor predicted has no IoU and is left out.

    Args:
        confusions: [B, C, C] counts (rows: truth).

    Returns:
        [B] mIoU (0 where no class is present).
    """
    cm = np.asarray(confusions, dtype=np.float64)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    union = cm.sum(axis=2) + cm.sum(axis=1) - tp
    present = union > 0
    iou = np.where(present, tp / np.maximum(union, 1), 0.0)
    count = present.sum(axis=1)
    return np.where(count > 0, iou.sum(axis=1) / np.maximum(count, 1), 0.0)


def resample_weights(items: int, samples: int, seed: int) -> NDArray[np.float64]:
    """How often each item is drawn in each bootstrap resample (seeded).

    The same ``(items, samples, seed)`` always give the same resamples, so two
    methods scored on the same test items are resampled identically (paired).

    Args:
        items: test items (images, patches).
        samples: bootstrap resamples.
        seed: seed of the draws.

    Returns:
        [samples, items] counts.
    """
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, items, size=(samples, items))
    weights = np.zeros((samples, items))
    np.add.at(weights, (np.arange(samples)[:, None], draws), 1.0)
    return weights


def _resampled_miou(
    per_item: NDArray[np.integer], weights: NDArray[np.float64]
) -> NDArray[np.float64]:
    n, c, _ = per_item.shape
    flat = per_item.reshape(n, c * c).astype(np.float64)
    return miou_of_confusions((weights @ flat).reshape(-1, c, c))


def _percentiles(values: NDArray[np.float64], level: float) -> tuple[float, float]:
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_miou(
    per_item: NDArray[np.integer],
    samples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """MIoU of a split and its percentile bootstrap interval over items.

    Items (test images or patches) are drawn with replacement; each resample's
    mIoU comes from the sum of its items' confusion matrices, as the split's
    own mIoU does.

    Args:
        per_item: [N, C, C] confusion matrix of each test item.
        samples: bootstrap resamples.
        seed: seed of the resamples.
        level: coverage of the interval.

    Returns:
        The mIoU of all items, and the interval's low and high ends.
    """
    full = float(miou_of_confusions(per_item.sum(axis=0, keepdims=True))[0])
    weights = resample_weights(per_item.shape[0], samples, seed)
    low, high = _percentiles(_resampled_miou(per_item, weights), level)
    return full, low, high


def paired_difference(
    per_item_a: NDArray[np.integer],
    per_item_b: NDArray[np.integer],
    samples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """MIoU of A minus mIoU of B on the same items, with a paired bootstrap interval.

    Both are resampled with the same draws, so what the two methods have in
    common (hard images) cancels and only their difference varies.

    Args:
        per_item_a: [N, C, C] per-item confusion matrices of method A.
        per_item_b: the same items scored by method B.
        samples: bootstrap resamples.
        seed: seed of the resamples.
        level: coverage of the interval.

    Returns:
        The difference on all items and the interval's ends.

    Raises:
        ValueError: If the two were not scored on the same number of items.
    """
    if per_item_a.shape != per_item_b.shape:
        msg = (
            f'paired scores need the same test items, got {per_item_a.shape[0]}'
            f' and {per_item_b.shape[0]} items'
        )
        raise ValueError(msg)
    whole = miou_of_confusions(
        np.stack([per_item_a.sum(axis=0), per_item_b.sum(axis=0)])
    )
    weights = resample_weights(per_item_a.shape[0], samples, seed)
    diff = _resampled_miou(per_item_a, weights) - _resampled_miou(per_item_b, weights)
    low, high = _percentiles(diff, level)
    return float(whole[0] - whole[1]), low, high


def seed_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean over seeds and its 95 % t-interval (zero width for one seed).

    Args:
        values: one result per seed.

    Returns:
        Mean, low and high.
    """
    array = np.asarray(values, dtype=np.float64)
    mean = float(array.mean())
    n = len(array)
    if n < 2:
        return mean, mean, mean
    t = _T95[n - 2] if n - 1 <= len(_T95) else 1.96
    half = t * float(array.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half
