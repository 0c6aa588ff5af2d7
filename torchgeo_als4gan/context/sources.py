"""Where and when: patch centres in lon/lat, acquisition dates from names, tags or tables.

* Location of a georeferenced patch: the centre of its bounds in the dataset
  CRS, reprojected to EPSG:4326 (pyproj).
* Date of a raster file, first that applies: a sidecar CSV ``file, date``; the
  file name with TorchGeo's ``filename_regex`` convention (a ``date`` group
  parsed with ``date_format``); a GeoTIFF tag (:data:`DATE_TAGS`).
* Non-georeferenced items (UC Merced tiles, tile folders): a CSV ``id, lat,
  lon, date``.
"""

import datetime
import os
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import pandas as pd
import rasterio
from pyproj import CRS, Transformer

__all__ = (
    'DATE_TAGS',
    'file_date',
    'lonlat_of_bounds',
    'raster_location',
    'read_context_table',
    'read_date_table',
    'resolve_dates',
)

#: GeoTIFF / GDAL metadata tags read for an acquisition date, in this order.
DATE_TAGS = (
    'ACQUISITIONDATETIME', 'ACQUISITION_DATETIME', 'ACQUISITION_DATE',
    'DATE_ACQUIRED', 'TIFFTAG_DATETIME',
)  # fmt: skip

#: How the ways to give dates are described in errors.
HOW_TO_DATE = (
    "give dates as a CSV of 'file, date' (date_table), in the file names"
    ' (filename_regex with a (?P<date>...) group and date_format) or in a GeoTIFF'
    f' tag ({", ".join(DATE_TAGS)})'
)


@lru_cache(maxsize=64)
def _to_lonlat(crs_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(crs_wkt), 'EPSG:4326', always_xy=True)


def raster_location(path: str | os.PathLike[str]) -> tuple[float, float]:
    """Latitude and longitude of the centre of a georeferenced raster.

    Args:
        path: a GeoTIFF (or any raster GDAL reads).

    Returns:
        ``(lat, lon)`` in degrees.

    Raises:
        ValueError: If the file has no CRS (not georeferenced).
    """
    with rasterio.open(path) as src:
        crs, bounds = src.crs, tuple(src.bounds)
    if crs is None:
        msg = f'{os.fspath(path)!r} has no CRS: its location cannot be read'
        raise ValueError(msg)
    return lonlat_of_bounds(bounds, crs.to_wkt())


def lonlat_of_bounds(
    bounds: Sequence[float], crs: CRS | str | int
) -> tuple[float, float]:
    """Latitude and longitude of the centre of a patch.

    Args:
        bounds: ``(xmin, ymin, xmax, ymax)`` in ``crs``.
        crs: the patch CRS.

    Returns:
        ``(lat, lon)`` in degrees (EPSG:4326).

    Raises:
        ValueError: If the centre does not reproject to a valid lon/lat.
    """
    xmin, ymin, xmax, ymax = bounds
    wkt = CRS.from_user_input(crs).to_wkt()
    lon, lat = _to_lonlat(wkt).transform((xmin + xmax) / 2, (ymin + ymax) / 2)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        msg = (
            f'the centre of bounds {tuple(bounds)} in {CRS.from_user_input(crs).name}'
            f' is not a valid location (lon {lon}, lat {lat})'
        )
        raise ValueError(msg)
    return float(lat), float(lon)


def _parse_date(text: str, date_format: str | None = None) -> datetime.datetime:
    text = text.strip()
    if date_format is not None:
        return datetime.datetime.strptime(text, date_format)
    for layout in ('%Y:%m:%d %H:%M:%S', '%Y%m%dT%H%M%S', '%Y%m%d'):  # TIFF, Sentinel
        try:
            return datetime.datetime.strptime(text, layout)
        except ValueError:
            pass
    return datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))


def file_date(
    path: str | os.PathLike[str],
    filename_regex: str | None = None,
    date_format: str = '%Y%m%d',
    table: dict[str, datetime.datetime] | None = None,
) -> datetime.datetime | None:
    """The acquisition date of one raster file, or None if nothing gives it.

    Args:
        path: the file.
        filename_regex: regex of the file name with a ``date`` group.
        date_format: ``strptime`` format of that group.
        table: file name -> date (:func:`read_date_table`), first choice.

    Returns:
        The date, or None.

    Raises:
        ValueError: If ``filename_regex`` has no ``date`` group, or a name or
            tag holds a date that cannot be parsed (the file is named).
    """
    name = os.path.basename(path)
    if table is not None:
        for key in (name, os.fspath(path), Path(name).stem):
            if key in table:
                return table[key]
    if filename_regex is not None:
        pattern = re.compile(filename_regex, re.VERBOSE)
        if 'date' not in pattern.groupindex:
            msg = f'filename_regex {filename_regex!r} has no (?P<date>...) group'
            raise ValueError(msg)
        match = pattern.match(name)
        if match is not None and match.group('date') is not None:
            try:
                return datetime.datetime.strptime(match.group('date'), date_format)
            except ValueError as error:
                msg = (
                    f'{os.fspath(path)!r}: date {match.group("date")!r} does not'
                    f' match date_format {date_format!r}'
                )
                raise ValueError(msg) from error
    with rasterio.open(path) as src:
        tags = src.tags()
    for tag in DATE_TAGS:
        if tags.get(tag):
            try:
                return _parse_date(tags[tag])
            except ValueError as error:
                msg = f'{os.fspath(path)!r}: tag {tag}={tags[tag]!r} is not a date'
                raise ValueError(msg) from error
    return None


