"""``als4gan experiment``: the label-efficiency grid."""

import argparse
from collections.abc import Sequence

from ..files import check_output_folder
from .config import load_experiment
from .runner import run_experiment

__all__ = ('main',)


def main(args: Sequence[str] | None = None) -> None:
    """Run ``als4gan experiment``.

    Args:
        args: command-line arguments after ``experiment``.
    """
    parser = argparse.ArgumentParser(
        prog='als4gan experiment',
        description=(
            'Run a grid of labelled ratios x selection strategies x methods x seeds'
            ' (query, fit, choose the checkpoint on val, score it on test), resumable:'
            ' finished cells are skipped. Writes results.csv, label_efficiency.png'
            ' and results.md into the experiment output folder.'
        ),
    )
    parser.add_argument(
        '--config', required=True, help='experiment YAML (configs/experiments/)'
    )
    parser.add_argument('--output', help='override the output folder')
    parser.add_argument(
        '--data-arg', action='append', default=[],
        help='extra datamodule override for every step, e.g. --data-arg=--data.init_args.root=data/ucm',
    )  # fmt: skip
    parser.add_argument(
        '--rerun-changed', action='store_true',
        help='rerun finished cells whose settings (configs, overrides) changed',
    )  # fmt: skip
    cfg = parser.parse_args(args)
    try:
        config = load_experiment(cfg.config, cfg.data_arg)
        if cfg.output:
            config.output = check_output_folder(cfg.output, '--output')
        else:
            check_output_folder(config.output, 'output')
    except (OSError, ValueError) as error:
        parser.error(str(error))
    try:
        written = run_experiment(config, rerun_changed=cfg.rerun_changed)
    except FileExistsError as error:
        parser.error(str(error))
    except ValueError as error:
        if 'were run with other settings' not in str(error):
            raise
        parser.error(str(error))
    table = written.get('table')
    if table is not None:
        print(table.read_text())
    for name, path in written.items():
        print(f'{name}: {path}')
