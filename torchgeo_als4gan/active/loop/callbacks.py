"""Warm start of a round from the previous round's chosen checkpoint."""

import os
from typing import Any

from lightning import Callback, LightningModule, Trainer

from ...models.weights import read_state_dict

__all__ = ('InitialWeights',)


class InitialWeights(Callback):
    """Load a whole task's weights (teacher, discriminator included) before fitting.

    Unlike ``ckpt_path`` this restores no optimizer, step or schedule: the fit
    starts at iteration 0 from these weights (``warm_start: true`` of
    ``als4gan loop``).
    """

    def __init__(self, checkpoint: str) -> None:
        """Initialize a new InitialWeights.

        Args:
            checkpoint: a Lightning checkpoint (or state dict file) of the same task.
        """
        super().__init__()
        self.checkpoint = os.fspath(checkpoint)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Load the weights (every key must match).

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        state: dict[str, Any] = read_state_dict(self.checkpoint)
        pl_module.load_state_dict(state, strict=True)
