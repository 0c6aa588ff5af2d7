"""Paired comparisons of methods on the same selection and seed, with intervals."""

import numpy as np
import pandas as pd

from ..evaluation.intervals import paired_difference, seed_interval
from ..runs import TEST_CONFUSION
from .config import Cell, ExperimentConfig

__all__ = ('DIFFERENCE_COLUMNS', 'difference_summary', 'paired_differences')

#: Columns of ``differences.csv``.
DIFFERENCE_COLUMNS = (
    'ratio', 'strategy', 'seed', 'method', 'reference', 'difference', 'low', 'high',
)  # fmt: skip


def paired_differences(config: ExperimentConfig, results: pd.DataFrame) -> pd.DataFrame:
    """Test mIoU of each method minus the reference's, per selection and seed.

    Both runs of a pair were scored on the same test items; the interval is the
    paired bootstrap over them (the same resamples for both, see
    :func:`~torchgeo_als4gan.evaluation.paired_difference`).

    Args:
        config: the experiment (its runs hold ``test_confusion.npy``).
        results: rows of ``results.csv``.

    Returns:
        One row per pair (:data:`DIFFERENCE_COLUMNS`).
    """
    rows = []
    reference = config.reference
    for row in results.itertuples():
        if row.method == reference:
            continue
        cells = [
            Cell(float(row.ratio), str(row.strategy), m, int(row.seed))
            for m in (str(row.method), str(reference))
        ]
        files = [config.output / 'runs' / c.name / TEST_CONFUSION for c in cells]
        if not all(f.is_file() for f in files):
            continue
        a, b = (np.load(f) for f in files)
        if a.shape != b.shape:
            continue
        diff, low, high = paired_difference(
            a, b, config.bootstrap_samples, config.bootstrap_seed
        )
        rows.append(
            (float(row.ratio), row.strategy, int(row.seed), row.method, reference,
             diff, low, high)
        )  # fmt: skip
    return pd.DataFrame(rows, columns=list(DIFFERENCE_COLUMNS))


def difference_summary(differences: pd.DataFrame) -> pd.DataFrame:
    """Each method's difference to the reference, over seeds, with an interval.

    One seed: the paired bootstrap interval over test items. Several seeds: the
    95 % t-interval of the per-seed differences (which includes what a seed
    changes: the selection, the initialisation, the order of the batches).

    Args:
        differences: rows of :func:`paired_differences`.

    Returns:
        ``ratio, strategy, method, reference, n, difference, low, high,
        outside_noise`` (the interval excludes 0).
    """
    rows = []
    keys = ['ratio', 'strategy', 'method', 'reference']
    for key, group in differences.groupby(keys, sort=True):
        if len(group) == 1:
            mean, low, high = (
                float(group[c].iloc[0]) for c in ('difference', 'low', 'high')
            )
        else:
            mean, low, high = seed_interval(group['difference'].tolist())
        rows.append((*key, len(group), mean, low, high, low > 0 or high < 0))
    return pd.DataFrame(
        rows, columns=[*keys, 'n', 'difference', 'low', 'high', 'outside_noise']
    )
