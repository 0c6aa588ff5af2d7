"""Scores of segmentation runs: confusion matrices, mIoU, intervals, checkpoints."""

from .calibration import TemperatureCalibration
from .callback import SegmentationScores
from .checkpoints import evaluate_checkpoints
from .confusion import confusion_on_split, item_confusions
from .scores import segmentation_scores

__all__ = (
    'SegmentationScores',
    'TemperatureCalibration',
    'confusion_on_split',
    'evaluate_checkpoints',
    'item_confusions',
    'segmentation_scores',
)
