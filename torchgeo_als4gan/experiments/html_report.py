"""``report.html``: an experiment's results as one self-contained page."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

from ..evaluation.html_page import (
    embedded_png,
    frame_to_html,
    markdown_to_html,
    write_page,
)
from ..evaluation.scores import segmentation_scores
from ..runs import TEST_CLASSES, TEST_CONFUSION
from .config import Cell

__all__ = ('class_iou_table', 'write_html_report')


def _class_names(run: Path, count: int) -> list[str]:
    """Class names the run recorded, or from its saved config, else ``0 .. count - 1``."""
    recorded = run / TEST_CLASSES
    if recorded.is_file():
        names = json.loads(recorded.read_text())
        if isinstance(names, list) and len(names) == count:
            return [str(c) for c in names]
    for config in sorted(run.glob('**/config.yaml')):
        data = (yaml.safe_load(config.read_text()) or {}).get('data') or {}
        classes = (data.get('init_args') or {}).get('classes')
        if isinstance(classes, list) and len(classes) == count:
            return [str(c) for c in classes]
    return [str(i) for i in range(count)]


def _cell_name(row: Any) -> str:
    """The run folder of one ``results.csv`` row (:attr:`Cell.name`)."""
    cell = Cell(float(row.ratio), str(row.strategy), str(row.method), int(row.seed))
    return cell.name


def class_iou_table(results: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """Per-class test IoU of every finished cell, from its saved confusions.

    Args:
        results: rows of ``results.csv``.
        folder: the experiment folder (holding ``runs/<cell>/``).

    Returns:
        One row per cell that kept its test confusions (``cell`` and one
        column per class; empty cells are classes neither present nor
        predicted).
    """
    rows = []
    for r in results.itertuples():
        name = _cell_name(r)
        path = folder / 'runs' / name / TEST_CONFUSION
        if not path.is_file():
            continue
        confusion = np.load(path)
        if confusion.ndim == 3:  # one matrix per test item
            confusion = confusion.sum(axis=0)
        classes = _class_names(folder / 'runs' / name, confusion.shape[0])
        scores = segmentation_scores(torch.as_tensor(confusion), classes)
        per_class = scores['per_class_iou']
        assert isinstance(per_class, dict)
        rows.append({'cell': name, **per_class})
    return pd.DataFrame(rows)


def write_html_report(
    results: pd.DataFrame, folder: Path, table: Path, plot: Path
) -> Path:
    """Write ``report.html``: the table with intervals, the plot, per-class IoU, runs.

    The page needs nothing else to open (the plot is embedded); the links go to
    the run folders next to it.

    Args:
        results: rows of ``results.csv``.
        folder: the experiment folder.
        table: ``results.md`` (the table and its sentences).
        plot: ``label_efficiency.png``.

    Returns:
        The page.
    """
    per_class = class_iou_table(results, folder)
    columns = [
        'ratio',
        'strategy',
        'method',
        'seed',
        'labeled',
        'val_miou',
        'test_miou',
    ]
    cells = results[columns].copy()
    names = [f'runs/{_cell_name(r)}' for r in results.itertuples()]
    cells.insert(0, 'run', names)
    if not per_class.empty:
        per_class['cell'] = 'runs/' + per_class['cell']
    body = [
        '<h2>Test mIoU</h2>',
        markdown_to_html(table.read_text()),
        embedded_png(plot, 'label efficiency'),
        '<h2>Per-class test IoU</h2>',
        frame_to_html(per_class, 'cell') if not per_class.empty else '<p>none kept</p>',
        '<h2>Runs</h2>',
        frame_to_html(cells, 'run'),
        '<p class="note">Checkpoints chosen on val, scored on test; each run'
        ' folder holds its checkpoints and Lightning logs.</p>',
    ]
    return write_page(folder / 'report.html', f'{folder.name}: label efficiency', body)
