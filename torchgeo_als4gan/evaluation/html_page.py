"""Self-contained HTML pages of results (``report.html``): tables, embedded figures."""

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import atomic_write

__all__ = ('embedded_png', 'frame_to_html', 'markdown_to_html', 'write_page')

STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 70em; color: #222 }
table { border-collapse: collapse; margin: 1em 0 }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right }
th { background: #eee } td:first-child, td:nth-child(2) { text-align: left }
img { max-width: 100%; border: 1px solid #ddd }
p.note { color: #555 }
"""


def frame_to_html(frame: pd.DataFrame, link_column: str | None = None) -> str:
    """A table; floats with 3 decimals, NaN as an empty cell.

    Args:
        frame: the rows.
        link_column: a column whose values are also relative links (folders).

    Returns:
        The ``<table>``.
    """
    head = ''.join(f'<th>{html.escape(str(c))}</th>' for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            if isinstance(value, float):
                text = '' if np.isnan(value) else f'{value:.3f}'
            else:
                text = html.escape(str(value))
            if column == link_column:
                text = f'<a href="{text}/">{text}</a>'
            cells.append(f'<td>{text}</td>')
        body.append('<tr>' + ''.join(cells) + '</tr>')
    return f'<table><tr>{head}</tr>{"".join(body)}</table>'


def markdown_to_html(markdown: str) -> str:
    """Markdown tables and the paragraphs around them (``results.md``) as HTML.

    Args:
        markdown: pipe tables and plain lines.

    Returns:
        ``<table>`` and ``<p>`` elements.
    """
    out: list[str] = []
    rows: list[list[str]] = []

    def flush() -> None:
        if rows:
            head = ''.join(f'<th>{html.escape(c)}</th>' for c in rows[0])
            body = ''.join(
                '<tr>' + ''.join(f'<td>{html.escape(c)}</td>' for c in r) + '</tr>'
                for r in rows[1:]
            )
            out.append(f'<table><tr>{head}</tr>{body}</table>')
            rows.clear()

    for line in markdown.splitlines():
        if line.startswith('|'):
            if not set(line) <= set('|-'):
                rows.append([c.strip() for c in line.strip('|').split('|')])
            continue
        flush()
        if line.strip():
            out.append(f'<p>{html.escape(line)}</p>')
    flush()
    return '\n'.join(out)


def embedded_png(path: Path, alt: str) -> str:
    """An ``<img>`` carrying the PNG itself, so the page opens offline.

    Args:
        path: the PNG file.
        alt: its description.

    Returns:
        The element.
    """
    data = base64.b64encode(path.read_bytes()).decode('ascii')
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def write_page(path: Path, title: str, body: list[str]) -> Path:
    """Write a page atomically.

    Args:
        path: the HTML file.
        title: its title (also the heading).
        body: the elements, in order.

    Returns:
        The page.
    """
    parts = [
        '<!DOCTYPE html>',
        '<html lang="en"><head><meta charset="utf-8">',
        f'<title>{html.escape(title)}</title>',
        f'<style>{STYLE}</style></head><body>',
        f'<h1>{html.escape(title)}</h1>',
        *body,
        '</body></html>',
    ]
    with atomic_write(path) as tmp:
        tmp.write_text('\n'.join(parts) + '\n')
    return path
