"""Loss terms of the semi-supervised trainers."""

from .image_pseudo_labels import image_pseudo_label_loss, image_pseudo_labels
from .pseudo_labels import (
    adaptive_thresholds,
    confidence_statistics,
    entropy_drop_share,
    entropy_filter,
    pixel_entropy,
    pseudo_labels,
    ramp,
    weighted_cross_entropy,
)
from .s4gan import (
    discriminator_loss,
    feature_matching_loss,
    one_hot_mask,
    self_training_loss,
)

__all__ = (
    'adaptive_thresholds',
    'confidence_statistics',
    'discriminator_loss',
    'entropy_drop_share',
    'entropy_filter',
    'feature_matching_loss',
    'image_pseudo_label_loss',
    'image_pseudo_labels',
    'one_hot_mask',
    'pixel_entropy',
    'pseudo_labels',
    'ramp',
    'self_training_loss',
    'weighted_cross_entropy',
)
