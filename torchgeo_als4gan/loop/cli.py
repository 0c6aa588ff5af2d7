"""``als4gan loop``: STAL's rounds of training and segmenter-scored labelling."""

import argparse
from collections.abc import Sequence

from ..files import check_output_folder
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
    except (FileExistsError, LoopSetupError) as error:
        parser.error(str(error))
    print(written['table'].read_text())
    for name, path in written.items():
        print(f'{name}: {path}')
