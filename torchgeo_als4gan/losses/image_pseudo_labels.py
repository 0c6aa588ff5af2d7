"""Image-level pseudo-labels (multi-class and multi-label) and their loss.

FixMatch's rule for one class per image; for multi-label images, the cut-offs
of Bernhard et al. (ECAI 2024): a label is a pseudo-positive when its
probability reaches ``positive`` (0.7), a pseudo-negative at or below
``negative`` (0.05), and ignored in between.
"""

import torch
from torch import Tensor
from torch.nn import functional as F

from .pseudo_labels import pseudo_labels

__all__ = ('image_pseudo_label_loss', 'image_pseudo_labels')


def image_pseudo_labels(
    prob: Tensor,
    multilabel: bool,
    threshold: float = 0.95,
    negative: float = 0.05,
    positive: float = 0.7,
) -> tuple[Tensor, Tensor]:
    """Pseudo-labels of a teacher's probabilities and the weight of each.

    Args:
        prob: ``[B, K]`` softmax (multi-class) or per-label sigmoid
            (multi-label) probabilities of the weak view.
        multilabel: per-label probabilities.
        threshold: confidence an image needs (multi-class).
        negative: largest probability of a pseudo-negative (multi-label).
        positive: smallest probability of a pseudo-positive (multi-label).

    Returns:
        Multi-class: ``argmax p`` ``[B]`` and weights ``[B]`` (1 where
        ``max p >= threshold``: :func:`pseudo_labels` on 1 x 1 images). Multi-label: 0/1 targets ``[B, K]`` and
        weights ``[B, K]`` (1 for pseudo-positives and pseudo-negatives).

    Raises:
        ValueError: If ``0 <= negative < positive <= 1`` does not hold.
    """
    if not 0 <= negative < positive <= 1:
        msg = f'need 0 <= negative < positive <= 1, got {negative} and {positive}'
        raise ValueError(msg)
    if multilabel:
        positives = prob >= positive
        weights = (positives | (prob <= negative)).to(prob.dtype)
        return positives.to(prob.dtype), weights
    return pseudo_labels(prob, 'threshold', threshold)


def image_pseudo_label_loss(
    logits: Tensor, targets: Tensor, weights: Tensor, multilabel: bool
) -> Tensor:
    """Weighted cross-entropy (or binary cross-entropy) on pseudo-labels.

    Averaged over all images (all image-label pairs for multi-label), kept or
    not, as in FixMatch: the term shrinks when few pseudo-labels are confident.

    Args:
        logits: ``[B, K]`` logits of the strong view.
        targets: from :func:`image_pseudo_labels`.
        weights: from :func:`image_pseudo_labels`.
        multilabel: per-label targets.

    Returns:
        The loss (0 for an empty batch).
    """
    if logits.numel() == 0:
        return logits.sum()
    if multilabel:
        per_item = F.binary_cross_entropy_with_logits(
            logits.float(), targets.float(), reduction='none'
        )
    else:
        per_item = F.cross_entropy(logits.float(), targets.long(), reduction='none')
    return torch.mean(per_item * weights)
