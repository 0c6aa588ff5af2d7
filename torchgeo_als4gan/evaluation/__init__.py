"""Scores of segmentation runs: confusion matrices, mIoU, intervals, checkpoints."""

from .callback import SegmentationScores
from .checkpoints import evaluate_checkpoints
from .confusion import confusion_on_split, item_confusions
from .scores import segmentation_scores

__all__ = (
    'SegmentationScores',
    'confusion_on_split',
    'evaluate_checkpoints',
    'item_confusions',
    'segmentation_scores',
)
