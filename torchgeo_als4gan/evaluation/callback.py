"""Validation and test scores of any segmentation task, from one confusion matrix."""

from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor

from ..datamodules.metadata import datamodule_classes
from .confusion import batch_confusion
from .scores import segmentation_scores

__all__ = ('SegmentationScores',)

#: Scores logged per stage, besides ``<stage>_iou/<class>``.
LOGGED = ('miou', 'pixel_accuracy', 'mean_accuracy', 'fw_iou')


class SegmentationScores(Callback):
    """Log ``val_miou`` (and per-class IoU, accuracies) for any segmentation task.

    The scores come from a confusion matrix over the whole split, by
    :func:`~torchgeo_als4gan.evaluation.segmentation_scores`: mIoU over the
    classes present in the ground truth or the prediction, per-class IoU, pixel
    accuracy, mean accuracy and frequency-weighted IoU, logged as
    ``<stage>_miou``, ``<stage>_iou/<class>``, ... for ``val`` and ``test``. The
    confusion matrix is summed over processes (DDP).

    The same code scores TorchGeo's ``SemanticSegmentationTask`` (add this
    callback; it runs the model's forward on each batch) and this package's
    tasks (they add it themselves and return their logits from
    ``validation_step``/``test_step``, so nothing is computed twice), which is
    what lets ``als4gan experiment`` choose every method's checkpoint by one
    ``ModelCheckpoint(monitor='val_miou')``.
    """

    def __init__(self) -> None:
        """Initialize a new SegmentationScores callback."""
        self.confusion: Tensor | None = None
        self.classes: list[str] = []
        self.ignore_index: int | None = None

    def _start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        num_classes = int(pl_module.hparams['num_classes'])
        self.ignore_index = pl_module.hparams.get('ignore_index')
        self.confusion = torch.zeros(
            num_classes, num_classes, dtype=torch.long, device=pl_module.device
        )
        names = datamodule_classes(getattr(trainer, 'datamodule', None))
        self.classes = (
            list(names)
            if names and len(names) == num_classes
            else [str(i) for i in range(num_classes)]
        )

    def _update(self, pl_module: pl.LightningModule, outputs: Any, batch: Any) -> None:
        assert self.confusion is not None
        logits = outputs if isinstance(outputs, Tensor) else None
        if logits is None:
            with torch.no_grad():
                logits = pl_module(batch['image'])
        self.confusion += batch_confusion(
            logits.detach().argmax(dim=1), batch['mask'], len(self.classes),
            self.ignore_index,
        )  # fmt: skip

    def _log(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str
    ) -> None:
        assert self.confusion is not None
        total = trainer.strategy.reduce(self.confusion, reduce_op='sum')
        self.confusion = None
        scores = segmentation_scores(total, self.classes)
        values = {f'{stage}_{k}': scores[k] for k in LOGGED}
        per_class = scores['per_class_iou']
        assert isinstance(per_class, dict)
        values.update(
            {f'{stage}_iou/{k}': v for k, v in per_class.items() if v is not None}
        )
        # equal on every process (the confusion matrix is synced): the mean is a no-op
        pl_module.log_dict(values, sync_dist=True)  # type: ignore[arg-type]

    def on_validation_epoch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule
    ) -> None:
        """Start a confusion matrix (also at the start of testing).

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        self._start(trainer, pl_module)

    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Add a batch to the confusion matrix (validation and test).

        Args:
            trainer: the trainer.
            pl_module: the task.
            outputs: the task's logits, or anything else (then it is run).
            batch: the batch.
            batch_idx: its index.
            dataloader_idx: the loader.
        """
        self._update(pl_module, outputs, batch)

    def on_validation_epoch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule
    ) -> None:
        """Log the scores.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        if not trainer.sanity_checking:
            self._log(trainer, pl_module, 'val')
        else:
            self.confusion = None

    # test batches are scored exactly like validation batches
    on_test_epoch_start = on_validation_epoch_start
    on_test_batch_end = on_validation_batch_end

    def on_test_epoch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule
    ) -> None:
        """Log the scores.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        self._log(trainer, pl_module, 'test')
