"""Temperature scaling (Guo et al., ICML 2017) of a segmenter, fitted on val pixels.

Uncertainty scores and confidence thresholds read softmax outputs; a network
trained with cross-entropy is usually over-confident, so "0.95" does not mean
95 % of such pixels are right. One temperature ``T`` (logits / T) fitted by
minimising the negative log-likelihood on held-out labelled pixels fixes the
scale without changing any prediction's class. :class:`TemperatureCalibration`
fits it on each validation epoch's pixels and stores it in the checkpoint
(``checkpoint['calibration']``), which ``predict-raster`` reads.
"""

import json
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from lightning import Callback, LightningModule, Trainer
from torch import Tensor

from ..checks import read_checkpoint
from ..files import atomic_write

__all__ = (
    'CALIBRATION_KEY',
    'TemperatureCalibration',
    'checkpoint_temperature',
    'expected_calibration_error',
    'fit_temperature',
    'label_calibration_error',
    'read_temperature',
    'temperature_interval',
)

#: Key of the calibration in a checkpoint dict.
CALIBRATION_KEY = 'calibration'


def _check_fit_inputs(logits: Tensor, labels: Tensor, multilabel: bool) -> None:
    """Refuse logits and labels a temperature cannot be fitted on."""
    shape = logits.shape if multilabel else logits.shape[:1]
    if logits.ndim != 2 or labels.shape != shape or not len(labels):
        want = '[N, C] targets' if multilabel else '[N] labels'
        msg = (
            f'fit_temperature needs [N, C] logits and {want} with N > 0, got'
            f' {tuple(logits.shape)} and {tuple(labels.shape)}'
        )
        raise ValueError(msg)


def fit_temperature(
    logits: Tensor, labels: Tensor, max_iter: int = 100, multilabel: bool = False
) -> float:
    """The temperature that minimises the NLL of ``softmax(logits / T)``.

    Args:
        logits: [N, C] logits of labelled pixels (or items).
        labels: [N] their classes; with ``multilabel``, [N, C] 0/1 targets.
        max_iter: LBFGS iterations.
        multilabel: per-label sigmoids (binary cross-entropy) instead of a
            softmax: one temperature for every label.

    Returns:
        T > 0 (1: already calibrated; above 1: the network was over-confident).

    Raises:
        ValueError: If there are no pixels or the shapes disagree.
    """
    _check_fit_inputs(logits, labels, multilabel)
    with torch.inference_mode(False), torch.enable_grad():
        x = logits.detach().float().clone()
        y = labels.detach().clone()
        y = y.float() if multilabel else y.long()
        log_t = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.LBFGS(
            [log_t], lr=0.5, max_iter=max_iter, line_search_fn='strong_wolfe'
        )
        nll = F.binary_cross_entropy_with_logits if multilabel else F.cross_entropy

        def closure() -> Tensor:
            optimizer.zero_grad()
            loss = nll(x / log_t.exp(), y)
            loss.backward()  # type: ignore[no-untyped-call]
            return loss

        optimizer.step(closure)  # type: ignore[no-untyped-call]
        return min(max(float(log_t.detach().exp()), 1e-2), 1e2)


