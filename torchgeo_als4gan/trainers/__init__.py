"""Lightning tasks: the active learner's classifier and the semi-supervised segmenters."""

from .active_learner import ActiveLearnerTask
from .s4gan import S4GANTask
from .semi import SemiSupervisedSegmentationTask

__all__ = ('ActiveLearnerTask', 'S4GANTask', 'SemiSupervisedSegmentationTask')