def resolve_dates(
    files: Iterable[str | os.PathLike[str]],
    filename_regex: str | None = None,
    date_format: str = '%Y%m%d',
    table: str | os.PathLike[str] | None = None,
) -> dict[str, datetime.datetime]:
    """The acquisition date of every file, or an error listing those without one.

    Args:
        files: raster files.
        filename_regex: regex of the file names with a ``date`` group.
        date_format: ``strptime`` format of that group.
        table: CSV ``file, date`` (:func:`read_date_table`).

    Returns:
        File path -> date.

    Raises:
        ValueError: If some files have no readable date (a few are named, with
            the ways to give dates).
    """
    dates = read_date_table(table) if table is not None else None
    found: dict[str, datetime.datetime] = {}
    missing: list[str] = []
    for file in files:
        date = file_date(file, filename_regex, date_format, dates)
        if date is None:
            missing.append(os.fspath(file))
        else:
            found[os.fspath(file)] = date
    if missing:
        shown = ', '.join(repr(m) for m in missing[:3])
        more = f' and {len(missing) - 3} more' if len(missing) > 3 else ''
        msg = f'No acquisition date for {shown}{more}: {HOW_TO_DATE}'
        raise ValueError(msg)
    return found


def _read_csv(path: str | os.PathLike[str], columns: Sequence[str]) -> pd.DataFrame:
    if not os.path.isfile(path):
        msg = f'{os.fspath(path)!r} does not exist'
        raise FileNotFoundError(msg)
    frame = pd.read_csv(path, dtype=str, skipinitialspace=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        msg = (
            f'{os.fspath(path)!r} has no {absent} column(s); expected'
            f' {list(columns)}, found {list(frame.columns)}'
        )
        raise ValueError(msg)
    return frame


def _dates(frame: pd.DataFrame, key: str, path: str | os.PathLike[str]) -> pd.Series:
    parsed, bad = [], []
    for name, text in zip(frame[key], frame['date'], strict=True):
        try:
            parsed.append(_parse_date(str(text)) if isinstance(text, str) else None)
        except ValueError:
            parsed.append(None)
            bad.append(f'{name}: {text!r}')
    if bad:
        msg = f'{os.fspath(path)!r}: dates that cannot be parsed: {bad[:3]}'
        raise ValueError(msg)
    return pd.Series(parsed, index=frame.index, dtype=object)


def read_date_table(path: str | os.PathLike[str]) -> dict[str, datetime.datetime]:
    """A sidecar CSV of acquisition dates, ``file, date`` (ISO or ``YYYYMMDD``).

    Args:
        path: the CSV.

    Returns:
        File name (as written in the CSV) -> date.

    Raises:
        FileNotFoundError: If the CSV does not exist.
        ValueError: If a column is missing, or a date is empty or unparseable.
    """
    frame = _read_csv(path, ('file', 'date'))
    dates = _dates(frame, 'file', path)
    empty = frame.loc[dates.isna(), 'file'].tolist()
    if empty:
        msg = f'{os.fspath(path)!r}: no date for {empty[:3]}'
        raise ValueError(msg)
    return dict(zip(frame['file'].str.strip(), dates, strict=True))


def read_context_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A CSV ``id, lat, lon, date`` for items that are not georeferenced.

    Args:
        path: the CSV (``date`` may be empty where unknown: that item's
            context is then masked, not zero).

    Returns:
        Indexed by ``id``, columns ``lat``, ``lon`` (float degrees) and
        ``date`` (datetime or None).

    Raises:
        FileNotFoundError: If the CSV does not exist.
        ValueError: If a column is missing, ids repeat, a latitude is outside
            [-90, 90], a longitude outside [-180, 180] or a date unparseable
            (the ids are named).
    """
    frame = _read_csv(path, ('id', 'lat', 'lon', 'date'))
    frame['id'] = frame['id'].str.strip()
    repeated = frame.loc[frame['id'].duplicated(), 'id'].tolist()
    if repeated:
        msg = f'{os.fspath(path)!r}: ids listed twice: {repeated[:3]}'
        raise ValueError(msg)
    for column, limit in (('lat', 90), ('lon', 180)):
        values = pd.to_numeric(frame[column], errors='coerce')
        bad = frame.loc[~values.between(-limit, limit), 'id'].tolist()
        if bad:
            msg = (
                f'{os.fspath(path)!r}: {column} must be a number in [-{limit}, {limit}]'
                f' degrees; not for ids {bad[:3]}'
            )
            raise ValueError(msg)
        frame[column] = values.astype(float)
    frame['date'] = _dates(frame, 'id', path)
    return frame.set_index('id')[['lat', 'lon', 'date']]
