"""``als4gan evaluate``: score every checkpoint of a folder on one split."""

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from jsonargparse import Namespace
from lightning.pytorch.cli import LightningArgumentParser

from ..command_line import parse_command
from ..files import atomic_write, check_output_folder
from ..lightning_cli import config_command_parser
from ..runtime import resolve_device
from .checkpoints import evaluate_checkpoints

__all__ = ('build_parser', 'main', 'run_evaluate')


def build_parser() -> LightningArgumentParser:
    """The ``als4gan evaluate`` argument parser (a config with model and data).

    Returns:
        The parser.
    """
    parser = config_command_parser(
        'als4gan evaluate',
        'Evaluate every checkpoint (*.ckpt) of a folder on a split and write'
        ' pixel accuracy, mean accuracy, frequency-weighted IoU, mIoU and'
        ' per-class IoU to a JSON file, with the best checkpoint by mIoU.',
        'als4gan evaluate --config configs/ucm_supervised.yaml --checkpoints'
        ' lightning_logs/version_0/checkpoints --split val',
        trainer=False,
    )
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
    cfg = parse_command(parser, args, 'evaluate')
    run_evaluate(cfg, parser)
