"""Lightning tasks: the active learner's classifier and the S4GAN segmenter."""

from .active_learner import ActiveLearnerTask
from .s4gan import S4GANTask

__all__ = ('ActiveLearnerTask', 'S4GANTask')
