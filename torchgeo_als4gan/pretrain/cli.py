"""``als4gan pretrain``: TorchGeo's SimCLR / MoCo on a datamodule's training imagery."""

import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from jsonargparse import Namespace
from lightning import Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser

from ..checks import NonFiniteLossGuard, check_accelerator, check_positive, check_seed
from ..command_line import parse_command
from ..lightning_cli import config_command_parser
from ..models.weights import read_state_dict
from ..runtime import quiet_known_warnings
from .data import PretrainDataModule, labeled_val_items, pretraining_pool
from .export import export_encoder
from .guard import CollapseGuard, PretrainingCollapsedError

__all__ = ('build_parser', 'main', 'run_pretrain')


def build_parser() -> LightningArgumentParser:
    """The ``als4gan pretrain`` argument parser.

    Returns:
        The parser.
    """
    parser = config_command_parser(
        'als4gan pretrain',
        "Pretrain an encoder with TorchGeo's SimCLRTask or MoCoTask on the"
        ' training imagery of a datamodule (labelled and unlabelled alike) and'
        ' export it as a weights file the weights: arguments read.',
        'als4gan pretrain --config configs/ucm_pretrain.yaml --output encoder.pt',
    )
    parser.add_argument('--output', type=str, required=True, help='weights file (.pt)')
    parser.add_argument('--batch_size', type=int, default=64, help='images per batch')
    parser.add_argument('--num_workers', type=int, default=0, help='loading workers')
    parser.add_argument('--seed', type=int, default=0, help='seed')
    parser.add_argument(
        '--collapse_std', type=float | None, default=None,
        help='stop below this embedding std (default 0.02 / sqrt(dim))',
    )  # fmt: skip
    parser.add_argument('--knn_k', type=int, default=5, help='k of the k-NN check')
    parser.add_argument('--resume', type=bool, default=False, help='continue a run')
    parser.add_argument('--overwrite', type=bool, default=False, help='replace output')
    return parser


def _task_name(model: Any) -> str:
    return type(model).__name__


def run_pretrain(cfg: Namespace, parser: LightningArgumentParser) -> Path:
    """Pretrain, keep the best checkpoint by k-NN accuracy, export its encoder.

    Args:
        cfg: parsed arguments.
        parser: the parser (it instantiates the classes).

    Returns:
        The weights file.

    Raises:
        FileExistsError: If the output exists and neither ``--overwrite``
            nor ``--resume`` is set.
        TypeError: If the model is not a task with a ``backbone`` (SimCLR, MoCo).
        PretrainingCollapsedError: If the embeddings collapse.
    """
    check_positive('--batch_size', cfg.batch_size)
    check_seed('--seed', cfg.seed)
    check_accelerator(cfg.trainer.accelerator, cfg.trainer.devices)
    output = Path(cfg.output)
    folder = output.with_suffix('')
    if output.is_dir():
        msg = (
            f'--output {os.fspath(output)!r} is a folder: give the weights file to'
            ' write, e.g. output/pretrain/encoder.pt (its report and checkpoints'
            ' go next to it)'
        )
        raise IsADirectoryError(msg)
    if folder.exists() and not folder.is_dir():
        msg = f'{os.fspath(folder)!r} (the run folder of --output) is a file'
        raise NotADirectoryError(msg)
    if output.exists() and not (cfg.overwrite or cfg.resume):
        msg = f'{os.fspath(output)!r} exists; pass --overwrite true or --resume true'
        raise FileExistsError(msg)
    seed_everything(cfg.seed, workers=True, verbose=False)
    init = parser.instantiate_classes(cfg)
    task, data = init.model, init.data
    if not hasattr(task, 'backbone'):
        msg = (
            f'model {_task_name(task)} has no backbone to export: use'
            ' torchgeo.trainers.SimCLRTask or torchgeo.trainers.MoCoTask'
        )
        raise TypeError(msg)
    pool = pretraining_pool(data)
    bands = int(pool.dataset[0]['image'].shape[0])
    if bands != int(task.hparams['in_channels']):
        msg = (
            f'the pool images have {bands} bands, the model in_channels is'
            f' {task.hparams["in_channels"]}'
        )
        raise ValueError(msg)
    module = PretrainDataModule(pool, cfg.batch_size, cfg.num_workers, cfg.seed)
    check = labeled_val_items(data)
    if check is None:  # no labelled val items: watch the spread on pool images
        images = torch.stack(
            [module.items[i]['image'] for i in range(min(256, len(pool)))]
        )
        check_images, check_labels = (
            module.aug({'image': images.float()})['image'],
            None,
        )
    else:
        check_images, check_labels = check
    guard = CollapseGuard(check_images, check_labels, cfg.collapse_std, cfg.knn_k)
    monitor = 'knn_accuracy' if check_labels is not None else 'embedding_std'
    best = ModelCheckpoint(
        dirpath=folder / 'checkpoints', monitor=monitor, mode='max', save_last=True,
        filename='best-{epoch:03d}',
    )  # fmt: skip
    kwargs = dict(vars(init.trainer))
    callbacks = list(kwargs.pop('callbacks', None) or [])
    kwargs.setdefault('default_root_dir', str(folder))
    trainer = Trainer(
        **{**kwargs, 'callbacks': [*callbacks, guard, best, NonFiniteLossGuard()]}
    )
    last = folder / 'checkpoints' / 'last.ckpt'
    start = time.perf_counter()
    print(
        f'[als4gan pretrain] {_task_name(task)} {task.hparams["model"]} on'
        f' {len(pool)} images ({bands} bands), checked on'
        f' {len(check_images)} {"labelled val" if check_labels is not None else "pool"} items'
    )
    trainer.fit(
        task, module, ckpt_path=str(last) if cfg.resume and last.exists() else None
    )
    seconds = time.perf_counter() - start
    chosen = best.best_model_path or str(last)
    state = read_state_dict(chosen)
    history = guard.history
    final = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    chosen_row = (
        max(history, key=lambda r: r.get(monitor, -math.inf)) if history else {}
    )
    report = {
        'method': _task_name(task), 'backbone': task.hparams['model'],
        'in_channels': bands, 'mean': _plain(pool.mean), 'std': _plain(pool.std),
        'pool': len(pool), 'epochs': trainer.current_epoch,
        'final_loss': final.get('train_loss'), 'checkpoint': chosen,
        'chosen_by': monitor, 'chosen': chosen_row, 'history': history,
        'seconds': round(seconds, 1),
    }  # fmt: skip
    export_encoder(state, output, report)
    print(
        f'[als4gan pretrain] {trainer.current_epoch} epochs in {seconds:.0f} s;'
        f' chosen epoch {chosen_row.get("epoch")}: {monitor}'
        f' {chosen_row.get(monitor, float("nan")):.4f}, embedding std'
        f' {chosen_row.get("embedding_std", float("nan")):.4f}'
    )
    print(f'[als4gan pretrain] wrote {output} and {output.with_suffix(".json")}')
    return output


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.tolist()))


def main(args: Sequence[str] | None = None) -> None:
    """Entry point of ``als4gan pretrain``.

    Args:
        args: command-line arguments after ``pretrain``.
    """
    quiet_known_warnings()
    parser = build_parser()
    cfg = parse_command(parser, args, 'pretrain')
    try:
        run_pretrain(cfg, parser)
    except PretrainingCollapsedError as error:
        raise SystemExit(f'[als4gan pretrain] {error}') from error
