"""The price of every pool item: valid pixels, valid area in km², labelling cost.

Valid pixels are the patch's pixels inside its raster that are not nodata (the
raster's dataset mask: nodata value, alpha band or internal mask); area is those
pixels' share of the footprint's area on the ground, in the raster's CRS when it
is projected and on the WGS84 ellipsoid (pyproj's geodesic area) when it is
geographic. The cost model prices items for ``cost`` budgets: ``constant`` (1 a
patch), ``area`` (its km²) or ``file`` (a CSV of ``id,cost``, e.g. seconds per
patch from a labelling log, as ``als4gan labels`` records).
"""

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import rasterio
from numpy.typing import NDArray
from rasterio.enums import Resampling

__all__ = (
    'COST_MODELS',
    'check_cost_model',
    'footprint_area_km2',
    'item_measures',
    'read_cost_file',
    'selection_prices',
    'valid_pixel_counts',
)

#: How ``cost`` budgets price an item.
COST_MODELS = ('constant', 'area', 'file')
#: Patches are measured on a grid at most this many cells across (exact below).
MASK_CELLS = 32


def check_cost_model(cost_model: str, cost_file: object) -> None:
    """Refuse an unknown cost model, or a cost file without the ``file`` model.

    Args:
        cost_model: one of :data:`COST_MODELS`.
        cost_file: the CSV of the ``file`` model, or None.

    Raises:
        ValueError: If the model is unknown, or ``cost_file`` is given with
            another model or missing with ``file``.
    """
    if cost_model not in COST_MODELS:
        msg = f'cost_model must be one of {list(COST_MODELS)}, got {cost_model!r}'
        raise ValueError(msg)
    if (cost_model == 'file') != (cost_file is not None):
        msg = 'cost_file is given with cost_model: file, and only then'
        raise ValueError(msg)


