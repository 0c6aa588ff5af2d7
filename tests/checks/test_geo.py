"""Class 4: rasters and vectors without what makes them geographic, one reader each."""

from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from tests.checks.conftest import RASTER_FIT, write_raster
from tests.fixture_args import DATA
from torchgeo_als4gan.checks import check_georeferenced, read_vector
from torchgeo_als4gan.datasets import GeoImagery, GeoRasterMask, GeoVectorLabels
from torchgeo_als4gan.main import main

IMAGE = np.full((3, 20, 20), 100, dtype=np.uint8)


@pytest.fixture
def bad_rasters(tmp_path: Path) -> dict[str, Path]:
    found = {}
    for name, crs, transform in (
        ('no_transform', 'EPSG:32618', None),
        ('no_crs', None, 'default'),
    ):
        folder = tmp_path / name
        folder.mkdir()
        kwargs = {} if transform == 'default' else {'transform': None}
        found[name] = write_raster(folder / f'{name}.tif', IMAGE, crs, **kwargs)  # type: ignore[arg-type]
    folder = tmp_path / 'truncated'
    folder.mkdir()
    whole = write_raster(
        tmp_path / 'whole.tif', np.zeros((3, 200, 200), dtype=np.uint8)
    )
    data = whole.read_bytes()
    (folder / 'truncated.tif').write_bytes(data[: len(data) // 3])
    found['truncated'] = folder / 'truncated.tif'
    return found


EXPECTED = {
    'no_transform': r'has no geotransform .*gdal_translate',
    'no_crs': r'has no CRS; .*gdal_edit\.py -a_srs',
    'truncated': r'is not a raster GDAL can read \(truncated',
}


@pytest.mark.parametrize('kind', list(EXPECTED))
def test_every_raster_reader(
    kind: str,
    bad_rasters: dict[str, Path],
    raster_checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = bad_rasters[kind]
    pattern = f"{path.name}'? {EXPECTED[kind]}".replace("'? ", '.* ')
    with pytest.raises(ValueError, match=EXPECTED[kind]):
        check_georeferenced(path)
    for dataset in (GeoImagery, GeoRasterMask):
        with pytest.raises(ValueError, match=path.name):
            dataset(path.parent)
    with pytest.raises(SystemExit, match=EXPECTED[kind]):
        main([*RASTER_FIT, f'--data.init_args.image_paths={path.parent}',
              f'--trainer.default_root_dir={tmp_path / "run"}'])  # fmt: skip
    with pytest.raises(SystemExit):
        main(['predict-raster', '--checkpoint', str(raster_checkpoint), '--input',
              str(path), '--output', str(tmp_path / 'out'), '--device', 'cpu'])  # fmt: skip
    err = capsys.readouterr().err
    assert path.name in err and ('--crs' in err if kind == 'no_crs' else True)
    assert pattern


def test_vectors_without_crs_are_refused(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {'landcover': ['building']}, geometry=[box(500200, 4099700, 500500, 4099900)]
    )
    shp = tmp_path / 'labels.shp'
    frame.to_file(shp)
    assert not shp.with_suffix('.prj').exists()
    with pytest.raises(
        ValueError, match=r"labels\.shp' has no CRS \(a Shapefile needs its \.prj"
    ):
        read_vector(shp, 'label_paths')
    with pytest.raises(ValueError, match=r'has no CRS \(a Shapefile needs its \.prj'):
        GeoVectorLabels(
            tmp_path, 'landcover', ('background', 'building'), filename_glob='*.shp'
        )
    with pytest.raises(SystemExit, match=r'label_paths .*labels\.shp.* has no CRS'):
        main([*RASTER_FIT, f'--data.init_args.label_paths={shp}',
              f'--trainer.default_root_dir={tmp_path / "run"}'])  # fmt: skip


def test_garbage_vectors_are_named(tmp_path: Path) -> None:
    garbage = tmp_path / 'regions.gpkg'
    garbage.write_text('not a geopackage')
    with pytest.raises(
        ValueError, match=r"regions '.*regions\.gpkg' is not a vector file"
    ):
        read_vector(garbage, 'regions')
    from torchgeo_als4gan.datamodules.groups import pool_groups

    with pytest.raises(
        ValueError, match=r"regions '.*regions\.gpkg' is not a vector file"
    ):
        pool_groups(
            SimpleNamespace(footprints=gpd.GeoDataFrame(geometry=[])),  # type: ignore[arg-type]
            'region',
            garbage,
            'name',
        )
    assert (DATA / 'georaster' / 'vectors' / 'labels.geojson').exists()
