"""The S4GAN loss terms as small pure functions."""

import torch
from torch import Tensor
from torch.nn import functional as F

from .pseudo_labels import pseudo_labels

__all__ = (
    'discriminator_loss',
    'feature_matching_loss',
    'one_hot_mask',
    'self_training_loss',
)


def one_hot_mask(mask: Tensor, num_classes: int) -> Tensor:
    """One-hot encode a mask as the discriminator's "real" probability map.

    Pixels whose value is not a class index (the ignore index) become all-zero
    vectors. Built by comparison, so it never synchronizes with the device; use
    :func:`~torchgeo_als4gan.checks.check_class_indices` to validate masks.

    Args:
        mask: class indices [B, H, W].
        num_classes: number of classes.

    Returns:
        Float one-hot maps [B, num_classes, H, W].
    """
    classes = torch.arange(num_classes, device=mask.device).view(1, -1, 1, 1)
    return (mask.long().unsqueeze(1) == classes).float()


def feature_matching_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Mean absolute difference of the batch-mean discriminator features.

    Args:
        real: features of real (image, ground truth) pairs [B, D].
        fake: features of (image, prediction) pairs [B', D].

    Returns:
        Scalar ``mean_d |mean_b real - mean_b fake|``.
    """
    return (real.mean(dim=0) - fake.mean(dim=0)).abs().mean()


def self_training_loss(
    logits: Tensor, scores: Tensor, threshold: float
) -> tuple[Tensor, Tensor]:
    """Cross-entropy on the images the discriminator trusts, with their argmax.

    Images whose score exceeds ``threshold`` get their own argmax prediction as a
    pseudo-label. The loss equals plain cross-entropy over the pixels of the
    selected images, and is zero (still part of the graph) when none is
    selected. Everything stays on the device: no per-image host round trip.

    Args:
        logits: generator logits on unlabelled images [B, C, H, W].
        scores: discriminator scores in [0, 1] [B] (no gradient is taken).
        threshold: score an image must exceed.

    Returns:
        The loss and the fraction of selected images.
    """
    trusted = scores.detach() > threshold
    # every pixel of a trusted image: pseudo_labels at threshold 0, gated
    pseudo, weights = pseudo_labels(
        logits.detach().softmax(dim=1), 'threshold', 0.0, gate=trusted
    )
    per_pixel = F.cross_entropy(logits, pseudo, reduction='none') * weights
    count = trusted.sum().to(per_pixel.dtype)
    loss = per_pixel.flatten(1).mean(1).sum() / count.clamp_min(1)
    return loss, count / max(scores.numel(), 1)


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Half the binary cross-entropy of real pairs as 1 and fake pairs as 0.

    Args:
        real_logits: discriminator logits of real pairs [B].
        fake_logits: discriminator logits of fake pairs (detached from G) [B'].

    Returns:
        Scalar loss.
    """
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(
        fake_logits, torch.zeros_like(fake_logits)
    )
    return (real + fake) / 2