def valid_pixel_counts(
    footprints: gpd.GeoDataFrame,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Valid pixels of every patch footprint (inside its raster, not nodata).

    Each raster's dataset mask is read once, decimated so that a patch spans at
    most :data:`MASK_CELLS` cells (exact for patches up to that size; larger
    patches are counted on that grid, each cell standing for its pixels).

    Args:
        footprints: grid footprints (``path``, ``row``, ``col`` in pixels and
            the square patch polygon), as a georeferenced datamodule's pool holds.

    Returns:
        The valid pixels and all pixels of every footprint, in table order.

    Raises:
        ValueError: If the table lacks the grid columns.
    """
    missing = {'path', 'row', 'col'} - set(footprints.columns)
    if missing:
        msg = f'footprints lack the grid columns {sorted(missing)}'
        raise ValueError(msg)
    valid = np.zeros(len(footprints))
    whole = np.zeros(len(footprints))
    paths = footprints['path'].to_numpy()
    widths = footprints.geometry.bounds.eval('maxx - minx').to_numpy()
    for path in dict.fromkeys(paths):
        where = np.flatnonzero(paths == path)
        with rasterio.open(os.fspath(path)) as src:
            size = round(float(widths[where[0]]) / abs(src.transform.a))
            factor = max(1, math.ceil(size / MASK_CELLS))
            shape = (math.ceil(src.height / factor), math.ceil(src.width / factor))
            mask = src.dataset_mask(out_shape=shape, resampling=Resampling.nearest)
            height, width = src.height, src.width
        # cells of the last row / column cover fewer pixels
        cell_h = np.full(shape[0], float(factor))
        cell_h[-1] = height - factor * (shape[0] - 1)
        cell_w = np.full(shape[1], float(factor))
        cell_w[-1] = width - factor * (shape[1] - 1)
        weight = (mask > 0) * cell_h[:, None] * cell_w[None, :]
        span = math.ceil(size / factor)
        rows = footprints['row'].to_numpy()[where] // factor
        cols = footprints['col'].to_numpy()[where] // factor
        for k, r, c in zip(where, rows, cols, strict=True):
            valid[k] = weight[r : r + span, c : c + span].sum()
        whole[where] = size * size
    return valid, whole


def footprint_area_km2(footprints: gpd.GeoDataFrame) -> NDArray[np.float64]:
    """The ground area of every footprint polygon in km².

    Args:
        footprints: polygons with a CRS.

    Returns:
        Areas in table order: planar in a projected CRS (its linear unit
        converted to metres), geodesic on the WGS84 ellipsoid in a geographic
        one (never degrees²).

    Raises:
        ValueError: If the footprints have no CRS.
    """
    crs = footprints.crs
    if crs is None:
        msg = 'footprints have no CRS: their area is unknown'
        raise ValueError(msg)
    if crs.is_geographic:
        geod = pyproj.Geod(ellps='WGS84')
        lonlat = footprints.to_crs('EPSG:4326').geometry
        areas = [abs(geod.geometry_area_perimeter(g)[0]) for g in lonlat]
        return np.asarray(areas, dtype=np.float64) / 1e6
    unit = float(crs.axis_info[0].unit_conversion_factor)  # metres per CRS unit
    planar: NDArray[np.float64] = footprints.geometry.area.to_numpy(dtype=np.float64)
    return planar * unit**2 / 1e6


def read_cost_file(
    path: str | os.PathLike[str], ids: Sequence[str], fill_missing: bool = False
) -> NDArray[np.float64]:
    """The cost of every pool item from a CSV of ``id,cost``.

    Args:
        path: the CSV (e.g. written from a labelling log).
        ids: the pool ids, in pool order.
        fill_missing: price the pool items the file does not list at the
            median of those it does (a labelling log covers only the patches
            drawn so far); False: refuse them.

    Returns:
        The costs in pool order.

    Raises:
        ValueError: If the file is missing, lacks the columns, has a cost that
            is not a number >= 0, or leaves pool items without a cost.
    """
    source = Path(path)
    if not source.is_file():
        msg = f'cost file {os.fspath(source)!r} does not exist'
        raise ValueError(msg)
    table = pd.read_csv(source, dtype={'id': str})
    if not {'id', 'cost'} <= set(table.columns):
        msg = (
            f'cost file {os.fspath(source)!r} must have the columns id and cost,'
            f' got {list(table.columns)}'
        )
        raise ValueError(msg)
    costs = pd.to_numeric(table['cost'], errors='coerce')
    bad = table['id'][~(costs >= 0)]
    if len(bad):
        msg = (
            f'cost file {os.fspath(source)!r}: the cost of {list(bad[:5])} is not a'
            ' number >= 0'
        )
        raise ValueError(msg)
    by_id = dict(zip(table['id'], costs, strict=True))
    missing = [i for i in ids if i not in by_id]
    known = [by_id[i] for i in ids if i in by_id]
    if missing and fill_missing and known:
        typical = float(np.median(known))
        return np.asarray([by_id.get(i, typical) for i in ids], dtype=np.float64)
    if missing:
        msg = (
            f'cost file {os.fspath(source)!r} has no cost for {len(missing)} pool'
            f' item(s), e.g. {missing[:5]}'
        )
        raise ValueError(msg)
    return np.asarray([by_id[i] for i in ids], dtype=np.float64)


def item_measures(
    ids: Sequence[str],
    footprints: gpd.GeoDataFrame | None,
    units: Sequence[str],
    cost_model: str = 'constant',
    cost_file: str | os.PathLike[str] | None = None,
) -> dict[str, NDArray[np.float64]]:
    """The price of every pool item in each unit that can be measured.

    Args:
        ids: the pool ids.
        footprints: their footprints in pool order (georeferenced pools), or
            None.
        units: the units that must be measured (the budget's); ``items`` and
            ``fraction`` always are, ``pixels`` and ``area_km2`` whenever the
            footprints are a patch grid.
        cost_model: one of :data:`COST_MODELS`.
        cost_file: the CSV of the ``file`` model (pool items it does not list
            are priced at the median of those it does; none listed is an error).

    Returns:
        Unit -> prices in pool order: ``fraction``, ``items``, and ``pixels``,
        ``area_km2`` (georeferenced pools), ``cost``.

    Raises:
        ValueError: If a unit asked for cannot be measured on this pool, or the
            cost model is unknown or incomplete.
    """
    if cost_model not in COST_MODELS:
        msg = f'cost model must be one of {list(COST_MODELS)}, got {cost_model!r}'
        raise ValueError(msg)
    if cost_model == 'file' and cost_file is None:
        msg = 'cost model file needs cost_file (a CSV of id,cost)'
        raise ValueError(msg)
    n = len(ids)
    measures = {'fraction': np.full(n, 1 / n), 'items': np.ones(n)}
    spatial = {'pixels', 'area_km2'} & set(units) or (
        {'area_km2'} if cost_model == 'area' else set()
    )
    gridded = footprints is not None and {'path', 'row', 'col'} <= set(
        footprints.columns
    )
    if spatial and not gridded:
        msg = (
            f'budgets in {sorted(spatial)} need a georeferenced pool (a'
            ' GeoSegmentationDataModule); this pool has no patch footprints; use'
            ' items or fraction'
        )
        raise ValueError(msg)
    if gridded:
        assert footprints is not None
        pixels, whole = valid_pixel_counts(footprints)
        measures['pixels'] = pixels
        measures['area_km2'] = footprint_area_km2(footprints) * pixels / whole
    if cost_model == 'constant':
        measures['cost'] = np.ones(n)
    elif cost_model == 'area':
        measures['cost'] = measures['area_km2']
    else:
        assert cost_file is not None
        measures['cost'] = read_cost_file(cost_file, ids, fill_missing=True)
    return measures


def selection_prices(
    prices: Mapping[str, NDArray[np.float64]],
) -> dict[str, NDArray[np.float64]]:
    """The per-item prices written next to a selection.

    Args:
        prices: unit -> price of every pool item.

    Returns:
        ``valid_pixels``, ``area_km2`` (georeferenced pools) and ``cost``.
    """
    names = {'pixels': 'valid_pixels', 'area_km2': 'area_km2', 'cost': 'cost'}
    return {names[k]: v for k, v in prices.items() if k in names}
