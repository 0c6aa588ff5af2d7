"""Score a run: its checkpoint chosen on val, scored on test with an interval."""

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchgeo.datamodules import BaseDataModule
from torchgeo.trainers import BaseTask

from ..datamodules.metadata import datamodule_classes
from ..evaluation.checkpoints import evaluate_checkpoints
from ..evaluation.cli import build_parser
from ..evaluation.confusion import confusion_on_split
from ..evaluation.intervals import bootstrap_miou
from ..evaluation.scores import segmentation_scores
from ..files import atomic_write
from ..models.weights import read_state_dict
from ..runtime import resolve_device
from .policy import (
    POLICY_FOLDER,
    SELECTION_FILE_ARG,
    TEST_CLASSES,
    TEST_CONFUSION,
    RunPolicy,
)

__all__ = ('evaluate_run',)


def _test_confusions(
    model: BaseTask, datamodule: BaseDataModule, device: torch.device, file: Path
) -> np.ndarray[Any, Any]:
    """Per-item test confusions of ``model``, saved to ``file``."""
    per_item = confusion_on_split(
        model, datamodule, 'test', model.hparams['num_classes'],
        model.hparams.get('ignore_index'), device, per_item=True,
    ).numpy()  # fmt: skip
    with atomic_write(file) as tmp, tmp.open('wb') as f:
        np.save(f, per_item)
    return per_item


def evaluate_run(
    method: Path, policy: RunPolicy, data: Sequence[str], run: Path
) -> dict[str, Any]:
    """Choose the run's checkpoint on val by mIoU and score it on test.

    Every method is scored by the same code (a confusion matrix over the split,
    mIoU over the classes present), whatever its training logs, on the
    checkpoints of the policy only. The test mIoU comes with a bootstrap
    interval over the test items, whose confusion matrices are kept in
    ``test_confusion.npy`` for paired comparisons (and the class names, when
    the datamodule knows them, in ``test_classes.json``); each of the policy's
    ``extra_tests`` adds ``test_miou_<name>`` and its interval.

    Args:
        method: the method's fit config.
        policy: overrides, device and bootstrap settings.
        data: the run's own datamodule overrides (its labelled set).
        run: the run folder.

    Returns:
        ``val_miou``, ``test_miou`` with ``test_miou_low`` / ``_high``,
        ``test_items``, ``test_pixel_accuracy``, ``test_fw_iou``,
        ``checkpoint``, ``checkpoint_policy`` and ``test_class_iou`` (class
        index -> IoU or None).

    Raises:
        FileNotFoundError: If the run wrote no checkpoint.
    """
    checkpoints = sorted((run / POLICY_FOLDER).glob('*.ckpt'))
    if not checkpoints:
        msg = (
            f'run {os.fspath(run)!r} wrote no checkpoint under the experiment policy'
            ' (did validation run? it saves by val_miou)'
        )
        raise FileNotFoundError(msg)
    parser = build_parser()
    common = [
        '--config', os.fspath(method), *policy.data_args, *data, *policy.model_args,
    ]  # fmt: skip
    init = parser.instantiate_classes(
        parser.parse_args([*common, f'--checkpoints={run}'])
    )
    device = resolve_device(policy.device)
    val = evaluate_checkpoints(init.model, init.data, checkpoints, 'val', device)
    best = Path(val['best']['checkpoint'])
    model = init.model
    model.load_state_dict(read_state_dict(best), strict=True)
    per_item = _test_confusions(model, init.data, device, run / TEST_CONFUSION)
    classes = datamodule_classes(init.data)
    if classes is not None and len(classes) == per_item.shape[1]:
        with atomic_write(run / TEST_CLASSES) as tmp:  # names for the reports
            tmp.write_text(json.dumps(list(classes)))
    scores = segmentation_scores(torch.from_numpy(per_item.sum(axis=0)))
    miou, low, high = bootstrap_miou(
        per_item, policy.bootstrap_samples, policy.bootstrap_seed
    )
    extra: dict[str, Any] = {}
    # only the test split of another test set is read: the run's selection
    # file names items of the training imagery and is left out
    unselected = [a for a in data if not a.startswith(SELECTION_FILE_ARG)]
    for name, args in policy.extra_tests.items():
        other = parser.instantiate_classes(parser.parse_args([
            '--config', os.fspath(method), *policy.data_args, *unselected,
            *policy.model_args, *args, f'--checkpoints={run}',
        ])).data  # fmt: skip
        items = _test_confusions(
            model, other, device, run / f'test_confusion_{name}.npy'
        )
        value, lo, hi = bootstrap_miou(
            items, policy.bootstrap_samples, policy.bootstrap_seed
        )
        extra.update({
            f'test_miou_{name}': value, f'test_miou_{name}_low': lo,
            f'test_miou_{name}_high': hi, f'test_items_{name}': len(items),
        })  # fmt: skip
    return {
        'val_miou': val['best']['miou'], 'test_miou': miou,
        'test_miou_low': low, 'test_miou_high': high, 'test_items': len(per_item),
        'test_pixel_accuracy': scores['pixel_accuracy'],
        'test_fw_iou': scores['fw_iou'], 'checkpoint': os.fspath(best),
        'checkpoint_policy': policy.description,
        'test_class_iou': scores['per_class_iou'], **extra,
    }  # fmt: skip
