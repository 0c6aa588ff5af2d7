"""Kornia batch augmentations applied on the device: weak (geometric) and strong views."""

from .augmentation import SegmentationAugmentation
from .strong import CutMixBoxes, StrongAugmentation, apply_cutmix, cutmix_boxes

__all__ = (
    'CutMixBoxes',
    'SegmentationAugmentation',
    'StrongAugmentation',
    'apply_cutmix',
    'cutmix_boxes',
)
