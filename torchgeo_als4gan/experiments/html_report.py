"""``report.html``: an experiment's results as one self-contained page."""

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from ..evaluation.scores import segmentation_scores
from ..files import atomic_write
from ..runs import TEST_CONFUSION

__all__ = ('class_iou_table', 'write_html_report')

STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 70em; color: #222 }
table { border-collapse: collapse; margin: 1em 0 }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right }
th { background: #eee } td:first-child, td:nth-child(2) { text-align: left }
img { max-width: 100%; border: 1px solid #ddd }
p.note { color: #555 }
"""


def _class_names(run: Path, count: int) -> list[str]:
    """Class names from the run's saved config, else ``0 .. count - 1``."""
    for config in sorted(run.glob('**/config.yaml')):
        data = (yaml.safe_load(config.read_text()) or {}).get('data') or {}
        classes = (data.get('init_args') or {}).get('classes')
        if isinstance(classes, list) and len(classes) == count:
            return [str(c) for c in classes]
    return [str(i) for i in range(count)]


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
        name = f'{r.method}_{r.strategy}_r{float(r.ratio):g}_s{int(r.seed)}'
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


def _table(frame: pd.DataFrame, links: bool = False) -> str:
    head = ''.join(f'<th>{html.escape(str(c))}</th>' for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            if isinstance(value, float):
                text = '' if np.isnan(value) else f'{value:.3f}'
            else:
                text = html.escape(str(value))
            if links and column == 'cell':
                text = f'<a href="runs/{text}/">{text}</a>'
            cells.append(f'<td>{text}</td>')
        body.append('<tr>' + ''.join(cells) + '</tr>')
    return f'<table><tr>{head}</tr>{"".join(body)}</table>'


def _markdown_to_html(markdown: str) -> str:
    """The results table and its sentences (``results.md``) as HTML."""
    out, rows = [], []
    for line in markdown.splitlines():
        if line.startswith('|'):
            if not set(line) <= set('|-'):
                rows.append([c.strip() for c in line.strip('|').split('|')])
            continue
        if rows:
            head = ''.join(f'<th>{html.escape(c)}</th>' for c in rows[0])
            body = ''.join(
                '<tr>' + ''.join(f'<td>{html.escape(c)}</td>' for c in r) + '</tr>'
                for r in rows[1:]
            )
            out.append(f'<table><tr>{head}</tr>{body}</table>')
            rows = []
        if line.strip():
            out.append(f'<p>{html.escape(line)}</p>')
    return '\n'.join(out)


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
    image = base64.b64encode(plot.read_bytes()).decode('ascii')
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
    cells.insert(
        0,
        'cell',
        [
            f'{r.method}_{r.strategy}_r{float(r.ratio):g}_s{int(r.seed)}'
            for r in results.itertuples()
        ],
    )
    parts = [
        '<!DOCTYPE html>',
        '<html lang="en"><head><meta charset="utf-8">',
        f'<title>{html.escape(folder.name)}: label efficiency</title>',
        f'<style>{STYLE}</style></head><body>',
        f'<h1>{html.escape(folder.name)}: label efficiency</h1>',
        '<h2>Test mIoU</h2>',
        _markdown_to_html(table.read_text()),
        f'<img alt="label efficiency" src="data:image/png;base64,{image}">',
        '<h2>Per-class test IoU</h2>',
        _table(per_class, links=True) if not per_class.empty else '<p>none kept</p>',
        '<h2>Runs</h2>',
        _table(cells, links=True),
        '<p class="note">Checkpoints chosen on val, scored on test; each run'
        ' folder holds its checkpoints and Lightning logs.</p>',
        '</body></html>',
    ]
    path = folder / 'report.html'
    with atomic_write(path) as tmp:
        tmp.write_text('\n'.join(parts) + '\n')
    return path
