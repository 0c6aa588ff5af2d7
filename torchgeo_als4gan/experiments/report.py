"""Label-efficiency plot and markdown table of an experiment's results."""

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from ..files import atomic_write

__all__ = ('markdown_table', 'plot_label_efficiency', 'write_reports')


def _summary(results: pd.DataFrame) -> pd.DataFrame:
    grouped = results.groupby(['strategy', 'method', 'ratio'])['test_miou']
    return grouped.agg(['mean', 'std', 'min', 'max', 'count']).reset_index()


def markdown_table(results: pd.DataFrame) -> str:
    """Test mIoU per (strategy, method) and labelled ratio: mean ± std over seeds.

    Args:
        results: rows of ``results.csv``.

    Returns:
        A markdown table.
    """
    summary = _summary(results)
    ratios = sorted(summary['ratio'].unique())
    header = (
        '| selection | method | '
        + ' | '.join(f'{100 * r:g}% labelled' for r in ratios)
        + ' |'
    )
    lines = [header, '|---|---|' + '---|' * len(ratios)]
    for (strategy, method), rows in summary.groupby(['strategy', 'method'], sort=True):
        cells = []
        for ratio in ratios:
            row = rows[rows['ratio'] == ratio]
            if row.empty:
                cells.append('')
                continue
            mean, std, count = (
                row['mean'].iloc[0],
                row['std'].iloc[0],
                int(row['count'].iloc[0]),
            )
            cells.append(
                f'{mean:.3f}' if count == 1 else f'{mean:.3f} ± {std:.3f} (n={count})'
            )
        lines.append(f'| {strategy} | {method} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def plot_label_efficiency(results: pd.DataFrame) -> Figure:
    """Test mIoU vs % labelled, one line per strategy/method, seed min-max band.

    Args:
        results: rows of ``results.csv``.

    Returns:
        The figure.
    """
    summary = _summary(results)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (strategy, method), rows in summary.groupby(['strategy', 'method'], sort=True):
        rows = rows.sort_values('ratio')
        x = 100 * rows['ratio']
        style = '-' if method != 'supervised' else '--'
        line = ax.plot(
            x, rows['mean'], style, marker='o', label=f'{strategy} / {method}'
        )[0]
        if int(rows['count'].max()) > 1:
            ax.fill_between(
                x, rows['min'], rows['max'], color=line.get_color(), alpha=0.2
            )
    ratios = sorted(100 * summary['ratio'].unique())
    ax.set_xscale('log')
    ax.set_xticks(ratios, [f'{r:g}%' for r in ratios])
    ax.minorticks_off()
    ax.set_xlabel('share of the train pool labelled (log scale)')
    ax.set_ylabel('test mIoU')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title('Label efficiency (mean over seeds, band: min-max)')
    fig.tight_layout()
    return fig


def write_reports(results: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """Write ``label_efficiency.png`` and ``results.md`` atomically.

    Args:
        results: rows of ``results.csv``.
        folder: the experiment folder.

    Returns:
        ``plot`` and ``table`` paths (empty when there is no result yet).
    """
    if results.empty:
        return {}
    plot, table = folder / 'label_efficiency.png', folder / 'results.md'
    figure = plot_label_efficiency(results)
    with atomic_write(plot) as tmp:
        figure.savefig(tmp, dpi=120, format='png')
    plt.close(figure)
    with atomic_write(table) as tmp:
        tmp.write_text(markdown_table(results))
    return {'plot': plot, 'table': table}