def temperature_interval(
    logits: Tensor,
    labels: Tensor,
    multilabel: bool = False,
    samples: int = 50,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """How far the fitted temperature moves over a bootstrap of its items.

    One temperature fitted on a few dozen val items is loose; resampling the
    items with replacement and fitting again (:func:`fit_temperature`) shows
    by how much, so a caller can say so instead of trusting one number.

    Args:
        logits: [N, C] logits of the labelled items (or pixels).
        labels: [N] classes, or [N, C] 0/1 targets with ``multilabel``.
        multilabel: per-label sigmoids.
        samples: bootstrap resamples.
        seed: seed of the resampling.
        level: coverage of the percentile interval.

    Returns:
        The interval's low and high temperature.

    Raises:
        ValueError: If ``samples`` < 2 or ``level`` is not in (0, 1), or as
            :func:`fit_temperature`.
    """
    if samples < 2 or not 0 < level < 1:
        msg = f'temperature_interval needs samples >= 2 and 0 < level < 1, got {samples} and {level}'
        raise ValueError(msg)
    _check_fit_inputs(logits, labels, multilabel)
    g = torch.Generator().manual_seed(seed)
    fits = []
    for _ in range(samples):
        rows = torch.randint(len(labels), (len(labels),), generator=g)
        fits.append(fit_temperature(logits[rows], labels[rows], multilabel=multilabel))
    low, high = torch.tensor(fits).quantile(torch.tensor([1 - level, 1 + level]) / 2)
    return float(low), float(high)


def label_calibration_error(probs: Tensor, targets: Tensor, bins: int = 15) -> float:
    """The expected calibration error of multi-label predictions.

    Every (item, label) pair is one binary prediction: its confidence is
    ``max(p, 1 - p)`` and it is right when ``p > 0.5`` matches the target.

    Args:
        probs: [N, C] per-label probabilities.
        targets: [N, C] 0/1 targets.
        bins: equal-width confidence bins.

    Returns:
        The ECE of the binary predictions (0: calibrated).
    """
    p = probs.float().reshape(-1)
    return expected_calibration_error(
        torch.stack([1 - p, p], dim=1), targets.reshape(-1).long(), bins
    )


def expected_calibration_error(probs: Tensor, labels: Tensor, bins: int = 15) -> float:
    """The expected calibration error of the top-class confidence.

    Args:
        probs: [N, C] class probabilities.
        labels: [N] true classes.
        bins: equal-width confidence bins on [0, 1].

    Returns:
        ``sum_b |accuracy_b - confidence_b| * n_b / N`` (0: calibrated).
    """
    confidence, predicted = probs.float().max(dim=1)
    correct = (predicted == labels).float()
    which = (confidence * bins).long().clamp(max=bins - 1)
    conf = torch.zeros(bins).index_add_(0, which.cpu(), confidence.cpu())
    acc = torch.zeros(bins).index_add_(0, which.cpu(), correct.cpu())
    return float((conf - acc).abs().sum() / max(len(labels), 1))


def read_temperature(checkpoint: dict[str, Any]) -> float:
    """The temperature stored in a loaded checkpoint (1.0 when none was fitted).

    Args:
        checkpoint: the loaded checkpoint dict.

    Returns:
        T.
    """
    stored = checkpoint.get(CALIBRATION_KEY)
    if isinstance(stored, dict) and isinstance(stored.get('temperature'), float):
        return float(stored['temperature'])
    return 1.0


def checkpoint_temperature(path: str | os.PathLike[str]) -> float:
    """The temperature stored in a checkpoint file (1.0 when none was fitted).

    Args:
        path: the ``.ckpt`` file.

    Returns:
        T.
    """
    return read_temperature(read_checkpoint(Path(path), 'checkpoint'))


class TemperatureCalibration(Callback):
    """Fit one temperature on every validation epoch's labelled pixels.

    The pixels of up to ``max_batches`` validation batches (at most
    ``pixels_per_batch`` each, a seeded draw, ``ignore_index`` left out) go
    through the task's forward (the network it is validated and deployed
    with: the teacher of self-training), and :func:`fit_temperature` is run at
    the end of the epoch. The temperature and the ECE before and after are
    logged (``val_temperature``, ``val_ece``, ``val_ece_calibrated``), written to
    ``calibration.json`` in the trainer's log folder at the end of fit, and
    stored in every checkpoint saved afterwards, so the checkpoint a run keeps
    carries the temperature fitted on the validation that chose it. A task with
    an ``on_temperature_fitted(temperature)`` method is handed each fit
    (:class:`~torchgeo_als4gan.trainers.SelfTrainingTask` with
    ``calibrate_teacher``: the teacher's pseudo-labels read it).
    """

    def __init__(
        self,
        max_batches: int = 50,
        pixels_per_batch: int = 4096,
        ignore_index: int | None = 255,
        bins: int = 15,
        seed: int = 0,
    ) -> None:
        """Initialize the callback.

        Args:
            max_batches: validation batches read per epoch.
            pixels_per_batch: labelled pixels drawn from each.
            ignore_index: mask value of unlabelled pixels.
            bins: ECE bins.
            seed: seed of the pixel draws.

        Raises:
            ValueError: If a count is not a positive integer.
        """
        super().__init__()
        for name, value in (
            ('max_batches', max_batches), ('pixels_per_batch', pixels_per_batch),
            ('bins', bins),
        ):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                msg = f'{name} must be a positive integer, got {value!r}'
                raise ValueError(msg)
        self.max_batches, self.pixels_per_batch = max_batches, pixels_per_batch
        self.ignore_index, self.bins, self.seed = ignore_index, bins, seed
        self.logits: list[Tensor] = []
        self.labels: list[Tensor] = []
        self.result: dict[str, float] | None = None

    def on_validation_epoch_start(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        """Start gathering.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        self.logits, self.labels = [], []

    def on_validation_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Keep a seeded draw of the batch's labelled pixels and their logits.

        Args:
            trainer: the trainer.
            pl_module: the task.
            outputs: the step's outputs (unused).
            batch: the validation batch (``image``, ``mask``).
            batch_idx: its index.
            dataloader_idx: its loader.
        """
        if trainer.sanity_checking or batch_idx >= self.max_batches:
            return
        if not isinstance(batch, dict) or 'mask' not in batch:
            return
        logits = pl_module(batch['image']).float()
        mask = batch['mask'].long()
        if mask.ndim == 4:
            mask = mask[:, 0]
        flat = logits.permute(0, 2, 3, 1).reshape(-1, logits.shape[1])
        labels = mask.reshape(-1)
        keep = labels != self.ignore_index if self.ignore_index is not None else None
        index = torch.arange(len(labels), device=labels.device)
        if keep is not None:
            index = index[keep]
        generator = torch.Generator().manual_seed(self.seed + batch_idx)
        if len(index) > self.pixels_per_batch:
            pick = torch.randperm(len(index), generator=generator)[
                : self.pixels_per_batch
            ]
            index = index[pick.to(index.device)]
        self.logits.append(flat[index].cpu())
        self.labels.append(labels[index].cpu())

    def on_validation_epoch_end(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        """Fit the temperature and log it with the ECE before and after.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        if trainer.sanity_checking or not self.logits:
            return
        logits, labels = torch.cat(self.logits), torch.cat(self.labels)
        self.logits, self.labels = [], []
        if not len(labels):
            return
        temperature = fit_temperature(logits, labels)
        before = expected_calibration_error(logits.softmax(dim=1), labels, self.bins)
        after = expected_calibration_error(
            (logits / temperature).softmax(dim=1), labels, self.bins
        )
        self.result = {
            'temperature': temperature, 'ece': before, 'ece_calibrated': after,
            'pixels': float(len(labels)),
        }  # fmt: skip
        hook = getattr(pl_module, 'on_temperature_fitted', None)
        if callable(hook):  # a self-training teacher's calibrated pseudo-labels
            hook(temperature)
        pl_module.log('val_temperature', temperature)
        pl_module.log('val_ece', before)
        pl_module.log('val_ece_calibrated', after)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Make every checkpoint of the task carry the latest fit.

        Callbacks' own save hooks are skipped for weights-only checkpoints (the
        experiment runner keeps those), the task's hook is not: it is wrapped
        for the run and restored at teardown.

        Args:
            trainer: the trainer.
            pl_module: the task.
            stage: the stage.
        """
        if '_calibration_hook' in vars(self):
            return
        original = pl_module.on_save_checkpoint

        def on_save_checkpoint(checkpoint: dict[str, Any]) -> None:
            original(checkpoint)
            if self.result is not None:
                checkpoint[CALIBRATION_KEY] = dict(self.result)

        self._calibration_hook = (pl_module, original)
        pl_module.on_save_checkpoint = on_save_checkpoint  # type: ignore[method-assign]

    def teardown(
        self, trainer: Trainer, pl_module: LightningModule, stage: str
    ) -> None:
        """Give the task its own save hook back.

        Args:
            trainer: the trainer.
            pl_module: the task.
            stage: the stage.
        """
        hooked = vars(self).pop('_calibration_hook', None)
        if hooked is not None:
            module, _ = hooked
            del module.on_save_checkpoint  # the instance attribute: the method again

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Write ``calibration.json`` next to the run's logs.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        if self.result is None or not trainer.is_global_zero:
            return
        folder = Path(trainer.log_dir or trainer.default_root_dir)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(folder / 'calibration.json') as tmp:
            tmp.write_text(json.dumps(self.result, indent=1))
