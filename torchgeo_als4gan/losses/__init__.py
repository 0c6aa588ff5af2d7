"""Loss terms of the semi-supervised trainers."""

from .s4gan import (
    check_mask_values,
    discriminator_loss,
    feature_matching_loss,
    one_hot_mask,
    self_training_loss,
)

__all__ = (
    'check_mask_values',
    'discriminator_loss',
    'feature_matching_loss',
    'one_hot_mask',
    'self_training_loss',
)
