"""Lightning tasks: the active learner's classifier and the semi-supervised segmenters."""

from .active_learner import ActiveLearnerTask
from .context_classifier import ContextClassifierTask
from .context_teacher import ContextTeacherTask
from .hypercolumn import HypercolumnTask
from .s4gan import S4GANTask
from .self_training import SelfTrainingTask
from .semi import SemiSupervisedSegmentationTask
from .speed import TrainingSpeed

__all__ = (
    'ActiveLearnerTask',
    'ContextClassifierTask',
    'ContextTeacherTask',
    'HypercolumnTask',
    'S4GANTask',
    'SelfTrainingTask',
    'SemiSupervisedSegmentationTask',
    'TrainingSpeed',
)
