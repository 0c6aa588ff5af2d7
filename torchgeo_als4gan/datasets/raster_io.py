"""Raster files as the datasets read them: headers, band choice, windowed reads."""

import contextlib
import os
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import rasterio
import rasterio.errors
from numpy.typing import NDArray
from rasterio.windows import Window

__all__ = (
    'RasterHeader',
    'check_complete_png',
    'raster_header',
    'raster_shape',
    'read_window',
    'resolve_bands',
)


class RasterHeader(NamedTuple):
    """What a raster's header says about its pixels."""

    #: Number of bands.
    bands: int
    #: Rows.
    height: int
    #: Columns.
    width: int
    #: Description of each band (``''`` where there is none).
    descriptions: tuple[str, ...]


#: Last 12 bytes of every complete PNG file (the IEND chunk).
_PNG_END = b'\x00\x00\x00\x00IEND\xaeB`\x82'


def check_complete_png(path: str | os.PathLike[str]) -> None:
    """Refuse a PNG file that is cut short.

    GDAL reads a truncated PNG without any error, as different garbage on every
    read; a complete PNG always ends with its IEND chunk.

    Args:
        path: a ``.png`` file.

    Raises:
        OSError: If the file does not end with the PNG end marker.
    """
    with open(path, 'rb') as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(size - len(_PNG_END), 0))
        tail = f.read()
    if tail != _PNG_END:
        msg = (
            f'Cannot read raster file {os.fspath(path)!r}: the PNG is truncated or'
            f' damaged (it does not end with the PNG end marker; {size} bytes)'
        )
        raise OSError(msg)


