"""A teacher whose probabilities are temperature-scaled before they become pseudo-labels.

Guo et al. (ICML 2017): a network trained with cross-entropy is over-confident,
so a fixed confidence threshold such as 0.95 keeps pixels that are right far
less than 95 % of the time. Under ``calibrate_teacher`` the teacher's logits
are divided by one temperature fitted on the validation pixels
(:class:`~torchgeo_als4gan.evaluation.calibration.TemperatureCalibration`)
before the softmax that thresholds and weights read.
"""

from typing import Any

from lightning.pytorch.callbacks import Callback
from torch import Tensor, nn

from ..evaluation.calibration import TemperatureCalibration

__all__ = ('CalibratedTeacher',)


class CalibratedTeacher(nn.Module):
    """The teacher's calibrated probabilities (a mixin before the LightningModule).

    The task registers the buffer ``teacher_temperature`` (1.0) in
    ``configure_models`` when ``hparams['calibrate_teacher']`` is true.
    """

    hparams: Any
    _trainer: Any

    def teacher_probabilities(self, logits: Tensor) -> Tensor:
        """The teacher's class probabilities, in fp32, calibrated when asked.

        Args:
            logits: the teacher's logits [B, K, H, W].

        Returns:
            ``softmax(logits / T)`` with ``T`` the fitted temperature under
            ``calibrate_teacher``, else ``softmax(logits)``.
        """
        logits = logits.float()
        if self.hparams.get('calibrate_teacher', False):
            logits = logits / self.get_buffer('teacher_temperature')
        return logits.softmax(dim=1)

    def on_temperature_fitted(self, temperature: float) -> None:
        """Keep a temperature fitted on val for the teacher's pseudo-labels.

        Called by :class:`~torchgeo_als4gan.evaluation.calibration.TemperatureCalibration`
        after every validation; ignored without ``calibrate_teacher``.

        Args:
            temperature: the fitted temperature (> 0).
        """
        if self.hparams.get('calibrate_teacher', False):
            self.get_buffer('teacher_temperature').fill_(float(temperature))

    def configure_callbacks(self) -> list[Callback]:
        """The shared callbacks, and a temperature fit under ``calibrate_teacher``.

        A :class:`TemperatureCalibration` already in the trainer is kept (and
        feeds the teacher); otherwise one with the task's ``ignore_index`` and
        ``seed`` is added.

        Returns:
            The callbacks.
        """
        callbacks: list[Callback] = super().configure_callbacks()  # type: ignore[misc]
        present = any(
            isinstance(cb, TemperatureCalibration)
            for cb in getattr(self._trainer, 'callbacks', [])
        )
        if self.hparams.get('calibrate_teacher', False) and not present:
            callbacks.append(
                TemperatureCalibration(
                    ignore_index=self.hparams['ignore_index'], seed=self.hparams['seed']
                )
            )
        return callbacks
