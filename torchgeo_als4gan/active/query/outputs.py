"""Writing a selection: ALS4GAN ``.npy``, CSV, GeoPackage and figures, atomically."""

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import rasterio
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from numpy.typing import NDArray

from ...datamodules.pool import QueryPool
from ...files import atomic_write

__all__ = (
    'OUTPUT_NAMES',
    'plot_selection',
    'plot_selection_map',
    'selection_table',
    'write_selection',
)

#: Files a query writes into its output folder.
OUTPUT_NAMES = (
    'selection.npy',
    'selection.csv',
    'selection.gpkg',
    'selection.png',
    'selection_map.png',
)


def selection_table(
    pool: QueryPool,
    rows: Sequence[tuple[int, int, float]],
    strategy: str,
    seed: int,
    prices: Mapping[str, NDArray[np.float64]] | None = None,
) -> pd.DataFrame:
    """One row per selected item, in selection order.

    Args:
        pool: the pool.
        rows: (pool index, round, score) of each selected item.
        strategy: strategy name.
        seed: seed of the run.
        prices: per-item prices by pool index (e.g. ``valid_pixels``,
            ``area_km2``, ``cost``), one column each.

    Returns:
        Columns ``rank``, ``id``, ``round``, ``score``, ``strategy``, ``seed``
        and one per price.
    """
    index = [i for i, _, _ in rows]
    return pd.DataFrame(
        {
            'rank': np.arange(1, len(rows) + 1),
            'id': [pool.ids[i] for i in index],
            'round': [r for _, r, _ in rows],
            'score': [s for _, _, s in rows],
            'strategy': strategy,
            'seed': seed,
            **{name: values[index] for name, values in (prices or {}).items()},
        }
    )


