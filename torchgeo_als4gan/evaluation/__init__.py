"""Evaluation of segmentation checkpoints: scores and the ``evaluate`` command."""

from .scores import segmentation_scores

__all__ = ('segmentation_scores',)
