"""Kornia batch augmentations applied on the device."""

from .augmentation import SegmentationAugmentation

__all__ = ('SegmentationAugmentation',)
