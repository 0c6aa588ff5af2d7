"""Pseudo-labels of a teacher and the unsupervised loss, as small pure functions."""

from typing import Literal

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = (
    'adaptive_thresholds',
    'confidence_statistics',
    'entropy_drop_share',
    'entropy_filter',
    'pixel_entropy',
    'pseudo_labels',
    'ramp',
    'weighted_cross_entropy',
)


def pseudo_labels(
    prob: Tensor,
    mode: Literal['threshold', 'soft'] = 'threshold',
    threshold: float | Tensor = 0.95,
    gamma: float = 2.0,
    gate: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Hard pseudo-labels of class probabilities and the weight of each.

    The one rule of every teacher here. Pixels ``[B, C, H, W]`` and whole
    images ``[B, C]`` (the 1 x 1 case) alike: the label is ``argmax p``;
    ``threshold`` (FixMatch, UniMatch) weighs 1 where the confidence ``max p``
    reaches ``threshold``, else 0; ``soft`` (STAL) weighs ``(max p) ** gamma``.
    ``gate`` multiplies the weights per image: S4GAN's discriminator decides
    which images are trusted at all.

    Args:
        prob: class probabilities [B, C, ...] (the teacher's, on the weak view).
        mode: ``threshold`` or ``soft``.
        threshold: confidence needed in ``threshold`` mode: one number, or one
            per class [C] (:func:`adaptive_thresholds`), applied to the
            pseudo-label.
        gamma: exponent of the confidence in ``soft`` mode.
        gate: per-image weights or booleans [B] (None: 1).

    Returns:
        ``argmax p`` [B, ...] and the weights [B, ...] in [0, 1].
    """
    confidence, labels = prob.max(dim=1)
    if mode == 'threshold':
        if isinstance(threshold, Tensor) and threshold.ndim == 1:
            threshold = threshold.to(prob.device, prob.dtype)[labels]
        weights = (confidence >= threshold).to(prob.dtype)
    else:
        weights = confidence**gamma
    if gate is not None:
        shape = (-1,) + (1,) * (weights.ndim - 1)
        weights = weights * gate.to(weights.dtype).reshape(shape)
    return labels, weights


def confidence_statistics(
    prob: Tensor,
    valid: Tensor,
    mean_confidence: Tensor,
    class_confidence: Tensor,
    momentum: float,
) -> tuple[Tensor, Tensor]:
    """FreeMatch's running confidence of the teacher, overall and per class.

    ``mean_confidence`` follows the mean of ``max p`` over the valid pixels and
    ``class_confidence`` the mean of each class's probability ``p_c``, both as
    exponential moving averages: ``momentum * old + (1 - momentum) * new``.

    Args:
        prob: class probabilities [B, C, H, W].
        valid: [B, H, W] pixels to count.
        mean_confidence: the running mean confidence (a scalar tensor).
        class_confidence: the running mean probability of each class [C].
        momentum: weight of the old value, in [0, 1).

    Returns:
        The updated ``mean_confidence`` and ``class_confidence`` (new tensors;
        unchanged when no pixel is valid).
    """
    weight = valid.to(prob.dtype).unsqueeze(1)
    count = weight.sum()
    if count == 0:
        return mean_confidence.clone(), class_confidence.clone()
    batch_mean = (prob.max(dim=1, keepdim=True).values * weight).sum() / count
    batch_class = (prob * weight).sum(dim=(0, 2, 3)) / count
    new_mean = momentum * mean_confidence + (1 - momentum) * batch_mean
    new_class = momentum * class_confidence + (1 - momentum) * batch_class
    return new_mean.detach(), new_class.detach()


def adaptive_thresholds(
    mean_confidence: Tensor, class_confidence: Tensor, ceiling: float = 1.0
) -> Tensor:
    """FreeMatch's self-adaptive thresholds: one per class.

    ``tau_c = mean_confidence * class_confidence[c] / max(class_confidence)``:
    the global threshold is the teacher's own mean confidence (low while it
    learns, rising as it improves), scaled down for the classes it predicts
    less often, so that rare classes still get pseudo-labels.

    Args:
        mean_confidence: running mean confidence (:func:`confidence_statistics`).
        class_confidence: running mean probability of each class [C].
        ceiling: largest threshold allowed.

    Returns:
        Per-class thresholds [C] in [0, ``ceiling``].
    """
    scale = class_confidence / class_confidence.max().clamp_min(1e-12)
    thresholds: Tensor = (mean_confidence * scale).clamp(0, ceiling)
    return thresholds


def pixel_entropy(prob: Tensor) -> Tensor:
    """Entropy of each pixel's class distribution, ``-sum p log p`` (nats).

    Args:
        prob: [B, C, H, W] probabilities.

    Returns:
        [B, H, W] entropies.
    """
    return -(prob * prob.clamp_min(1e-12).log()).sum(dim=1)


def entropy_drop_share(iteration: int, total: int, start: float = 0.2) -> float:
    """Share of unlabelled pixels the entropy filter drops: ``start`` to 0, linearly.

    Args:
        iteration: the iteration.
        total: iterations of training.
        start: share dropped at the first iteration (U2PL: 20 %).

    Returns:
        The share in [0, start].
    """
    return start * max(0.0, 1.0 - iteration / max(total, 1))


def entropy_filter(prob: Tensor, valid: Tensor, drop: float) -> Tensor:
    """Keep all but the highest-entropy ``drop`` share of the valid pixels.

    As in U2PL (the most uncertain predictions are the least reliable
    pseudo-labels, so they are left out); STAL's released code masks the
    *lowest*-entropy pixels instead, which we do not follow. Exactly
    ``round(drop * valid pixels)`` pixels are dropped (ties broken by position).

    Args:
        prob: [B, C, H, W] probabilities.
        valid: [B, H, W] bool, pixels that can be used at all.
        drop: share of the valid pixels to drop, in [0, 1).

    Returns:
        [B, H, W] bool, the pixels kept (a subset of ``valid``).
    """
    keep = valid.clone()
    n = int(valid.sum())
    k = round(drop * n)
    if k <= 0 or n == 0:
        return keep
    values = pixel_entropy(prob.float())[valid]
    order = torch.argsort(values, stable=True)
    kept = torch.zeros_like(values, dtype=torch.bool)
    kept[order[: n - k]] = True  # the n - k lowest entropies
    keep[valid] = kept
    return keep


def weighted_cross_entropy(
    logits: Tensor, labels: Tensor, weights: Tensor, valid: Tensor
) -> Tensor:
    """Cross-entropy of each pixel times its weight, averaged over valid pixels.

    The mean is over the valid pixels (not only the kept ones), as in UniMatch,
    so the loss shrinks when few pseudo-labels are confident.

    Args:
        logits: [B, C, H, W] student logits (on the strong view).
        labels: [B, H, W] pseudo-labels.
        weights: [B, H, W] weights.
        valid: [B, H, W] bool, pixels inside the image.

    Returns:
        The loss (0 when no pixel is valid).
    """
    per_pixel = F.cross_entropy(logits.float(), labels.long(), reduction='none')
    total = (per_pixel * weights * valid).sum()
    return total / valid.sum().clamp_min(1)


def ramp(iteration: int, warmup: int, rampup: int) -> float:
    """Weight factor of the unsupervised loss: 0 during warm-up, then a linear ramp.

    Args:
        iteration: the iteration.
        warmup: supervised-only iterations.
        rampup: iterations of the linear rise from 0 to 1 after the warm-up.

    Returns:
        The factor in [0, 1].
    """
    if iteration < warmup:
        return 0.0
    if rampup <= 0:
        return 1.0
    return min(1.0, (iteration - warmup + 1) / rampup)
