"""Location and dates read from the data: CRS centres, file names, tags, tables."""

import datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

from torchgeo_als4gan.context import (
    context_vector,
    file_date,
    lonlat_of_bounds,
    missing_context,
    read_context_table,
    read_date_table,
    resolve_dates,
)


def raster(path: Path, tags: dict[str, str] | None = None) -> Path:
    profile = {
        'driver': 'GTiff', 'width': 4, 'height': 4, 'count': 1, 'dtype': 'uint8',
        'crs': 'EPSG:32618', 'transform': from_origin(500000.0, 4100000.0, 10.0, 10.0),
    }  # fmt: skip
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(np.zeros((1, 4, 4), dtype=np.uint8))
        if tags:
            dst.update_tags(**tags)
    return path


def test_patch_centre_in_utm_equals_pyproj() -> None:
    bounds = (499000.0, 4099000.0, 501560.0, 4101560.0)
    lat, lon = lonlat_of_bounds(bounds, 'EPSG:32618')
    expected_lon, expected_lat = Transformer.from_crs(
        'EPSG:32618', 'EPSG:4326', always_xy=True
    ).transform(500280.0, 4100280.0)
    assert (lat, lon) == pytest.approx((expected_lat, expected_lon), abs=1e-12)
    assert lat == pytest.approx(37.04, abs=0.01) and lon == pytest.approx(
        -74.997, abs=0.01
    )
    # lon/lat bounds come back as their centre
    assert lonlat_of_bounds((10, 40, 12, 42), 4326) == pytest.approx((41.0, 11.0))


def test_dates_from_names_tags_and_tables(tmp_path: Path) -> None:
    named = raster(tmp_path / 'S2A_MSIL2A_20170717T113321_82_89.tif')
    regex = r'^S2[AB]_MSIL2A_(?P<date>\d{8})T\d{6}_.*'
    assert file_date(named, regex) == datetime.datetime(2017, 7, 17)
    tagged = raster(
        tmp_path / 'tagged.tif', {'TIFFTAG_DATETIME': '2021:01:31 10:00:00'}
    )
    assert file_date(tagged) == datetime.datetime(2021, 1, 31, 10)
    iso = raster(tmp_path / 'iso.tif', {'ACQUISITIONDATETIME': '2020-03-05T09:30:00Z'})
    assert file_date(iso).date() == datetime.date(2020, 3, 5)  # type: ignore[union-attr]
    plain = raster(tmp_path / 'plain.tif')
    assert file_date(plain) is None
    table = tmp_path / 'dates.csv'
    table.write_text('file, date\nplain.tif, 2019-12-31\ntagged.tif, 20180102\n')
    # the table comes first, even over a tag
    dates = resolve_dates([plain, tagged], table=table)
    assert dates == {
        str(plain): datetime.datetime(2019, 12, 31),
        str(tagged): datetime.datetime(2018, 1, 2),
    }


def test_files_without_dates_are_named_with_the_ways_to_give_them(
    tmp_path: Path,
) -> None:
    files = [raster(tmp_path / f'x{i}.tif') for i in range(5)]
    with pytest.raises(
        ValueError,
        match=r"No acquisition date for '.*x0.tif', .* and 2 more: give dates as a CSV",
    ):
        resolve_dates(files)
    with pytest.raises(ValueError, match='has no .*date.* group'):
        file_date(files[0], r'x(?P<day>\d)')
    bad = raster(tmp_path / 'scene_2020-13-45.tif')
    with pytest.raises(
        ValueError, match="scene_2020-13-45.tif'.*does not match date_format"
    ):
        file_date(bad, r'scene_(?P<date>[\d-]+)\.tif', '%Y-%m-%d')
    table = tmp_path / 'dates.csv'
    table.write_text('file,date\nx0.tif,yesterday\n')
    with pytest.raises(
        ValueError, match=r"cannot be parsed: \[\"x0.tif: 'yesterday'\"\]"
    ):
        read_date_table(table)
    table.write_text('name,date\nx0.tif,2020-01-01\n')
    with pytest.raises(ValueError, match=r"has no \['file'\] column"):
        read_date_table(table)


def test_context_table_checks_ids_and_ranges(tmp_path: Path) -> None:
    table = tmp_path / 'context.csv'
    table.write_text('id,lat,lon,date\nfarm01,45.5,-73.6,2020-07-01\nfarm02,-10,20,\n')
    frame = read_context_table(table)
    assert frame.loc['farm01', 'lat'] == 45.5 and frame.loc['farm01', 'lon'] == -73.6
    assert frame.loc['farm01', 'date'] == datetime.datetime(2020, 7, 1)
    assert frame.loc['farm02', 'date'] is None  # unknown: masked later, not zero
    for text, message in (
        (
            'id,lat,lon,date\na,91,0,2020-01-01\n',
            r'lat must be a number in \[-90, 90\].*\[.a.\]',
        ),
        (
            'id,lat,lon,date\na,0,-181,2020-01-01\n',
            r'lon must be a number in \[-180, 180\]',
        ),
        ('id,lat,lon,date\na,north,0,2020-01-01\n', 'lat must be a number'),
        (
            'id,lat,lon,date\na,0,0,2020-01-01\na,1,1,2020-01-01\n',
            r"ids listed twice: \['a'\]",
        ),
        ('id,lat,lon,date\na,0,0,someday\n', 'cannot be parsed'),
        ('id,lat,date\na,0,2020-01-01\n', r"has no \['lon'\] column"),
    ):
        table.write_text(text)
        with pytest.raises(ValueError, match=message):
            read_context_table(table)
    with pytest.raises(FileNotFoundError, match='nope.csv'):
        read_context_table(tmp_path / 'nope.csv')


def test_context_vector_is_the_papers_and_periodic_in_the_day() -> None:
    vector = context_vector(45.0, -90.0, datetime.date(2021, 4, 2))  # day 92
    angle = 2 * np.pi * 92 / 365
    np.testing.assert_allclose(
        vector.numpy(), [0.5, -0.5, np.sin(angle), np.cos(angle)], rtol=1e-6
    )
    assert torch_equal(context_vector(10, 20, 5.0), context_vector(10, 20, 370.0))
    assert float(context_vector(90, 180, 1).abs().max()) <= 1
    for lat, lon in ((90.5, 0), (0, 180.5), (float('nan'), 0)):
        with pytest.raises(ValueError, match='must be in'):
            context_vector(lat, lon, 1)
    values, valid = missing_context()
    assert not bool(valid) and values.shape == (4,)


def torch_equal(a: object, b: object) -> bool:
    import torch

    assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
    return bool(torch.allclose(a, b, atol=1e-6))