def _stretch(image: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """First three bands (or one) as float RGB in [0, 1], 2-98 % stretch."""
    bands = image[:3] if image.shape[0] >= 3 else image[:1].repeat(3, axis=0)
    rgb = np.moveaxis(bands.astype(np.float64), 0, -1)
    low, high = np.percentile(rgb, (2, 98))
    out: np.ndarray[Any, Any] = np.clip((rgb - low) / max(high - low, 1e-9), 0, 1)
    return out


def plot_selection(pool: QueryPool, table: pd.DataFrame, max_items: int = 32) -> Figure:
    """Thumbnails of the selected items with id, rank, round and score.

    Args:
        pool: the pool.
        table: output of :func:`selection_table`.
        max_items: at most this many thumbnails (the best ranked).

    Returns:
        The figure.
    """
    shown = table.head(max_items)
    position = {pid: i for i, pid in enumerate(pool.ids)}
    cols = min(8, max(len(shown), 1))
    rows = max(math.ceil(len(shown) / cols), 1)
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2.3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis('off')
    for ax, item in zip(axes.ravel(), shown.itertuples(), strict=False):
        image = pool.dataset[position[str(item.id)]]['image'].numpy()
        ax.imshow(_stretch(image))
        score = '' if pd.isna(item.score) else f' s={item.score:.3g}'
        ax.set_title(f'#{item.rank} {item.id}\nround {item.round}{score}', fontsize=7)
    fig.suptitle(f'{len(table)} selected items ({table["strategy"].iloc[0]})')
    fig.tight_layout()
    return fig


def plot_selection_map(selected: gpd.GeoDataFrame, max_files: int = 4) -> Figure:
    """Where the selected patches are: footprints over an overview of each raster.

    Args:
        selected: footprints with ``path`` (raster file), ``rank`` and ``round``.
        max_files: at most this many rasters (those with most selections).

    Returns:
        The figure.
    """
    files = selected['path'].value_counts().index[:max_files]
    fig, axes = plt.subplots(1, len(files), figsize=(6 * len(files), 6), squeeze=False)
    cmap = plt.get_cmap('viridis')
    last = max(int(selected['round'].max()), 1)
    for ax, file in zip(axes.ravel(), files, strict=True):
        with rasterio.open(file) as src:
            step = max(1, math.ceil(max(src.width, src.height) / 1024))
            shape = (src.count, max(src.height // step, 1), max(src.width // step, 1))
            overview = src.read(out_shape=shape)
            extent = (
                src.bounds.left,
                src.bounds.right,
                src.bounds.bottom,
                src.bounds.top,
            )
            crs = src.crs
        ax.imshow(_stretch(overview), extent=extent)
        mine = selected[selected['path'] == file].to_crs(crs)
        for row in mine.itertuples():
            minx, miny, maxx, maxy = row.geometry.bounds
            color = cmap(int(row.round) / last)
            ax.add_patch(
                Rectangle(
                    (minx, miny), maxx - minx, maxy - miny, fill=False, ec=color, lw=1.5
                )
            )
            ax.annotate(str(row.rank), (minx, maxy), color=color, fontsize=6, va='top')
        ax.set_title(
            f'{os.path.basename(file)}: {len(mine)} patches ({crs})', fontsize=9
        )
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=Normalize(0, last))
    fig.colorbar(sm, ax=axes.ravel().tolist(), label='round')
    return fig


def _save_figure(fig: Figure, path: Path) -> None:
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=100, format='png')
    plt.close(fig)


def write_selection(
    folder: Path,
    pool: QueryPool,
    rows: Sequence[tuple[int, int, float]],
    strategy: str,
    seed: int,
    figures: bool = True,
    prices: Mapping[str, NDArray[np.float64]] | None = None,
) -> dict[str, Path]:
    """Write the selection files, each to a temporary name first.

    * ``selection.npy``: the ids, ALS4GAN's format (feeds ``selection_file``);
    * ``selection.csv``: rank, id, round, score, strategy, seed;
    * ``selection.gpkg`` (georeferenced pools): the patch footprints with the
      same columns, in the imagery CRS, for QGIS and annotators (``path``:
      the absolute path of each patch's raster);
    * ``selection.png``: thumbnails; ``selection_map.png``: where the patches are.

    Args:
        folder: output folder.
        pool: the pool.
        rows: (pool index, round, score) of each selected item.
        strategy: strategy name.
        seed: seed of the run.
        figures: also draw the figures.
        prices: per-item prices written as columns (what each pick cost).

    Returns:
        Written files by name.
    """
    folder.mkdir(parents=True, exist_ok=True)
    table = selection_table(pool, rows, strategy, seed, prices)
    written: dict[str, Path] = {}

    path = folder / 'selection.npy'
    with atomic_write(path) as tmp:
        np.save(tmp, np.asarray(table['id'], dtype=str))
    written[path.name] = path

    path = folder / 'selection.csv'
    with atomic_write(path) as tmp:
        table.to_csv(tmp, index=False)
    written[path.name] = path

    selected = None
    if pool.footprints is not None:
        footprints = pool.footprints.set_index('id')
        extra = [c for c in ('file', 'path', 'row', 'col') if c in footprints.columns]
        selected = gpd.GeoDataFrame(
            table.join(footprints[[*extra, 'geometry']], on='id'),
            geometry='geometry',
            crs=pool.footprints.crs,
        )
        if 'path' in selected.columns:
            # absolute, so the labelling task can be used from any folder
            selected['path'] = [os.path.abspath(p) for p in selected['path']]
        path = folder / 'selection.gpkg'
        with atomic_write(path) as tmp:
            selected.to_file(tmp, driver='GPKG', layer='selection')
        written[path.name] = path

    if figures:
        path = folder / 'selection.png'
        _save_figure(plot_selection(pool, table), path)
        written[path.name] = path
        if selected is not None and 'path' in selected.columns:
            path = folder / 'selection_map.png'
            _save_figure(plot_selection_map(selected), path)
            written[path.name] = path
    return written
