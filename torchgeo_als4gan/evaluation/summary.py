"""Results over seeds: the mean and interval per cell, the label-efficiency plot."""

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from .intervals import seed_interval

__all__ = ('plot_label_efficiency', 'seed_summary')


def seed_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean test mIoU per (strategy, method, ratio) and its 95 % interval.

    One seed: the row's bootstrap interval over test items; several seeds: the
    t-interval over seeds.

    Args:
        results: rows of ``results.csv`` (an experiment's or a loop's).

    Returns:
        One row per (strategy, method, ratio): ``mean``, ``low``, ``high``,
        ``count`` (seeds).
    """
    rows = []
    for key, group in results.groupby(['strategy', 'method', 'ratio'], sort=True):
        if len(group) == 1:
            mean = float(group['test_miou'].iloc[0])
            low = float(group.get('test_miou_low', pd.Series([float('nan')])).iloc[0])
            high = float(group.get('test_miou_high', pd.Series([float('nan')])).iloc[0])
        else:
            mean, low, high = seed_interval(group['test_miou'].tolist())
        rows.append((*key, mean, low, high, len(group)))
    return pd.DataFrame(
        rows, columns=['strategy', 'method', 'ratio', 'mean', 'low', 'high', 'count']
    )


def plot_label_efficiency(results: pd.DataFrame, unit: str = 'fraction') -> Figure:
    """Test mIoU vs % labelled, one line per strategy/method, 95 % interval band.

    Args:
        results: rows of ``results.csv``.
        unit: ``fraction`` (``ratio`` is a share of the pool, drawn in %) or
            the unit of the budgets in ``ratio`` (``area_km2``, ...).

    Returns:
        The figure.
    """
    summary = seed_summary(results)
    scale = 100.0 if unit == 'fraction' else 1.0
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (strategy, method), rows in summary.groupby(['strategy', 'method'], sort=True):
        rows = rows.sort_values('ratio')
        x = scale * rows['ratio']
        style = '-' if method != 'supervised' else '--'
        line = ax.plot(
            x, rows['mean'], style, marker='o', label=f'{strategy} / {method}'
        )[0]
        if rows['low'].notna().all():
            ax.fill_between(
                x, rows['low'], rows['high'], color=line.get_color(), alpha=0.15
            )
    ratios = sorted(scale * summary['ratio'].unique())
    ax.set_xscale('log')
    suffix = '%' if unit == 'fraction' else ''
    ax.set_xticks(ratios, [f'{r:g}{suffix}' for r in ratios])
    ax.minorticks_off()
    ax.set_xlabel(
        'share of the train pool labelled (log scale)' if unit == 'fraction'
        else f'budget labelled, {unit} (log scale)'
    )  # fmt: skip
    ax.set_ylabel('test mIoU')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title('Label efficiency (band: 95 % interval)')
    fig.tight_layout()
    return fig
