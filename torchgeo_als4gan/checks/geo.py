"""Rasters and vectors missing what makes them geographic: one reader for each."""

import os
import warnings
from collections.abc import Sequence
from typing import Any

import rasterio
import rasterio.errors

__all__ = ('check_georeferenced', 'read_vector')


def check_georeferenced(
    path: str | os.PathLike[str],
    argument: str = 'paths',
    crs: Any = None,
    crs_option: str | None = None,
) -> None:
    """Refuse a raster that cannot be placed on a map, naming the file and the fix.

    Args:
        path: the raster.
        argument: the option that named it, for the message.
        crs: the CRS given for rasters without one (None: none given).
        crs_option: the option that gives that CRS, for the message (None:
            the command has none).

    Raises:
        ValueError: If the file is not a raster GDAL reads (truncated, another
            format), has no geotransform or ground control points, or has no
            CRS and none is given.
    """
    name = os.fspath(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(name) as src:
                transform, gcps, own = src.transform, src.gcps[0], src.crs
                last = ((src.height - 1, src.height), (src.width - 1, src.width))
                src.read(src.count, window=last)  # a truncated file fails here
    except rasterio.errors.RasterioError as error:
        msg = (
            f'{argument}: {name!r} is not a raster GDAL can read (truncated, damaged'
            f' or another format): {str(error).splitlines()[0]}'
        )
        raise ValueError(msg) from None
    if transform.is_identity and not gcps:
        msg = (
            f'{argument}: {name!r} has no geotransform (its pixels are not tied to'
            ' map coordinates); georeference it first, e.g. gdal_translate -a_srs'
            ' EPSG:XXXX -a_ullr <ulx> <uly> <lrx> <lry> in.tif out.tif'
        )
        raise ValueError(msg)
    if own is None and crs is None:
        given = (
            f'give it with {crs_option} (e.g. {crs_option} EPSG:32633) or '
            if crs_option
            else ''
        )
        msg = (
            f'{argument}: {name!r} has no CRS; {given}write it into the file'
            ' (gdal_edit.py -a_srs EPSG:32633 file.tif)'
        )
        raise ValueError(msg)


def read_vector(
    path: str | os.PathLike[str],
    argument: str,
    layer: str | int | None = None,
    columns: Sequence[str] = (),
    need_crs: bool = True,
) -> Any:
    """Read a vector file (GeoPackage, Shapefile, GeoJSON, ...) a user gave.

    Args:
        path: the file.
        argument: the option that named it, for the message.
        layer: the layer to read (None: the first).
        columns: attributes that must exist.
        need_crs: refuse a file without a CRS (a Shapefile without ``.prj``)
            instead of guessing one.

    Returns:
        The GeoDataFrame.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not a vector file, has no CRS or lacks a column.
    """
    import geopandas as gpd

    name = os.fspath(path)
    if not os.path.exists(name):
        msg = f'{argument} {name!r} does not exist'
        raise FileNotFoundError(msg)
    try:
        frame = gpd.read_file(name, layer=layer)
    except Exception as error:  # pyogrio/fiona raise their own error types
        msg = (
            f'{argument} {name!r} is not a vector file geopandas can read'
            f' (GeoPackage, Shapefile, GeoJSON, ...): {str(error).splitlines()[0]}'
        )
        raise ValueError(msg) from None
    if need_crs and frame.crs is None and len(frame):
        hint = (
            ' (a Shapefile needs its .prj next to it)'
            if name.lower().endswith('.shp')
            else ''
        )
        msg = (
            f'{argument} {name!r} has no CRS{hint}: its coordinates cannot be'
            ' placed on the imagery. Add the CRS to the file, e.g. ogr2ogr -a_srs'
            ' EPSG:32618 fixed.gpkg input.shp'
        )
        raise ValueError(msg)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        msg = (
            f'{argument} {name!r} has no attribute(s) {missing}; it has'
            f' {[c for c in frame.columns if c != "geometry"]}'
        )
        raise ValueError(msg)
    return frame