def raster_header(path: str | os.PathLike[str]) -> RasterHeader:
    """Read the band count, size and band descriptions of a raster file.

    PNG files are also checked to be complete (see :func:`check_complete_png`).

    Args:
        path: file any rasterio driver reads (GeoTIFF, PNG, JPEG, ...).

    Returns:
        The header.

    Raises:
        OSError: If the file cannot be opened or is a truncated PNG; the message
            names the file.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                header = RasterHeader(
                    src.count,
                    src.height,
                    src.width,
                    tuple(d or '' for d in src.descriptions),
                )
                driver = src.driver
    except rasterio.errors.RasterioIOError as err:
        msg = f'Cannot read raster file {os.fspath(path)!r}: {err}'
        raise OSError(msg) from err
    if driver == 'PNG':
        check_complete_png(path)
    return header


def raster_shape(path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """Read the (bands, height, width) of a raster file from its header.

    Args:
        path: file any rasterio driver reads (GeoTIFF, PNG, JPEG, ...).

    Returns:
        Number of bands, height and width.

    Raises:
        OSError: If the file cannot be opened; the message names the file.
    """
    header = raster_header(path)
    return header.bands, header.height, header.width


def resolve_bands(
    bands: Sequence[int | str] | None, header: RasterHeader, path: str, name: str
) -> list[int] | None:
    """Turn a band selection into 1-based band indexes of one file.

    Args:
        bands: 1-based band indexes (``[1, 2, 3]``) or band descriptions
            (``['red', 'green', 'blue']``), mixed allowed; None for all bands.
        header: the file's header.
        path: the file, for the message.
        name: the argument, for the message (``bands``, ``--bands``).

    Returns:
        The indexes, or None for all bands.

    Raises:
        ValueError: If a band does not exist in the file or none is given (the
            message lists the file's bands).
    """
    if bands is None:
        return None
    if isinstance(bands, str | int):
        bands = [bands]
    if len(bands) == 0:
        msg = f'{name} must name at least one band, got an empty list'
        raise ValueError(msg)
    described = {d: i + 1 for i, d in enumerate(header.descriptions) if d}
    indexes = []
    for band in bands:
        if isinstance(band, str) and band in described:
            indexes.append(described[band])
            continue
        text = str(band).strip()
        if (
            isinstance(band, int | str)
            and not isinstance(band, bool)
            and text.isdigit()
            and 1 <= int(text) <= header.bands
        ):
            indexes.append(int(text))
            continue
        listing = ', '.join(
            f'{i + 1}' + (f' {d!r}' if d else '')
            for i, d in enumerate(header.descriptions)
        )
        msg = (
            f'{name}: {band!r} is not a band of {path!r}, which has'
            f' {header.bands} band(s): {listing} (give 1-based indexes or band'
            ' descriptions)'
        )
        raise ValueError(msg)
    return indexes


#: Drivers whose files are not tiled: a window read decodes the file from its
#: start (a 128 px window of a 2448 px DeepGlobe JPEG took 74 ms), so these
#: files are decoded once and kept in memory (see :func:`_decoded`).
_UNTILED_DRIVERS = frozenset({'JPEG', 'PNG'})

#: Memory the decoded untiled images of one process may hold, in MiB
#: (environment variable ``ALS4GAN_DECODE_CACHE_MB``; 0 turns the cache off).
_CACHE_MB_DEFAULT = 2048

_decode_cache: (
    'OrderedDict[tuple[str, float, tuple[int, ...] | None], NDArray[np.generic]]'
)
_decode_cache = OrderedDict()


@contextlib.contextmanager
def _open_strict(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Open a raster for reading, a truncated JPEG being an error.

    libjpeg reports a truncated file only as a warning by default; plain
    (not georeferenced) images read without a warning.
    """
    with warnings.catch_warnings(), rasterio.Env(GDAL_ERROR_ON_LIBJPEG_WARNING=True):
        warnings.simplefilter('ignore', rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            yield src


def _decoded(path: str, indexes: Sequence[int] | None) -> NDArray[np.generic] | None:
    """The whole decoded array of an untiled (JPEG/PNG) file, cached; else None.

    Least recently used arrays are dropped beyond the memory budget; a file
    changed on disk (another modification time) is read again.
    """
    limit = int(os.environ.get('ALS4GAN_DECODE_CACHE_MB', _CACHE_MB_DEFAULT)) << 20
    if limit <= 0 or not path.lower().endswith(('.jpg', '.jpeg', '.png')):
        return None
    try:
        key = (path, os.stat(path).st_mtime, tuple(indexes) if indexes else None)
    except OSError:
        return None
    if key in _decode_cache:
        _decode_cache.move_to_end(key)
        return _decode_cache[key]
    try:
        with _open_strict(path) as src:
            if src.driver not in _UNTILED_DRIVERS:
                return None
            size = src.count * src.height * src.width * np.dtype(src.dtypes[0]).itemsize
            if size > limit:
                return None
            data: NDArray[np.generic] = src.read(
                indexes=list(indexes) if indexes else None
            )
    except rasterio.errors.RasterioError as err:
        msg = f'Cannot read raster file {path!r}: {err}'
        raise OSError(msg) from err
    _decode_cache[key] = data
    while sum(a.nbytes for a in _decode_cache.values()) > limit:
        _decode_cache.popitem(last=False)
    return data


def read_window(
    path: str | os.PathLike[str],
    row: int,
    col: int,
    height: int,
    width: int,
    indexes: Sequence[int] | None = None,
) -> tuple[NDArray[np.generic], tuple[int, int]]:
    """Read the part of a window that lies inside a raster.

    The window may extend past the raster edges; only the overlapping part is read
    and the caller pads the rest.

    Args:
        path: raster file.
        row: top row of the window (may be negative).
        col: left column of the window (may be negative).
        height: window height in pixels.
        width: window width in pixels.
        indexes: 1-based bands to read (None: all).

    Returns:
        The array (bands, h, w) of the overlapping part, and its (row, col) offset
        inside the requested window.

    Raises:
        OSError: If the file cannot be opened or decoded; the message names the file.
    """
    whole = _decoded(os.fspath(path), indexes)
    if whole is not None:
        r0, c0 = max(row, 0), max(col, 0)
        r1 = min(row + height, whole.shape[1])
        c1 = min(col + width, whole.shape[2])
        if r1 <= r0 or c1 <= c0:
            return np.zeros((whole.shape[0], 0, 0), dtype=whole.dtype), (0, 0)
        return whole[:, r0:r1, c0:c1].copy(), (r0 - row, c0 - col)
    try:
        with _open_strict(path) as src:
            r0, c0 = max(row, 0), max(col, 0)
            r1 = min(row + height, src.height)
            c1 = min(col + width, src.width)
            count = src.count if indexes is None else len(indexes)
            if r1 <= r0 or c1 <= c0:
                return np.zeros((count, 0, 0), dtype=src.dtypes[0]), (0, 0)
            window = Window(c0, r0, c1 - c0, r1 - r0)
            data = src.read(
                indexes=list(indexes) if indexes is not None else None, window=window
            )
    except rasterio.errors.RasterioError as err:
        msg = f'Cannot read raster file {os.fspath(path)!r}: {err}'
        raise OSError(msg) from err
    return data, (r0 - row, c0 - col)
