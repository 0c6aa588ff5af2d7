"""``als4gan loop``: STAL's rounds of training and segmenter-scored labelling."""

import shlex
from collections.abc import Sequence

from ...command_line import parse_command
from ...runs.commands import (
    add_device_options,
    device_overrides,
    load_with_output,
    orchestration_parser,
)
from .config import load_loop
from .runner import LoopSetupError, run_loop

__all__ = ('main',)


def main(args: Sequence[str] | None = None) -> None:
    """Run ``als4gan loop``.

    Args:
        args: command-line arguments after ``loop``.
    """
    parser = orchestration_parser(
        'als4gan loop',
        'STAL: train the segmentation method on the labelled items, choose its'
        ' checkpoint on val, score it on test, let it score the unlabelled pool'
        ' and label the most uncertain items up to the next budget; repeat.'
        ' Writes results.csv, results.md, label_efficiency.png and the'
        ' cumulative selection; resumable with --resume.',
        'loop YAML (configs/*_stal.yaml)',
        'als4gan loop --config configs/ucm_stal.yaml --output output/loop/ucm_stal',
    )
    parser.add_argument(
        '--resume', action='store_true',
        help='continue the run in the output folder (same settings only)',
    )  # fmt: skip
    parser.add_argument(
        '--seed', type=int,
        help="seed of the first random draw and of every fit (default: the config's seed:)",
    )  # fmt: skip
    add_device_options(
        parser, 'pool scoring in this many DDP processes (default: the config\'s'
        ' score_devices:)',
    )  # fmt: skip
    cfg = parse_command(parser, args, 'loop')
    overrides = device_overrides(cfg, 'score_devices')
    if cfg.seed is not None:
        overrides['seed'] = cfg.seed
    config = load_with_output(parser, load_loop, cfg, overrides)
    try:
        written = run_loop(config, resume=cfg.resume)
    except (FileExistsError, FileNotFoundError, LoopSetupError) as error:
        parser.error(str(error))
    if 'labelling' in written:
        resume = ['als4gan', 'loop', '--config', cfg.config, '--resume']
        if cfg.output:
            resume += ['--output', cfg.output]
        if cfg.seed is not None:
            resume += ['--seed', str(cfg.seed)]
        for flag in ('device', 'devices'):
            if getattr(cfg, flag) is not None:
                resume += [f'--{flag}', str(getattr(cfg, flag))]
        resume += [f'--data_arg={arg}' for arg in cfg.data_arg]
        print(
            f'Stopped for labelling: {written["labelling"]}. Once `als4gan labels`'
            f' has written its masks to {config.labels_folder}, continue with:'
            f' {shlex.join(resume)}'
        )
        return
    print(written['table'].read_text())
    for name, path in written.items():
        print(f'{name}: {path}')
