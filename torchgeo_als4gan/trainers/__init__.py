"""Lightning tasks: the active learner's classifier (and, later, S4GAN)."""

from .active_learner import ActiveLearnerTask

__all__ = ('ActiveLearnerTask',)
