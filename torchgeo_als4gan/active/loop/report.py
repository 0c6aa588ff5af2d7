"""``als4gan loop`` outputs: per-round table, plot and the cumulative selection."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ...datamodules.pool import QueryPool
from ...evaluation.html_page import embedded_png, markdown_to_html, write_page
from ...evaluation.summary import plot_label_efficiency
from ...files import atomic_write
from ..query.outputs import plot_selection_map, write_selection

if TYPE_CHECKING:
    from .config import LoopConfig
    from .state import RoundState

__all__ = (
    'BUDGET_COLUMNS',
    'RESULT_COLUMNS',
    'loop_table',
    'write_loop_html',
    'write_loop_reports',
)

#: First columns of the loop's ``results.csv`` (then those of ``extra_tests``,
#: what was spent, and ``iou_<class>``, one per class).
RESULT_COLUMNS = (
    'round', 'labeled', 'labeled_percent', 'ratio', 'strategy', 'method', 'seed',
    'val_miou', 'test_miou', 'test_miou_low', 'test_miou_high', 'test_items',
    'test_pixel_accuracy', 'test_fw_iou', 'checkpoint', 'checkpoint_policy', 'seconds',
)  # fmt: skip
#: Then what each round's cumulative selection spent (loops of this version on).
BUDGET_COLUMNS = (
    'budget', 'budget_unit', 'spent_items', 'spent_pixels', 'spent_area_km2',
    'spent_cost',
)  # fmt: skip


def loop_table(results: pd.DataFrame) -> str:
    """The rounds as markdown: labelled share, val and test mIoU, per-class IoU.

    Args:
        results: rows of the loop's ``results.csv``.

    Returns:
        The table, with a line on how to read it.
    """
    classes = [c for c in results.columns if c.startswith('iou_')]
    header = [
        'round',
        'labelled',
        'val mIoU',
        'test mIoU [95 %]',
        *[c[4:] for c in classes],
    ]
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for row in results.to_dict('records'):
        labelled = f'{row["labeled"]} ({row["labeled_percent"]:.1f} %'
        if 'spent_area_km2' in row and not pd.isna(row['spent_area_km2']):
            labelled += f', {row["spent_area_km2"]:.3g} km²'
        if row.get('budget_unit') == 'cost':
            labelled += f', cost {row["spent_cost"]:.4g}'
        cells = [
            str(row['round']), labelled + ')',
            f'{row["val_miou"]:.3f}',
            f'{row["test_miou"]:.3f} [{row["test_miou_low"]:.3f}, {row["test_miou_high"]:.3f}]',
            *('' if pd.isna(row[c]) else f'{row[c]:.3f}' for c in classes),
        ]  # fmt: skip
        lines.append('| ' + ' | '.join(cells) + ' |')
    first = results.iloc[0]
    lines += [
        '',
        f'{first.method} trained in every round on the items labelled so far'
        f' (scorer {first.strategy}); round 0 is a seeded random draw. Test mIoU'
        ' with its 95 % bootstrap interval over the test items; per-class IoU on test.',
    ]
    return '\n'.join(lines) + '\n'


def write_loop_reports(
    output: Path,
    rounds: Sequence['RoundState'],
    pool: QueryPool,
    config: 'LoopConfig',
    prices: Mapping[str, NDArray[np.float64]] | None = None,
) -> dict[str, Path]:
    """Write ``results.csv``, ``results.md``, the plot and the selection files.

    Args:
        output: the loop's folder.
        rounds: every round's state, evaluated.
        pool: the pool.
        config: the loop.
        prices: per-item prices written next to the selection.

    Returns:
        The written files by name.
    """
    rows = []
    for state in rounds:
        assert state.result is not None
        rows.append({**state.result, 'seconds': round(sum(state.seconds.values()), 1)})
    results = pd.DataFrame(rows)
    classes = [c for c in results.columns if c.startswith('iou_')]
    spent = [c for c in BUDGET_COLUMNS if c in results.columns]
    extra = [c for c in results.columns  # extra_tests: test_miou_<name>, ...
             if c.startswith(('test_miou_', 'test_items_')) and c not in RESULT_COLUMNS]  # fmt: skip
    results = results[[*RESULT_COLUMNS, *extra, *spent, *classes]]
    written = {
        'results': output / 'results.csv', 'table': output / 'results.md',
        'plot': output / 'label_efficiency.png',
    }  # fmt: skip
    with atomic_write(written['results']) as tmp:
        results.to_csv(tmp, index=False)
    with atomic_write(written['table']) as tmp:
        tmp.write_text(loop_table(results))
    figure = plot_label_efficiency(results)
    with atomic_write(written['plot']) as tmp:
        figure.savefig(tmp, dpi=120, format='png')
    plt.close(figure)
    last = rounds[-1]
    selection = list(zip(last.selected, last.rounds, last.scores, strict=True))
    files = write_selection(
        output / 'selection', pool, selection, f'loop_{config.scorer}', config.seed,
        figures=False, prices=prices,
    )  # fmt: skip
    written.update(files)
    written['report'] = write_loop_html(output, written)
    return written


def write_loop_html(output: Path, written: dict[str, Path]) -> Path:
    """``report.html`` of a loop: the rounds, the plot, where each round labelled.

    For a georeferenced pool the selected footprints are drawn over an overview
    of their rasters, coloured by round (``selection/selection_map.png``).

    Args:
        output: the loop's folder.
        written: what :func:`write_loop_reports` wrote (table, plot, selection).

    Returns:
        The page.
    """
    body = [
        '<h2>Rounds</h2>',
        markdown_to_html(written['table'].read_text()),
        embedded_png(written['plot'], 'label efficiency over the rounds'),
    ]
    gpkg = written.get('selection.gpkg')
    if gpkg is not None:
        selected = gpd.read_file(gpkg)
        if 'path' in selected.columns and len(selected):
            picture = gpkg.parent / 'selection_map.png'
            figure = plot_selection_map(selected)
            with atomic_write(picture) as tmp:
                figure.savefig(tmp, dpi=100, format='png')
            plt.close(figure)
            body += [
                '<h2>Where each round labelled</h2>',
                embedded_png(picture, 'selected patches by round'),
            ]
    links = [
        f'<li><a href="{path.relative_to(output).as_posix()}">{name}</a></li>'
        for name, path in written.items()
        if path.is_file() and path.parent.is_relative_to(output)
    ]
    body += ['<h2>Files</h2>', '<ul>' + ''.join(links) + '</ul>']
    return write_page(output / 'report.html', f'{output.name}: STAL loop', body)
