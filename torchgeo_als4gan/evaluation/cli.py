"""``als4gan evaluate``: score every checkpoint of a folder on one split."""

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from jsonargparse import ActionConfigFile, Namespace  # type: ignore[attr-defined]
from lightning.pytorch.cli import LightningArgumentParser
from torch import Tensor, nn
from torchgeo.datamodules import BaseDataModule
from torchgeo.trainers import BaseTask, ClassificationTask
from torchmetrics.functional.classification import multiclass_confusion_matrix

from ..checks import check_pixel_range
from ..datamodules.metadata import (
    checkpoint_metadata,
    datamodule_classes,
    training_pixel_range,
)
from ..files import atomic_write, check_output_folder
from ..models.weights import load_torch_file, state_dict_of
from ..runtime import resolve_device
from .classification import classification_scores_on_split
from .scores import segmentation_scores

__all__ = (
    'build_parser',
    'confusion_on_split',
    'evaluate_checkpoints',
    'item_confusions',
    'main',
)


def build_parser() -> LightningArgumentParser:
    """The ``als4gan evaluate`` argument parser (a config with model and data).

    Returns:
        The parser.
    """
    parser = LightningArgumentParser(
        prog='als4gan evaluate',
        description=(
            'Evaluate every checkpoint (*.ckpt) of a folder on a split and write'
            ' pixel accuracy, mean accuracy, frequency-weighted IoU, mIoU and'
            ' per-class IoU to a JSON file, with the best checkpoint by mIoU.'
        ),
    )
    parser.add_argument('--config', action=ActionConfigFile)
    parser.add_lightning_class_args(BaseTask, 'model', subclass_mode=True)
    parser.add_lightning_class_args(BaseDataModule, 'data', subclass_mode=True)
    # Sections of fit configs (and of the config.yaml Lightning saves) not used here.
    parser.add_argument('--trainer', type=dict | None, default=None, help='ignored')
    parser.add_argument(
        '--seed_everything', type=int | bool | None, default=None, help='ignored'
    )
    parser.add_argument('--ckpt_path', type=str | None, default=None, help='ignored')
    parser.add_argument(
        '--checkpoints', type=str, required=True, help='folder of .ckpt files'
    )
    parser.add_argument(
        '--split', type=Literal['val', 'test'], default='val',
        help='split to evaluate on (choose checkpoints on val, report on test)',
    )  # fmt: skip
    parser.add_argument(
        '--output', type=str | None, default=None,
        help='JSON file (default: <checkpoints>/evaluation_<split>.json)',
    )  # fmt: skip
    parser.add_argument(
        '--overwrite', type=bool, default=False, help='replace --output'
    )
    parser.add_argument(
        '--device', type=str, default='auto', help='cpu, cuda, cuda:1 or auto'
    )
    parser.add_argument(
        '--allow_range', type=bool, default=False,
        help='score data whose data type or value range differs from the training'
        ' imagery (recorded in the checkpoint) with a warning instead of refusing',
    )  # fmt: skip
    return parser


def _loader(datamodule: BaseDataModule, split: str) -> Any:
    datamodule.setup('validate' if split == 'val' else 'test')
    return (
        datamodule.val_dataloader() if split == 'val' else datamodule.test_dataloader()
    )


def item_confusions(
    prediction: Tensor, target: Tensor, num_classes: int, ignore_index: int | None
) -> Tensor:
    """One confusion matrix per item of a batch.

    Args:
        prediction: class indices [B, H, W].
        target: true classes [B, H, W]; ``ignore_index`` (and values outside the
            classes) left out.
        num_classes: classes.
        ignore_index: mask value left out.

    Returns:
        [B, C, C] counts (rows: truth), as torchmetrics counts them.
    """
    batch = target.shape[0]
    target = target.reshape(batch, -1).long()
    prediction = prediction.reshape(batch, -1).long()
    valid = (target >= 0) & (target < num_classes)
    if ignore_index is not None:
        valid &= target != ignore_index
    item = torch.arange(batch, device=target.device)[:, None].expand_as(target)
    index = (item * num_classes + target) * num_classes + prediction
    counts = torch.bincount(index[valid], minlength=batch * num_classes**2)
    return counts.reshape(batch, num_classes, num_classes)


