"""Label-efficiency plot and markdown table of an experiment's results."""

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ..evaluation.summary import plot_label_efficiency, seed_summary
from ..files import atomic_write
from .budgets import budget_label
from .compare import difference_summary
from .html_report import write_html_report

__all__ = ('extra_test_names', 'markdown_table', 'noise_sentences', 'write_reports')


def _cell(mean: float, low: float, high: float, count: int) -> str:
    if pd.isna(low) or pd.isna(high):
        return f'{mean:.3f}'
    text = f'{mean:.3f} [{low:.3f}, {high:.3f}]'
    return text if count == 1 else f'{text} (n={count})'


def _signed(value: float) -> str:
    return f'{value:+.3f}'


def noise_sentences(differences: pd.DataFrame, unit: str = 'fraction') -> list[str]:
    """Which differences to the reference method are outside the noise.

    Args:
        differences: rows of ``differences.csv``.
        unit: the grid's ``budget_unit``.

    Returns:
        Up to two sentences (outside the noise; within it).
    """
    summary = difference_summary(differences)
    if summary.empty:
        return []
    reference = str(summary['reference'].iloc[0])
    parts: dict[bool, list[str]] = {True: [], False: []}
    for row in summary.itertuples():
        parts[bool(row.outside_noise)].append(
            f'{row.method} - {reference} with {row.strategy} at'
            f' {budget_label(row.ratio, unit)}:'
            f' {_signed(row.difference)} [{_signed(row.low)}, {_signed(row.high)}]'
        )
    lines = []
    if parts[True]:
        lines.append(
            'Outside the noise (the 95 % interval excludes 0): '
            + '; '.join(parts[True])
            + '.'
        )
    if parts[False]:
        lines.append('Within the noise: ' + '; '.join(parts[False]) + '.')
    return lines


def _gap_sentences(summary: pd.DataFrame, unit: str = 'fraction') -> list[str]:
    """Share of the gap between the reference and the ceiling each method recovers."""
    ceiling = summary[summary['strategy'] == 'all']
    if ceiling.empty:
        return []
    reference = str(ceiling['method'].iloc[0])
    top = float(ceiling['mean'].iloc[0])
    parts, above = [], []
    rest = summary[summary['strategy'] != 'all']
    for (strategy, ratio), rows in rest.groupby(['strategy', 'ratio'], sort=True):
        base = rows[rows['method'] == reference]
        if base.empty:
            continue
        gap = top - float(base['mean'].iloc[0])
        if gap <= 0:
            above.append(f'{strategy} at {budget_label(ratio, unit)}')
            continue
        for row in rows[rows['method'] != reference].itertuples():
            share = (float(row.mean) - float(base['mean'].iloc[0])) / gap
            parts.append(
                f'{row.method} with {strategy} at {budget_label(ratio, unit)}:'
                f' {100 * share:+.0f} %'
            )
    lines = [f'Ceiling ({reference} on every training item): {top:.3f}.']
    if parts:
        lines.append(
            f'Share of the gap between {reference} and the ceiling recovered: '
            + '; '.join(parts)
            + '.'
        )
    if above:
        lines.append(
            f'{reference} with '
            + ', '.join(above)
            + ' scores at or above the ceiling (in the same number of iterations,'
            ' the selected items show the rare classes more often than the whole'
            ' pool does).'
        )
    return [' '.join(lines)]


def markdown_table(
    results: pd.DataFrame,
    differences: pd.DataFrame | None = None,
    unit: str = 'fraction',
) -> str:
    """Test mIoU per (strategy, method) and labelled ratio, with 95 % intervals.

    Each cell is the mean over seeds and its interval: for one seed the
    bootstrap interval over the test items, for several seeds the t-interval
    over seeds (n given). Under the table: which paired differences to the
    reference method are outside the noise.

    Args:
        results: rows of ``results.csv``.
        differences: rows of ``differences.csv`` (None: no sentences).
        unit: the grid's ``budget_unit`` (column headers and sentences).

    Returns:
        Markdown.
    """
    summary = seed_summary(results)
    ratios = sorted(summary['ratio'].unique())
    ceiling_only = {
        r for r in ratios if set(summary[summary['ratio'] == r]['strategy']) == {'all'}
    }
    header = (
        '| selection | method | '
        + ' | '.join(
            'all labelled' if r in ceiling_only and unit != 'fraction'
            else f'{budget_label(r, unit)} labelled'
            for r in ratios
        )
        + ' |'
    )  # fmt: skip
    lines = [header, '|---|---|' + '---|' * len(ratios)]
    for (strategy, method), rows in summary.groupby(['strategy', 'method'], sort=True):
        cells = []
        for ratio in ratios:
            row = rows[rows['ratio'] == ratio]
            cells.append(
                ''
                if row.empty
                else _cell(*(row[c].iloc[0] for c in ('mean', 'low', 'high', 'count')))
            )
        lines.append(f'| {strategy} | {method} | ' + ' | '.join(cells) + ' |')
    counts = summary['count'].unique()
    lines.append('')
    lines.append(
        'Test mIoU [95 % interval]: '
        + (
            'bootstrap over the test items (one seed).'
            if list(counts) == [1]
            else 'mean over seeds, t-interval over seeds (one seed: bootstrap over'
            ' the test items).'
        )
    )
    if differences is not None:
        lines.extend(noise_sentences(differences, unit))
    lines.extend(_gap_sentences(summary, unit))
    return '\n'.join(lines) + '\n'


def write_reports(
    results: pd.DataFrame,
    folder: Path,
    differences: pd.DataFrame | None = None,
    reference: str | None = None,
    unit: str = 'fraction',
) -> dict[str, Path]:
    """Write ``label_efficiency.png``, ``results.md`` and ``report.html`` atomically.

    Args:
        results: rows of ``results.csv``.
        folder: the experiment folder.
        differences: rows of ``differences.csv``, for the sentences under the
            table.
        reference: the method compared against (for the record).
        unit: the grid's ``budget_unit`` (how budgets read).

    Returns:
        ``plot``, ``table`` and ``report`` paths (empty when there is no
        result yet).
    """
    if results.empty:
        return {}
    plot, table = folder / 'label_efficiency.png', folder / 'results.md'
    figure = plot_label_efficiency(results, unit)
    with atomic_write(plot) as tmp:
        figure.savefig(tmp, dpi=120, format='png')
    plt.close(figure)
    text = markdown_table(results, differences, unit)
    for name in extra_test_names(results):
        renamed = results.drop(
            columns=['test_miou', 'test_miou_low', 'test_miou_high']
        ).rename(
            columns={
                f'test_miou_{name}': 'test_miou',
                f'test_miou_{name}_low': 'test_miou_low',
                f'test_miou_{name}_high': 'test_miou_high',
            }
        )
        text += f'\nTest set `{name}` (extra_tests):\n\n' + markdown_table(
            renamed, unit=unit
        )
    with atomic_write(table) as tmp:
        tmp.write_text(text)
    report = write_html_report(results, folder, table, plot)
    return {'plot': plot, 'table': table, 'report': report}


def extra_test_names(results: pd.DataFrame) -> list[str]:
    """Names of the ``extra_tests`` whose scores are in the results.

    Args:
        results: rows of ``results.csv``.

    Returns:
        The names, in column order.
    """
    return [
        c.removeprefix('test_items_') for c in results.columns
        if c.startswith('test_items_')
    ]  # fmt: skip
