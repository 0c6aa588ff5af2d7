"""Paired test-mIoU differences between cells of different experiment folders.

``als4gan experiment`` pairs the methods of one experiment. Variants run as
separate experiments (the DeepGlobe screen, its transductive pool, the
warm-started fits) are paired here on the same labelled set and seed: both
cells were scored on the same test items, so each seed's interval is the paired
bootstrap over them, and over seeds the 95 % t-interval of the per-seed
differences. Prints val and test per seed and the differences to the reference.

Usage::

    python benchmarks/paired_across_experiments.py \\
        --reference output/experiments/deepglobe_real_screen:supervised \\
        --compare output/experiments/deepglobe_real_screen:self_training_adaptive \\
        --compare output/experiments/warm{seed}:self_training_warm

``{seed}`` in a folder is replaced by the seed (one experiment per seed);
``FOLDER:METHOD@STRATEGY`` picks one selection strategy of a grid with several
(``demo_output/diversity:supervised@stal_feature``). With ``--extra NAME`` the
per-seed ``test_miou_NAME`` of an ``extra_tests`` set is printed and its
differences are given over seeds (its per-item confusions are not kept).
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from torchgeo_als4gan.evaluation.intervals import paired_difference, seed_interval
from torchgeo_als4gan.experiments.results_table import read_results
from torchgeo_als4gan.runs import TEST_CONFUSION


def _cells(spec: str, seeds: list[int]) -> dict[int, tuple[pd.Series, Path]]:
    """The result row and run folder of ``folder:method[@strategy]`` per seed."""
    folder, _, method = spec.rpartition(':')
    method, _, strategy = method.partition('@')
    if not folder or not method:
        msg = f'--compare/--reference {spec!r}: expected FOLDER:METHOD[@STRATEGY]'
        raise SystemExit(msg)
    found: dict[int, tuple[pd.Series, Path]] = {}
    for seed in seeds:
        root = Path(folder.replace('{seed}', str(seed)))
        results = root / 'results.csv'
        if not results.is_file():
            continue
        table = read_results(results)
        rows = table[(table['method'] == method) & (table['seed'] == seed)]
        if strategy:
            rows = rows[rows['strategy'] == strategy]
        for _, row in rows.iterrows():
            name = f'{method}_{row["strategy"]}_r{float(row["ratio"]):g}_s{seed}'
            found[seed] = (row, root / 'runs' / name)
    return found


def main() -> None:
    """Print the per-seed scores and the paired differences."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--reference', required=True, help='FOLDER:METHOD')
    parser.add_argument('--compare', action='append', required=True)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--samples', type=int, default=1000)
    parser.add_argument('--extra', help='an extra_tests name: its test_miou_NAME too')
    args = parser.parse_args()
    reference = _cells(args.reference, args.seeds)
    print('cell | seed | val mIoU | test mIoU')
    for spec in [args.reference, *args.compare]:
        for seed, (row, _) in sorted(_cells(spec, args.seeds).items()):
            print(f'{spec} | {seed} | {row["val_miou"]:.3f} | {row["test_miou"]:.4f}')
    print('\ncell - reference | per seed (paired bootstrap) | over seeds')
    for spec in args.compare:
        diffs = []
        parts = []
        for seed, (_, run) in sorted(_cells(spec, args.seeds).items()):
            if seed not in reference:
                continue
            a = np.load(run / TEST_CONFUSION)
            b = np.load(reference[seed][1] / TEST_CONFUSION)
            diff, low_1, high_1 = paired_difference(a, b, args.samples, 0)
            diffs.append(diff)
            parts.append(f's{seed} {diff:+.4f} [{low_1:+.3f}, {high_1:+.3f}]')
        if not diffs:
            print(f'{spec}: no seed paired with the reference')
            continue
        mean, low, high = seed_interval(diffs)
        if len(diffs) == 1:  # one seed: the paired bootstrap over test items
            mean, low, high = diff, low_1, high_1
        print(
            f'{spec} | {"; ".join(parts)} | {mean:+.4f} [{low:+.3f}, {high:+.3f}]'
            f' (n={len(diffs)})'
        )
    if args.extra:
        _extra(args, reference)


def _extra(
    args: argparse.Namespace, reference: dict[int, tuple[pd.Series, Path]]
) -> None:
    """Per-seed scores of an extra test set and their differences over seeds."""
    column = f'test_miou_{args.extra}'
    print(f'\n{column}: cell | per seed | mean | minus reference over seeds')
    for spec in [args.reference, *args.compare]:
        cells = _cells(spec, args.seeds)
        values = {s: float(row[column]) for s, (row, _) in sorted(cells.items())}
        diffs = [v - float(reference[s][0][column]) for s, v in values.items()
                 if s in reference]  # fmt: skip
        shown = '; '.join(f's{s} {v:.3f}' for s, v in values.items())
        mean = float(np.mean(list(values.values()))) if values else float('nan')
        text = ''
        if spec != args.reference and len(diffs) > 1:
            d, low, high = seed_interval(diffs)
            text = f'{d:+.4f} [{low:+.3f}, {high:+.3f}] (n={len(diffs)})'
        print(f'{spec} | {shown} | {mean:.3f} | {text}')


if __name__ == '__main__':
    main()
