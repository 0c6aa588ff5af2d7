"""Scores of image classifiers on a split (multi-class and multi-label)."""

from typing import Any

import torch
from torch import Tensor
from torchgeo.datamodules import BaseDataModule
from torchgeo.trainers import ClassificationTask
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_f1_score,
    multiclass_jaccard_index,
    multilabel_average_precision,
    multilabel_f1_score,
)

__all__ = ('classification_scores', 'classification_scores_on_split')


def classification_scores(
    logits: Tensor, labels: Tensor, multilabel: bool, num_classes: int
) -> dict[str, Any]:
    """Accuracy and F1 scores of logits against labels.

    Args:
        logits: ``[N, K]``.
        labels: ``[N]`` classes, or ``[N, K]`` 0/1 for multi-label.
        multilabel: per-label sigmoids (threshold 0.5).
        num_classes: K.

    Returns:
        Multi-class: ``overall_accuracy``, ``average_accuracy``, ``macro_f1``,
        ``miou`` (macro Jaccard), ``per_class_f1``. Multi-label: ``micro_f1``,
        ``macro_f1``, ``mean_average_precision``, ``per_class_f1``. And
        ``items``.
    """
    if multilabel:
        prob, target = logits.sigmoid(), labels.long()
        per_class = multilabel_f1_score(prob, target, num_classes, average='none')
        return {
            'items': len(labels),
            'micro_f1': float(
                multilabel_f1_score(prob, target, num_classes, average='micro')
            ),
            'macro_f1': float(per_class.mean()),
            'mean_average_precision': float(
                multilabel_average_precision(prob, target, num_classes)
            ),
            'per_class_f1': per_class.tolist(),
        }
    prediction, target = logits.argmax(dim=1), labels.long()
    per_class = multiclass_f1_score(prediction, target, num_classes, average='none')
    return {
        'items': len(labels),
        'overall_accuracy': float(
            multiclass_accuracy(prediction, target, num_classes, average='micro')
        ),
        'average_accuracy': float(
            multiclass_accuracy(prediction, target, num_classes, average='macro')
        ),
        'macro_f1': float(per_class.mean()),
        'miou': float(multiclass_jaccard_index(prediction, target, num_classes)),
        'per_class_f1': per_class.tolist(),
    }


@torch.no_grad()
def classification_scores_on_split(
    model: ClassificationTask,
    datamodule: BaseDataModule,
    split: str,
    device: torch.device,
) -> dict[str, Any]:
    """Scores of a classifier on a split, batches as ``trainer.test`` sees them.

    Args:
        model: the task (its ``evaluation_logits`` when it has one: the
            deployed network).
        datamodule: the datamodule (already set up for the split).
        split: ``val`` or ``test``.
        device: where to run.

    Returns:
        See :func:`classification_scores`.
    """
    model.eval().to(device)
    loader = (
        datamodule.val_dataloader() if split == 'val' else datamodule.test_dataloader()
    )
    logits, labels = [], []
    evaluation_logits = getattr(model, 'evaluation_logits', None)
    for batch in loader:
        batch = datamodule.transfer_batch_to_device(batch, device, 0)
        batch = datamodule.on_after_batch_transfer(batch, 0)
        out = evaluation_logits(batch) if evaluation_logits else model(batch['image'])
        logits.append(out.float().cpu())
        labels.append(batch['label'].cpu())
    task = model.hparams['task']
    count = model.hparams['num_classes'] or model.hparams['num_labels']
    return classification_scores(
        torch.cat(logits), torch.cat(labels), task != 'multiclass', int(count)
    )