@torch.no_grad()
def confusion_on_split(
    model: nn.Module,
    datamodule: BaseDataModule,
    split: str,
    num_classes: int,
    ignore_index: int | None,
    device: torch.device,
    per_item: bool = False,
) -> Tensor:
    """Accumulate the confusion matrix of a model over a split.

    Batches go through the datamodule's device transfer and its evaluation
    normalization, exactly as in ``trainer.validate``/``trainer.test``.

    Args:
        model: the segmentation model (logits [B, C, H, W]).
        datamodule: the datamodule.
        split: ``val`` or ``test``.
        num_classes: classes.
        ignore_index: mask value left out.
        device: where to run.
        per_item: one matrix per item (image, patch) in loader order, for
            bootstrap intervals, instead of their sum.

    Returns:
        The [C, C] confusion matrix (rows: truth), or [N, C, C] per item.
    """
    model.eval().to(device)
    aug = getattr(datamodule, f'{split}_aug', None) or datamodule.aug
    total = torch.zeros(num_classes, num_classes, dtype=torch.long, device=device)
    items: list[Tensor] = []
    for batch in _loader(datamodule, split):
        batch = datamodule.transfer_batch_to_device(batch, device, 0)
        batch = aug(batch)
        # tasks whose evaluated network reads more than the image say how
        evaluation_logits = getattr(model, 'evaluation_logits', None)
        logits = (
            evaluation_logits(batch) if evaluation_logits else model(batch['image'])
        )
        if per_item:
            items.append(
                item_confusions(
                    logits.argmax(dim=1), batch['mask'], num_classes, ignore_index
                ).cpu()
            )
            continue
        total += multiclass_confusion_matrix(
            logits.argmax(dim=1), batch['mask'].long(), num_classes,
            ignore_index=ignore_index, normalize='none',
        ).long()  # fmt: skip
    if per_item:
        empty = torch.zeros(0, num_classes, num_classes, dtype=torch.long)
        return torch.cat(items) if items else empty
    return total.cpu()


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


def _find_checkpoints(folder: Path) -> list[Path]:
    if not folder.is_dir():
        msg = f'--checkpoints {os.fspath(folder)!r} is not a folder'
        raise FileNotFoundError(msg)
    found = sorted(folder.rglob('*.ckpt'))
    if not found:
        msg = f'--checkpoints {os.fspath(folder)!r} holds no .ckpt file'
        raise FileNotFoundError(msg)
    return found


def run_evaluate(cfg: Namespace, parser: LightningArgumentParser) -> Path:
    """Evaluate the checkpoints of a parsed config and write the JSON.

    Args:
        cfg: parsed arguments.
        parser: the parser (it instantiates the classes).

    Returns:
        The written JSON file.

    Raises:
        FileExistsError: If the output exists and ``--overwrite`` is not set.
    """
    device = resolve_device(cfg.device)
    folder = Path(cfg.checkpoints)
    checkpoints = _find_checkpoints(folder)
    output = Path(cfg.output or folder / f'evaluation_{cfg.split}.json')
    if output.exists() and not cfg.overwrite:
        msg = (
            f'Output {os.fspath(output)!r} exists; pass --overwrite true to replace it'
        )
        raise FileExistsError(msg)
    if not output.parent.is_dir():
        msg = f'Output folder {os.fspath(output.parent)!r} does not exist'
        raise FileNotFoundError(msg)
    check_output_folder(output.parent, '--output folder')
    init = parser.instantiate_classes(cfg)
    report = evaluate_checkpoints(
        init.model, init.data, checkpoints, cfg.split, device, cfg.allow_range
    )
    with atomic_write(output) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + '\n')
    columns = (
        [('miou', 'mIoU'), ('pixel_accuracy', 'pix acc'), ('fw_iou', 'fwIoU')]
        if 'miou' in report['best']
        else [('macro_f1', 'macro F1'), ('overall_accuracy', 'OA'),
              ('mean_average_precision', 'mAP')]
    )  # fmt: skip
    rows = report['checkpoints']
    columns = [(k, title) for k, title in columns if rows and k in rows[0]]
    print(f'{"checkpoint":<60}' + ''.join(f' {t:>8}' for _, t in columns))
    for row in rows:
        name = os.path.relpath(row['checkpoint'], folder)
        print(f'{name:<60}' + ''.join(f' {row[k]:8.4f}' for k, _ in columns))
    for row in report['unreadable']:
        print(f'{os.path.relpath(row["checkpoint"], folder):<60} unreadable, skipped')
    key = next(k for k in report['best'] if k != 'checkpoint')
    print(
        f'best on {cfg.split}: {report["best"]["checkpoint"]}'
        f' ({dict(columns).get(key, key)} {report["best"][key]:.4f})'
    )
    print(f'wrote {output}')
    return output


def main(args: Sequence[str] | None = None) -> None:
    """Run ``als4gan evaluate``.

    Args:
        args: command-line arguments after ``evaluate``.
    """
    parser = build_parser()
    cfg = parser.parse_args(args)
    run_evaluate(cfg, parser)
