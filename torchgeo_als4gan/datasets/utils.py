"""Helpers shared by the datasets: windowed raster reads, splits and id lists."""

import os
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import rasterio
import rasterio.errors
import torch
from numpy.typing import NDArray
from rasterio.windows import Window
from torch import Tensor

__all__ = (
    'RasterHeader',
    'check_complete_png',
    'grid_windows',
    'mask_labels',
    'raster_header',
    'raster_shape',
    'read_id_list',
    'read_window',
    'resolve_bands',
    'seeded_split',
    'stratified_split',
    'strip_image_extension',
)

Split = dict[str, list[int]]


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
        with (
            warnings.catch_warnings(),
            rasterio.Env(GDAL_ERROR_ON_LIBJPEG_WARNING=True),
        ):
            warnings.simplefilter('ignore', rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                if src.driver not in _UNTILED_DRIVERS:
                    return None
                size = (
                    src.count
                    * src.height
                    * src.width
                    * np.dtype(src.dtypes[0]).itemsize
                )
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
        with (
            warnings.catch_warnings(),
            rasterio.Env(GDAL_ERROR_ON_LIBJPEG_WARNING=True),
        ):
            # a truncated JPEG is only a libjpeg warning by default: make it an error
            warnings.simplefilter('ignore', rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                r0, c0 = max(row, 0), max(col, 0)
                r1 = min(row + height, src.height)
                c1 = min(col + width, src.width)
                count = src.count if indexes is None else len(indexes)
                if r1 <= r0 or c1 <= c0:
                    return np.zeros((count, 0, 0), dtype=src.dtypes[0]), (0, 0)
                window = Window(c0, r0, c1 - c0, r1 - r0)
                data = src.read(
                    indexes=list(indexes) if indexes is not None else None,
                    window=window,
                )
    except rasterio.errors.RasterioError as err:
        msg = f'Cannot read raster file {os.fspath(path)!r}: {err}'
        raise OSError(msg) from err
    return data, (r0 - row, c0 - col)


#: Extensions stripped from ids in id lists (ALS4GAN stored file names).
IMAGE_EXTENSIONS = ('.tif', '.tiff', '.png', '.jpg', '.jpeg', '.jp2')


def strip_image_extension(name: str) -> str:
    """An id without a trailing image file extension (``a/b.tif`` -> ``a/b``).

    Only image extensions are stripped: ids may hold folders (``town/tile_0``)
    and dots (``scene.v2_r0_c0``).

    Args:
        name: an id or file name.

    Returns:
        The id.
    """
    stem, ext = os.path.splitext(name)
    return stem if ext.lower() in IMAGE_EXTENSIONS else name


def read_id_list(path: str | os.PathLike[str]) -> list[str]:
    """Read an id list in the ALS4GAN format: one id per line, no extension.

    Blank lines and surrounding white space are ignored; a trailing file extension
    (for example ``agricultural05.tif``) is stripped.

    Args:
        path: text file.

    Returns:
        The ids in file order, duplicates removed.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file contains no ids.
    """
    if not os.path.isfile(path):
        msg = f'Id list file {os.fspath(path)!r} does not exist'
        raise FileNotFoundError(msg)
    ids: list[str] = []
    for line in Path(path).read_text().splitlines():
        name = line.strip()
        if not name:
            continue
        name = strip_image_extension(name)
        if name not in ids:
            ids.append(name)
    if not ids:
        msg = f'Id list file {os.fspath(path)!r} contains no ids'
        raise ValueError(msg)
    return ids


def _check_fractions(fractions: Sequence[float]) -> None:
    if len(fractions) != 3 or any(f < 0 for f in fractions):
        msg = f'split_fractions must be three non-negative numbers, got {fractions}'
        raise ValueError(msg)
    if not np.isclose(sum(fractions), 1.0):
        msg = f'split_fractions must sum to 1, got {fractions} (sum {sum(fractions)})'
        raise ValueError(msg)


def seeded_split(n: int, fractions: Sequence[float], seed: int) -> Split:
    """Split ``range(n)`` into train/val/test at random with a fixed seed.

    Args:
        n: number of items.
        fractions: train, val and test fractions (sum to 1).
        seed: seed of the permutation.

    Returns:
        Sorted item indices per split name.
    """
    return stratified_split([0] * n, fractions, seed)


def stratified_split(
    labels: Sequence[int], fractions: Sequence[float], seed: int
) -> Split:
    """Split items into train/val/test per class with a fixed seed.

    Within each class the items are permuted with a generator seeded by ``seed``;
    ``round(n * f_val)`` go to val, ``round(n * f_test)`` to test and the rest to
    train, so every class is represented in proportion.

    Args:
        labels: class of each item.
        fractions: train, val and test fractions (sum to 1).
        seed: seed of the permutations.

    Returns:
        Sorted item indices per split name.
    """
    _check_fractions(fractions)
    rng = np.random.default_rng(seed)
    out: Split = {'train': [], 'val': [], 'test': []}
    label_array = np.asarray(labels)
    for cls in np.unique(label_array):
        items = np.flatnonzero(label_array == cls)
        items = items[rng.permutation(len(items))]
        n_val = round(len(items) * fractions[1])
        n_test = round(len(items) * fractions[2])
        out['val'].extend(items[:n_val].tolist())
        out['test'].extend(items[n_val : n_val + n_test].tolist())
        out['train'].extend(items[n_val + n_test :].tolist())
    return {key: sorted(value) for key, value in out.items()}


def grid_windows(
    height: int, width: int, size: int, stride: int
) -> list[tuple[int, int]]:
    """Top-left corners of a grid of square windows covering an image.

    The grid starts at (0, 0); the last row and column of windows reach past the
    image when it is not a multiple of the stride, so every pixel is covered (the
    caller pads) and nothing is dropped.

    Args:
        height: image height.
        width: image width.
        size: window side.
        stride: step between windows.

    Returns:
        (row, col) of each window, row-major.

    Raises:
        ValueError: If ``size`` or ``stride`` is not positive.
    """
    if size <= 0 or stride <= 0:
        msg = f'size and stride must be positive, got size={size}, stride={stride}'
        raise ValueError(msg)
    n_rows = max(-(-(height - size) // stride), 0) + 1
    n_cols = max(-(-(width - size) // stride), 0) + 1
    return [(r * stride, c * stride) for r in range(n_rows) for c in range(n_cols)]


def mask_labels(
    mask: Tensor, num_classes: int, ignore_index: int, presence_threshold: float
) -> dict[str, Tensor]:
    """Image-level labels of a patch derived from its segmentation mask.

    Args:
        mask: class indices [H, W]; ``ignore_index`` marks unlabelled pixels.
        num_classes: number of segmentation classes.
        ignore_index: mask value without a label.
        presence_threshold: fraction of the labelled pixels a class must cover to
            count as present.

    Returns:
        ``label``: the dominant class (``ignore_index`` when no pixel is
        labelled), and ``label_multi``: float multi-hot presence [num_classes].
    """
    valid = mask[(mask != ignore_index) & (mask >= 0) & (mask < num_classes)]
    counts = torch.bincount(valid.long(), minlength=num_classes).float()
    if valid.numel():
        dominant = int(counts.argmax())
        multi = (counts / valid.numel() >= presence_threshold).float()
    else:
        dominant = ignore_index
        multi = torch.zeros(num_classes)
    return {'label': torch.tensor(dominant), 'label_multi': multi}
