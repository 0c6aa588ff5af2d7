"""``als4gan experiment``: the label-efficiency grid."""

from collections.abc import Sequence

from ..command_line import parse_command
from ..runs.commands import (
    add_device_options,
    device_overrides,
    load_with_output,
    orchestration_parser,
)
from .config import load_experiment
from .results_table import done_keys, read_results
from .runner import run_experiment
from .status import read_failures, status_table

__all__ = ('main',)


def main(args: Sequence[str] | None = None) -> None:
    """Run ``als4gan experiment``.

    Args:
        args: command-line arguments after ``experiment``.
    """
    parser = orchestration_parser(
        'als4gan experiment',
        'Run a grid of labelled ratios x selection strategies x methods x seeds'
        ' (query, fit, choose the checkpoint on val, score it on test), resumable:'
        ' finished cells are skipped. Writes results.csv, label_efficiency.png'
        ' and results.md into the experiment output folder.',
        'experiment YAML (configs/experiments/)',
        'als4gan experiment --config configs/experiments/demo_seeds.yaml --status',
    )
    parser.add_argument(
        '--rerun_changed', action='store_true',
        help='rerun finished cells whose settings (configs, overrides) changed',
    )  # fmt: skip
    parser.add_argument(
        '--keep_going', action='store_true',
        help='record a failing cell in failures.json and go on with the others'
        ' (the command still exits with status 1 at the end)',
    )  # fmt: skip
    parser.add_argument(
        '--status', action='store_true',
        help='print which cells are done, failed, running, interrupted or pending'
        ' and exit without starting anything',
    )  # fmt: skip
    parser.add_argument(
        '--seed', type=int, nargs='+', metavar='SEED',
        help="run the grid at these seeds instead of the config's seeds:"
        ' (the tables still read every finished cell of the output folder)',
    )  # fmt: skip
    add_device_options(parser)
    cfg = parse_command(parser, args, 'experiment')
    overrides = device_overrides(cfg)
    if cfg.seed is not None:
        overrides['seeds'] = cfg.seed
    config = load_with_output(parser, load_experiment, cfg, overrides)
    if cfg.status:
        results = read_results(config.output / 'results.csv')
        print(status_table(config, results, done_keys(results)))
        return
    try:
        written = run_experiment(
            config, rerun_changed=cfg.rerun_changed, keep_going=cfg.keep_going
        )
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
    failures = read_failures(config.output)
    if failures:
        print(
            f'{len(failures)} cell(s) failed: {", ".join(failures)}'
            f' (errors in {written["failures"]}); run the same command again to'
            ' retry them'
        )
        raise SystemExit(1)
