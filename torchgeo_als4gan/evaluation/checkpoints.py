"""Score a folder's checkpoints on a split and choose the best."""

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torchgeo.datamodules import BaseDataModule
from torchgeo.trainers import BaseTask, ClassificationTask

from ..checks import check_pixel_range
from ..datamodules.metadata import (
    checkpoint_metadata,
    datamodule_classes,
    training_pixel_range,
)
from ..models.weights import load_torch_file, state_dict_of
from .classification import classification_scores_on_split
from .confusion import confusion_on_split
from .scores import segmentation_scores

__all__ = ('evaluate_checkpoints',)


def evaluate_checkpoints(
    model: BaseTask,
    datamodule: BaseDataModule,
    checkpoints: Sequence[Path],
    split: str = 'val',
    device: torch.device | None = None,
    allow_range: bool = False,
) -> dict[str, Any]:
    """Score each checkpoint with the config's model and data.

    Args:
        model: the task built from the config (weights replaced per checkpoint).
        datamodule: the datamodule.
        checkpoints: Lightning ``.ckpt`` files.
        split: ``val`` or ``test``.
        device: where to run (default CPU).
        allow_range: warn instead of refusing data whose type or value range
            differs from the checkpoint's training imagery.

    Returns:
        ``split``, ``classes``, one entry of scores per checkpoint, ``best`` and
        ``unreadable`` (checkpoints that could not be read, with the reason).

    Raises:
        ValueError: If a checkpoint does not fit the configured model, was
            trained with the classes in another order, or none can be read.
    """
    device = device or torch.device('cpu')
    classifier = isinstance(model, ClassificationTask)
    num_classes = int(
        model.hparams['num_classes'] or model.hparams.get('num_labels') or 0
    )
    ignore_index: int | None = model.hparams.get('ignore_index')
    results: list[dict[str, Any]] = []
    unreadable: list[dict[str, str]] = []
    datamodule.setup('validate' if split == 'val' else 'test')
    classes = datamodule_classes(datamodule)
    for path in checkpoints:
        try:
            content = load_torch_file(path)
            state = state_dict_of(content, path)
        except ValueError as error:
            warnings.warn(f'skipped {error}', UserWarning, stacklevel=2)
            unreadable.append({'checkpoint': os.fspath(path), 'error': str(error)})
            continue
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as error:
            msg = (
                f'Checkpoint {os.fspath(path)!r} does not fit the configured'
                f' {type(model).__name__}: {str(error).splitlines()[0]}'
            )
            raise ValueError(msg) from error
        meta = checkpoint_metadata(content) if isinstance(content, dict) else None
        _check_trained_classes(path, (meta or {}).get('classes'), classes)
        check_pixel_range(
            (meta or {}).get('pixel_range'), training_pixel_range(datamodule),
            f'the {split} data of {type(datamodule).__name__}', allow_range,
            '--allow_range true',
        )  # fmt: skip
        if classifier:
            assert isinstance(model, ClassificationTask)
            scores = classification_scores_on_split(model, datamodule, split, device)
        else:
            confusion = confusion_on_split(
                model, datamodule, split, num_classes, ignore_index, device
            )
            names = classes if classes and len(classes) == num_classes else None
            scores = segmentation_scores(confusion, names)
        results.append({'checkpoint': os.fspath(path), **scores})
    if not results:
        msg = (
            f'None of the {len(checkpoints)} checkpoints could be read, e.g.'
            f' {unreadable[0]["error"]}'
        )
        raise ValueError(msg)
    # image classifiers: chosen by macro F1 (multi-class and multi-label alike)
    key = 'macro_f1' if classifier else 'miou'
    best = max(results, key=lambda r: r[key])
    return {
        'split': split,
        'classes': list(classes) if classes else None,
        'checkpoints': results,
        'best': {'checkpoint': best['checkpoint'], key: best[key]},
        'unreadable': unreadable,
    }


def _check_trained_classes(
    path: Path, trained: Sequence[str] | None, classes: Sequence[str] | None
) -> None:
    """Refuse data whose classes are not those the checkpoint was trained on.

    Listing the same classes in another order would silently swap the names of
    the per-class IoUs (and the mask indices would not mean what the model
    learned).
    """
    if trained is None or classes is None or list(trained) == list(classes):
        return
    msg = (
        f'Checkpoint {os.fspath(path)!r} was trained on the classes {list(trained)}'
        f' but the data config lists {list(classes)}: give the classes in the'
        ' order used for training'
    )
    raise ValueError(msg)
