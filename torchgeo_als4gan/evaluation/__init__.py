"""Evaluation of segmentation checkpoints: scores, the callback and ``evaluate``."""

from .callback import SegmentationScores
from .scores import segmentation_scores

__all__ = ('SegmentationScores', 'segmentation_scores')
