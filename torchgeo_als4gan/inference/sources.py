"""Input rasters of a prediction: opened, checked against the model, read by window."""

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.errors
import torch
from rasterio.crs import CRS
from rasterio.windows import Window
from torch import Tensor

from ..checks import check_georeferenced
from ..datasets.raster_io import raster_header, resolve_bands
from ..files import check_output_folder
from ..samplers.tiles import TileGrid
from .geotiff import valid_pixels

__all__ = (
    'RasterPredictionError',
    'RasterSource',
    'check_vector_path',
    'read_tile',
    'read_valid',
)


class RasterPredictionError(RuntimeError):
    """Reading a raster failed during prediction (the message names the window)."""


@dataclass
class RasterSource:
    """An input raster checked against the model.

    Attributes:
        path: the file.
        crs: its CRS (or the override).
        transform: its geotransform.
        width: columns.
        height: rows.
        nodata: fill value of padded reads.
        indexes: 1-based bands read (None: all).
    """

    path: Path
    crs: CRS
    transform: rasterio.Affine
    width: int
    height: int
    nodata: float = 0.0
    indexes: list[int] | None = None
    #: Whether the pixels are floating point (and may be NaN / inf).
    floating: bool = False
    #: NaN / inf pixels met so far (nodata in the outputs).
    non_finite: int = 0
    stem: str = field(init=False)

    def __post_init__(self) -> None:
        """Derive the output stem."""
        self.stem = self.path.stem

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        bands: int,
        crs: CRS | None,
        selection: Sequence[int | str] | None = None,
    ) -> 'RasterSource':
        """Check that a raster exists, is readable and fits the model.

        Args:
            path: the raster.
            bands: bands the model was trained on.
            crs: CRS to use when the raster has none.
            selection: bands to read, as 1-based indexes or band descriptions
                (None: all).

        Returns:
            The checked source.

        Raises:
            FileNotFoundError: If the file does not exist.
            ValueError: If it is not a raster, a selected band does not exist,
                it gives another band count, has no geotransform, has no CRS and
                none is given, or a CRS different from ``crs``.
        """
        path = Path(path)
        if not path.is_file():
            msg = f'--input {os.fspath(path)!r} is not a file'
            raise FileNotFoundError(msg)
        try:
            header = raster_header(path)
            with rasterio.open(path) as src:
                own = src.crs
                transform, width, height = src.transform, src.width, src.height
                nodata = src.nodata
                floating = np.dtype(src.dtypes[0]).kind == 'f'
        except (rasterio.errors.RasterioIOError, OSError) as error:
            msg = f'--input {os.fspath(path)!r} is not a raster GDAL can read: {error}'
            raise ValueError(msg) from error
        indexes = resolve_bands(selection, header, os.fspath(path), '--bands')
        count = header.bands if indexes is None else len(indexes)
        if count != bands:
            chosen = f' ({len(indexes)} selected)' if indexes is not None else ''
            msg = (
                f'{os.fspath(path)!r} has {header.bands} band(s){chosen} but the'
                f' model was trained on {bands} (in_channels); choose the bands'
                ' with --bands (1-based indexes or band descriptions, e.g.'
                f' --bands {" ".join(str(i + 1) for i in range(bands))})'
            )
            raise ValueError(msg)
        check_georeferenced(path, '--input', crs, '--crs')
        if own is not None and crs is not None and CRS.from_user_input(own) != crs:
            msg = (
                f'{os.fspath(path)!r} already has CRS {own}; --crs {crs} is only'
                ' for rasters without one'
            )
            raise ValueError(msg)
        chosen_crs = own if own is not None else crs
        assert chosen_crs is not None
        fill = 0.0 if nodata is None or not np.isfinite(nodata) else float(nodata)
        return cls(path, chosen_crs, transform, width, height, fill, indexes, floating)


def check_vector_path(vector: str | os.PathLike[str]) -> Path:
    """Check a ``--vector`` GeoPackage path before any tile is predicted.

    Args:
        vector: the GeoPackage to write.

    Returns:
        The path.

    Raises:
        ValueError: If it is a folder or not a ``.gpkg`` file name.
        OSError: If its folder cannot be written to.
    """
    path = Path(vector)
    if path.is_dir():
        msg = f'--vector {os.fspath(path)!r} is a folder; give a .gpkg file name'
        raise ValueError(msg)
    if path.suffix.lower() != '.gpkg':
        msg = f'--vector {os.fspath(path)!r} must be a GeoPackage file name (.gpkg)'
        raise ValueError(msg)
    check_output_folder(path.parent, '--vector folder')
    return path


def read_tile(
    src: Any, source: RasterSource, grid: TileGrid, row: int, col: int
) -> Tensor:
    """One tile of the grid, padded with nodata where it passes the edge.

    Args:
        src: the open raster.
        source: its description.
        grid: the tile grid.
        row: top row.
        col: left column.

    Returns:
        [bands, patch, patch] float32 tensor (NaN / inf set to nodata).

    Raises:
        RasterPredictionError: If the read fails (the message names the window).
    """
    window = Window(col, row, grid.patch, grid.patch)
    boundless = grid.patch > source.height or grid.patch > source.width
    try:
        data = src.read(
            indexes=source.indexes, window=window, boundless=boundless,
            fill_value=source.nodata, out_dtype='float32',
        )  # fmt: skip
    except (rasterio.errors.RasterioError, OSError) as error:
        msg = (
            f'{os.fspath(source.path)!r}: reading the window at row {row}, column'
            f' {col} ({grid.patch}x{grid.patch} pixels) failed: {error}'
        )
        raise RasterPredictionError(msg) from error
    if source.floating:  # NaN / inf are nodata: 0 here, masked by read_valid
        data[~np.isfinite(data)] = source.nodata
    return torch.from_numpy(data)


def read_valid(
    src: Any, source: RasterSource, row: int, col: int, h: int, w: int
) -> Tensor:
    """Pixels of a window that are not nodata (GDAL's dataset mask).

    Args:
        src: the open raster.
        source: its description (for messages).
        row: top row.
        col: left column.
        h: rows.
        w: columns.

    Returns:
        [h, w] bool tensor.

    Raises:
        RasterPredictionError: If the read fails (the message names the window).
    """
    try:
        window = Window(col, row, w, h)
        if source.indexes is None:
            mask = src.dataset_mask(window=window)
        else:  # valid where any selected band is
            mask = src.read_masks(source.indexes, window=window).max(axis=0)
    except (rasterio.errors.RasterioError, OSError) as error:
        msg = (
            f'{os.fspath(source.path)!r}: reading the nodata mask of the window at'
            f' row {row}, column {col} ({w}x{h} pixels) failed: {error}'
        )
        raise RasterPredictionError(msg) from error
    valid = valid_pixels(mask)
    if source.floating:
        finite = np.isfinite(src.read(source.indexes, window=window)).all(axis=0)
        source.non_finite += int((~finite & valid.numpy()).sum())
        valid &= torch.from_numpy(finite)
    return valid
