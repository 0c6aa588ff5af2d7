"""Polygons of a predicted class raster, per class, in the raster's CRS."""

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import shapely
from rasterio.windows import Window

from ..files import atomic_write

__all__ = ('vectorize_classes', 'write_vectors')

#: Pixels read at a time when vectorizing (rows of the full width).
STRIP_PIXELS = 2**24


def vectorize_classes(
    path: str | os.PathLike[str], classes: Sequence[str], min_area: float = 0.0
) -> gpd.GeoDataFrame:
    """Turn a class raster into polygons, one per connected region of a class.

    The raster is read in strips of full rows, so memory does not grow with its
    height; regions cut by a strip border are merged again. Nodata pixels make
    no polygon.

    Args:
        path: class GeoTIFF (e.g. ``<stem>_classes.tif``).
        classes: class names, index order.
        min_area: drop polygons smaller than this many pixels.

    Returns:
        Columns ``class`` (index), ``class_name``, ``pixels`` and the polygon,
        in the raster's CRS.
    """
    with rasterio.open(path) as src:
        nodata = src.nodata
        transform = src.transform
        strip = max(1, min(src.height, STRIP_PIXELS // max(src.width, 1)))
        inner: list[tuple[shapely.Polygon, int]] = []
        cut: list[tuple[shapely.Polygon, int]] = []
        for top in range(0, src.height, strip):
            window = Window(0, top, src.width, min(strip, src.height - top))
            data = src.read(1, window=window)
            local = src.window_transform(window)
            valid = data != nodata if nodata is not None else None
            borders = []
            if top > 0:
                borders.append(
                    shapely.LineString([local * (0, 0), local * (src.width, 0)])
                )
            if top + data.shape[0] < src.height:
                bottom = data.shape[0]
                borders.append(
                    shapely.LineString(
                        [local * (0, bottom), local * (src.width, bottom)]
                    )
                )
            for geometry, value in rasterio.features.shapes(
                data, mask=valid, transform=local, connectivity=4
            ):
                polygon = shapely.geometry.shape(geometry)
                target = cut if any(polygon.intersects(b) for b in borders) else inner
                target.append((polygon, int(value)))
        crs = src.crs
    merged = list(inner)
    for value in sorted({v for _, v in cut}):
        union = shapely.union_all([p for p, v in cut if v == value])
        merged.extend((part, value) for part in shapely.get_parts(union))
    pixel_area = abs(transform.a * transform.e - transform.b * transform.d)
    frame = gpd.GeoDataFrame(
        {
            'class': pd.Series([v for _, v in merged], dtype='int64'),
            'class_name': pd.Series(
                [classes[v] if v < len(classes) else str(v) for _, v in merged],
                dtype='object',
            ),
            'pixels': pd.Series(
                [round(p.area / pixel_area) for p, _ in merged], dtype='int64'
            ),
        },
        geometry=gpd.GeoSeries([p for p, _ in merged], crs=crs),
        crs=crs,
    )
    if min_area > 0:
        kept = frame[frame['pixels'] >= min_area]
        if len(frame) and not len(kept):
            warnings.warn(
                f'--min_area {min_area:g} drops every one of the {len(frame)}'
                f' polygons of {os.fspath(path)!r} (the largest has'
                f' {int(frame["pixels"].max())} pixels): its layer is empty',
                UserWarning,
                stacklevel=2,
            )
        frame = kept
    order = np.lexsort((-frame['pixels'].to_numpy(), frame['class'].to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


def write_vectors(
    path: str | os.PathLike[str],
    rasters: Sequence[tuple[str, Path]],
    classes: Sequence[str],
    min_area: float = 0.0,
) -> list[str]:
    """Write the polygons of class rasters to one GeoPackage, a layer each.

    The file is written under a temporary name and renamed when complete.

    Args:
        path: the GeoPackage.
        rasters: (layer name, class raster) pairs.
        classes: class names.
        min_area: drop polygons smaller than this many pixels.

    Returns:
        The layer names.
    """
    path = Path(path)
    layers = []
    with atomic_write(path) as tmp:
        for layer, raster in rasters:
            frame = vectorize_classes(raster, classes, min_area)
            frame.to_file(tmp, layer=layer, driver='GPKG')
            layers.append(layer)
    return layers
