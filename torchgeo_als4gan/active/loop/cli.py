"""``als4gan loop``: STAL's rounds of training and segmenter-scored labelling."""

import argparse
import shlex
from collections.abc import Sequence

from ...files import check_output_folder
from .config import load_loop
from .runner import LoopSetupError, run_loop

__all__ = ('main',)


def main(args: Sequence[str] | None = None) -> None:
    """Run ``als4gan loop``.

    Args:
        args: command-line arguments after ``loop``.
    """
    parser = argparse.ArgumentParser(
        prog='als4gan loop',
        description=(
            'STAL: train the segmentation method on the labelled items, choose its'
            ' checkpoint on val, score it on test, let it score the unlabelled pool'
            ' and label the most uncertain items up to the next budget; repeat.'
            ' Writes results.csv, results.md, label_efficiency.png and the'
            ' cumulative selection; resumable with --resume.'
        ),
    )
    parser.add_argument(
        '--config', required=True, help='loop YAML (configs/*_stal.yaml)'
    )
    parser.add_argument('--output', help='override the output folder')
    parser.add_argument(
        '--resume', action='store_true',
        help='continue the run in the output folder (same settings only)',
    )  # fmt: skip
    parser.add_argument(
        '--data-arg', action='append', default=[],
        help='extra datamodule override for every step, e.g. --data-arg=--data.init_args.root=data/ucm',
    )  # fmt: skip
    cfg = parser.parse_args(args)
    try:
        config = load_loop(cfg.config, cfg.data_arg)
        if cfg.output:
            config.output = check_output_folder(cfg.output, '--output')
        else:
            check_output_folder(config.output, 'output')
    except (OSError, ValueError) as error:
        parser.error(str(error))
    try:
        written = run_loop(config, resume=cfg.resume)
    except (FileExistsError, FileNotFoundError, LoopSetupError) as error:
        parser.error(str(error))
    if 'labelling' in written:
        resume = ['als4gan', 'loop', '--config', cfg.config, '--resume']
        if cfg.output:
            resume += ['--output', cfg.output]
        resume += [f'--data-arg={arg}' for arg in cfg.data_arg]
        print(
            f'Stopped for labelling: {written["labelling"]}. Once `als4gan labels`'
            f' has written its masks to {config.labels_folder}, continue with:'
            f' {shlex.join(resume)}'
        )
        return
    print(written['table'].read_text())
    for name, path in written.items():
        print(f'{name}: {path}')
