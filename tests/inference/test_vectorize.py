"""Class polygons: right place after reprojection, strips merged, minimum area."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import torch
from pyproj import Transformer
from rasterio.transform import from_origin
from shapely.geometry import Point, box
from torch import nn

import torchgeo_als4gan.inference.vectorize as vectorize
from torchgeo_als4gan.inference import (
    SegmentationModel,
    predict_raster,
    vectorize_classes,
)

from .conftest import write_raster

ORIGIN = (430000.0, 5200000.0)  # EPSG:32632, near 8.1 E 46.9 N


def argmax_model() -> SegmentationModel:
    """Class = index of the largest band."""
    network = nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        network.weight.copy_(torch.eye(3).view(3, 3, 1, 1) * 10)
    return SegmentationModel(
        network, ('field', 'forest', 'lake'), 3, torch.zeros(3), torch.ones(3)
    )


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    """Class 1 in rows 40-79 x columns 100-159, class 2 in a 2x2 block, rest class 0."""
    image = np.zeros((3, 120, 230), dtype=np.uint8)
    image[0] = 200
    image[:, 40:80, 100:160] = np.array([0, 200, 0]).reshape(3, 1, 1)
    image[:, 5:7, 5:7] = np.array([0, 0, 200]).reshape(3, 1, 1)
    transform = from_origin(*ORIGIN, 5.0, 5.0)
    return write_raster(tmp_path / 'scene.tif', image, 'EPSG:32632', transform)


def test_polygons_reproject_onto_the_right_place(scene: Path, tmp_path: Path) -> None:
    vector = tmp_path / 'out' / 'polygons.gpkg'
    [result] = predict_raster(
        argmax_model(), [scene], tmp_path / 'out', patch_size=64, overlap=16,
        vector=vector, progress=False,
    )  # fmt: skip
    assert result.vector_layer == 'scene'
    assert [name for name, _ in pyogrio.list_layers(vector)] == ['scene']
    frame = gpd.read_file(vector, layer='scene')
    assert frame.crs == 'EPSG:32632'
    forest = frame[frame['class_name'] == 'forest']
    assert len(forest) == 1
    assert int(forest['pixels'].iloc[0]) == 40 * 60
    # The same rectangle, computed independently from the pixel grid, in lon/lat.
    left, top = ORIGIN[0] + 100 * 5.0, ORIGIN[1] - 40 * 5.0
    expected = box(left, top - 40 * 5.0, left + 60 * 5.0, top)
    to_lonlat = Transformer.from_crs('EPSG:32632', 'EPSG:4326', always_xy=True)
    lonlat = forest.to_crs('EPSG:4326').geometry.iloc[0]
    for x, y in expected.exterior.coords:
        lon, lat = to_lonlat.transform(x, y)
        assert (
            min(Point(lon, lat).distance(Point(c)) for c in lonlat.exterior.coords)
            < 1e-9
        )
    centre = to_lonlat.transform(*expected.centroid.coords[0])
    assert lonlat.contains(Point(centre))
    assert 8.0 < centre[0] < 8.2 and 46.8 < centre[1] < 47.0
    back = forest.to_crs('EPSG:4326').to_crs('EPSG:32632').geometry.iloc[0]
    assert back.symmetric_difference(expected).area < 1e-6
    assert set(frame['class_name']) == {'field', 'forest', 'lake'}


def test_min_area_and_strips(
    scene: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [result] = predict_raster(
        argmax_model(),
        [scene],
        tmp_path / 'out',
        patch_size=64,
        overlap=16,
        progress=False,
    )
    classes = ('field', 'forest', 'lake')
    whole = vectorize_classes(result.outputs['classes'], classes)
    assert sorted(whole['pixels']) == [4, 40 * 60, 120 * 230 - 4 - 40 * 60]
    assert 'lake' not in set(
        vectorize_classes(result.outputs['classes'], classes, 5)['class_name']
    )
    monkeypatch.setattr(vectorize, 'STRIP_PIXELS', 230 * 7)  # strips of 7 rows
    strips = vectorize_classes(result.outputs['classes'], classes)
    assert list(strips['pixels']) == list(whole['pixels'])
    for a, b in zip(strips.geometry, whole.geometry, strict=True):
        assert a.symmetric_difference(b).area < 1e-6


def test_existing_vector_needs_overwrite(scene: Path, tmp_path: Path) -> None:
    vector = tmp_path / 'v.gpkg'
    vector.write_text('keep me')
    with pytest.raises(FileExistsError, match='v.gpkg'):
        predict_raster(
            argmax_model(), [scene], tmp_path / 'out', vector=vector, progress=False
        )
    assert vector.read_text() == 'keep me'
    with rasterio.open(scene) as src:
        assert src.count == 3
