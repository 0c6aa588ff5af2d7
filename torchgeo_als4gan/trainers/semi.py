"""What every semi-supervised segmentation task of this package shares."""

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from matplotlib.figure import Figure
from torch import Tensor
from torchgeo.datasets import RGBBandsMissingError
from torchgeo.trainers import SemanticSegmentationTask

from ..checks import check_class_indices
from ..datamodules.metadata import datamodule_classes
from ..evaluation import SegmentationScores
from ..models import DeepLabV2, HypercolumnSegmenter
from ..models.pretrained import resolve_weights
from .network import denormalize, is_local_weights, load_network_weights

__all__ = ('FIXED_HPARAMS', 'SemiSupervisedSegmentationTask')

#: Arguments of SemanticSegmentationTask that the semi-supervised tasks fix.
#: LightningCLI saves only the arguments of the class it builds as
#: hyperparameters, so these are added (and dropped again from checkpoints).
FIXED_HPARAMS = {
    'task': 'multiclass',
    'num_labels': None,
    'num_filters': 3,
    'loss': 'ce',
    'patience': 10,
    'freeze_decoder': False,
}


class SemiSupervisedSegmentationTask(SemanticSegmentationTask):
    """Base of the tasks trained on ``{'labeled', 'unlabeled'}`` batches.

    Subclasses implement the training step; this class gives them

    * validation and test as TorchGeo's (loss, metrics) plus the scores of
      :class:`~torchgeo_als4gan.evaluation.SegmentationScores` (``val_miou``,
      per-class IoU, ...), the callback every method of an experiment is
      scored by, and figures of the first validation batches;
    * the best three checkpoints by ``val_miou`` and ``last.ckpt``, unless the
      trainer configures a monitored ``ModelCheckpoint``;
    * per-iteration seeding (:meth:`iteration_rng`), so a resumed run draws
      the same random numbers as an uninterrupted one;
    * checks at the start of training (class count, an empty labelled set, the
      mask values of the first batch, a missing unlabelled loader).
    """

    monitor = 'val_miou'
    mode = 'max'

    #: Whether the task needs unlabelled batches (False: it falls back to the
    #: labelled images with a warning).
    requires_unlabeled = False
    #: Whether the task reads unlabelled batches at all (False: a supervised
    #: task, which is not warned about their absence).
    reads_unlabeled = True

    def _init_semi(self) -> None:
        """State every subclass sets before ``super().__init__``."""
        self.weights_report: Any = None
        self.class_names: tuple[str, ...] | None = None
        self._checked_batches = False

    def _fix_hparams(self) -> None:
        for key, value in FIXED_HPARAMS.items():
            self.hparams.setdefault(key, value)

    def configure_network(self) -> None:
        """Create ``self.model``: a TorchGeo model, ``deeplabv2`` or ``hypercolumn``.

        ``weights`` may be a local ``.pt``/``.pth``/``.ckpt`` file (whole model or
        backbone; the report of loaded and missing keys is kept in
        :attr:`weights_report`), True for ImageNet weights (download), a
        TorchGeo weight enum or its name, ``timm:<name>`` (both from the local
        caches: :func:`resolve_weights`), or None.
        """
        self._fix_hparams()
        given = self.weights
        weights = resolve_weights(given)
        local = is_local_weights(weights)
        name: str = self.hparams['model']
        if name == 'hypercolumn':
            self.model = HypercolumnSegmenter(
                self.hparams['backbone'], self.hparams['in_channels'],
                self.hparams['num_classes'], weights=weights,
            )  # fmt: skip
            self.weights_report = self.model.weights_report
            if self.hparams['freeze_backbone']:
                self.model.backbone.requires_grad_(False)
            return
        if name == 'deeplabv2':
            self.model = DeepLabV2(
                self.hparams['backbone'],
                self.hparams['in_channels'],
                self.hparams['num_classes'],
                pretrained=weights is True,
            )
            if self.hparams['freeze_backbone']:
                self.model.encoder.requires_grad_(False)
        else:
            self.weights = None if local else weights
            super().configure_models()
            self.weights = given
        if local:
            assert isinstance(weights, str | os.PathLike)
            self.weights_report = load_network_weights(self.model, weights)

    def inference_network(self) -> torch.nn.Module:
        """The network that validation, test, prediction and export use.

        Returns:
            ``self.model`` here; tasks with a teacher may return it instead.
        """
        network: torch.nn.Module = self.model
        return network

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Save only the task's own arguments as hyperparameters.

        The fixed arguments of the parent task (:data:`FIXED_HPARAMS`) are not
        arguments of the subclasses: LightningCLI re-applies a checkpoint's
        hyperparameters (``predict``/``test --ckpt_path``) and would refuse them.

        Args:
            checkpoint: the checkpoint being saved.
        """
        hparams = checkpoint.get('hyper_parameters')
        if isinstance(hparams, dict):
            for key in FIXED_HPARAMS:
                hparams.pop(key, None)

    def configure_callbacks(self) -> list[Callback]:
        """Scores on val/test; the best checkpoints by ``val_miou`` and the last.

        A ``ModelCheckpoint`` with a monitor in the trainer configuration is kept
        instead of ours, and no checkpoint callback is added when checkpointing is
        disabled.

        Returns:
            The callbacks.
        """
        callbacks: list[Callback] = [SegmentationScores()]
        trainer = self._trainer
        existing = trainer.checkpoint_callbacks if trainer is not None else []
        if existing and not any(getattr(cb, 'monitor', None) for cb in existing):
            callbacks.append(
                ModelCheckpoint(
                    monitor=self.monitor,
                    mode=self.mode,
                    save_top_k=3,
                    save_last=True,
                    filename='{epoch}-{step}-{val_miou:.4f}',
                    auto_insert_metric_name=False,
                )
            )
        return callbacks

    @property
    def iteration(self) -> int:
        """Training iterations done (restored on resume with the schedulers)."""
        if self._trainer is None:
            return 0
        schedulers = self.lr_schedulers()
        if isinstance(schedulers, list):
            return int(schedulers[0].last_epoch)
        if schedulers is not None:
            return int(schedulers.last_epoch)
        return 0

    @contextmanager
    def iteration_rng(self, iteration: int) -> Iterator[None]:
        """Seed torch's RNG for one iteration, restoring the global state after.

        Args:
            iteration: the iteration.

        Yields:
            Nothing; draws inside are seeded by seed, iteration and rank.
        """
        rank = self.global_rank if self._trainer is not None else 0
        state = np.random.SeedSequence([self.hparams['seed'], iteration, rank])
        devices = [self.device] if self.device.type == 'cuda' else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(int(state.generate_state(1)[0]))
            yield

    def on_fit_start(self) -> None:
        """Check the datamodule's classes against ``num_classes``.

        Raises:
            ValueError: If the class count differs or the labelled set is empty.
        """
        datamodule = getattr(self.trainer, 'datamodule', None)
        classes = datamodule_classes(datamodule)
        n: int = self.hparams['num_classes']
        if classes is not None and len(classes) != n:
            msg = (
                f'num_classes is {n} but the datamodule has {len(classes)} classes'
                f' {list(classes)}: set model num_classes to {len(classes)}'
            )
            raise ValueError(msg)
        labeled = getattr(datamodule, 'labeled_dataset', None)
        if labeled is not None and len(labeled) == 0:
            msg = (
                f'The labelled set is empty: {type(self).__name__} needs at least one'
                ' labelled image'
            )
            raise ValueError(msg)
        if self.requires_unlabeled and getattr(datamodule, 'unlabeled', True) is False:
            msg = (
                f'{type(self).__name__} learns from unlabelled images, but the'
                ' datamodule has unlabeled: false; set'
                ' --data.init_args.unlabeled=true'
            )
            raise ValueError(msg)
        self.class_names = classes

    def split_batch(
        self, batch: Any
    ) -> tuple[dict[str, Tensor], dict[str, Tensor] | None]:
        """The labelled and unlabelled parts of a training batch, checked once.

        Args:
            batch: ``{'labeled': ..., 'unlabeled': ...}`` or a labelled batch.

        Returns:
            The labelled batch and the unlabelled one (None when absent).

        Raises:
            ValueError: If the labelled batch is empty, a mask value is not a
                class, or the unlabelled batch is missing for a task that needs
                it (checked on the first batch).
        """
        labeled = batch['labeled'] if 'labeled' in batch else batch
        unlabeled = batch.get('unlabeled') if 'labeled' in batch else None
        if labeled['image'].shape[0] == 0:
            msg = f'The labelled batch is empty: {type(self).__name__} needs labelled images'
            raise ValueError(msg)
        if not self._checked_batches:
            check_class_indices(
                labeled['mask'].long(),
                self.hparams['num_classes'],
                self.hparams['ignore_index'],
            )
            if unlabeled is None and self.reads_unlabeled:
                if self.requires_unlabeled:
                    msg = (
                        f'{type(self).__name__} got no unlabelled batch: the datamodule'
                        ' must yield {"labeled", "unlabeled"} batches (unlabeled: true)'
                    )
                    raise ValueError(msg)
                warnings.warn(
                    f'{type(self).__name__} got no unlabelled batch: the labelled'
                    ' images are used as unlabelled ones (set the datamodule'
                    ' unlabeled: true)',
                    stacklevel=2,
                )
            self._checked_batches = True
        return labeled, unlabeled

    def evaluation_logits(self, batch: dict[str, Tensor]) -> Tensor:
        """Logits of the evaluated network on a val / test batch.

        Args:
            batch: the batch (``image``; tasks may read more of it).

        Returns:
            The logits.
        """
        logits: Tensor = self(batch['image'])
        return logits

    def _evaluation_step(self, batch: Any, stage: Literal['val', 'test']) -> Tensor:
        x, y = batch['image'], batch['mask'].long()
        logits = self.evaluation_logits(batch)
        metrics = self.val_metrics if stage == 'val' else self.test_metrics
        metrics(logits, y)
        self.log_dict(metrics, batch_size=x.shape[0])
        self.log(f'{stage}_loss', self.criterion(logits, y), batch_size=x.shape[0])
        return logits

    def validation_step(  # type: ignore[override]
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Validation loss and metrics, and figures of the first batches.

        Args:
            batch: the batch.
            batch_idx: batch index.
            dataloader_idx: loader index.

        Returns:
            The logits (scored by :class:`SegmentationScores`).
        """
        logits = self._evaluation_step(batch, 'val')
        experiment = getattr(self.logger, 'experiment', None)
        if batch_idx < self.hparams['plot_batches'] and hasattr(
            experiment, 'add_figure'
        ):
            figure = self.validation_figure(batch, logits)
            if figure is not None:
                assert experiment is not None
                experiment.add_figure(f'image/{batch_idx}', figure, self.global_step)
                plt.close(figure)
        return logits

    def test_step(  # type: ignore[override]
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Test loss and metrics.

        Args:
            batch: the batch.
            batch_idx: batch index.
            dataloader_idx: loader index.

        Returns:
            The logits (scored by :class:`SegmentationScores`).
        """
        return self._evaluation_step(batch, 'test')

    def figure_title(self, batch: dict[str, Tensor], logits: Tensor) -> str | None:
        """Title of a validation figure (e.g. a discriminator's score).

        Args:
            batch: the normalized validation batch.
            logits: the logits on it.

        Returns:
            The title, or None.
        """
        return None

    @torch.no_grad()
    def validation_figure(
        self, batch: dict[str, Tensor], logits: Tensor
    ) -> Figure | None:
        """Image, ground truth and prediction of the first sample.

        Args:
            batch: a normalized validation batch.
            logits: the logits on it.

        Returns:
            The figure, or None when the datamodule cannot plot.
        """
        datamodule = getattr(self.trainer, 'datamodule', None)
        if datamodule is None or not hasattr(datamodule, 'plot'):
            return None
        sample = {
            'image': denormalize(batch['image'][:1].float(), datamodule)[0].cpu(),
            'mask': batch['mask'][0].cpu(),
            'prediction': logits[0].argmax(dim=0).cpu(),
        }
        try:
            figure: Figure | None = datamodule.plot(sample)
        except RGBBandsMissingError:
            return None
        title = self.figure_title(batch, logits)
        if figure is not None and title:
            figure.suptitle(title)
        return figure
