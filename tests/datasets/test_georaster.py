from pathlib import Path

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pytest
import rasterio
import torch
from shapely.geometry import box
from torchgeo.datasets import DatasetNotFoundError

from torchgeo_als4gan.datasets import (
    GeoImagery,
    GeoRasterMask,
    GeoSegmentationScene,
    GeoVectorLabels,
)
from torchgeo_als4gan.samplers import FootprintGeoSampler, grid_footprints

CLASSES = ('background', 'building', 'water')


def scene_pair(data_dir: Path) -> tuple[GeoSegmentationScene, GeoSegmentationScene]:
    root = data_dir / 'georaster'
    imagery = GeoImagery(root / 'imagery')
    vectors = GeoVectorLabels(root / 'vectors', label_name='landcover', classes=CLASSES)
    raster = GeoRasterMask(root / 'masks')
    return (
        GeoSegmentationScene(imagery, vectors, CLASSES),
        GeoSegmentationScene(GeoImagery(root / 'imagery'), raster, CLASSES),
    )


class TestGeoDatasets:
    def test_imagery(self, data_dir: Path) -> None:
        imagery = GeoImagery(data_dir / 'georaster' / 'imagery')
        assert imagery.crs.to_epsg() == 32618
        assert imagery.res == (10.0, 10.0)
        assert imagery.nodata == 0
        assert imagery.band_count == 3

    def test_vector_matches_raster_labels(self, data_dir: Path) -> None:
        vector_scene, raster_scene = scene_pair(data_dir)
        footprints = grid_footprints(vector_scene.imagery, 16)
        checked = 0
        for query in FootprintGeoSampler(vector_scene, footprints):
            a = vector_scene[query]['mask']
            b = raster_scene[query]['mask']
            assert torch.equal(a, b)
            checked += int((a == 1).sum() + (a == 2).sum())
        assert checked == 20 * 30 + 15 * 20  # every labelled pixel seen once

    def test_outside_and_nodata_are_ignored(self, data_dir: Path) -> None:
        scene, _ = scene_pair(data_dir)
        footprints = grid_footprints(scene.imagery, 16)
        queries = list(FootprintGeoSampler(scene, footprints))
        first = scene[queries[0]]
        assert (first['mask'][:4, :4] == 255).all()  # nodata corner
        assert (first['mask'][4:, 4:] != 255).all()
        last = scene[queries[-1]]  # rows 48-64 x cols 80-96 of a 60x84 image
        assert (last['mask'][12:] == 255).all() and (last['mask'][:, 4:] == 255).all()
        assert (last['mask'][:12, :4] == 0).all()

    def test_vector_reprojected(self, data_dir: Path) -> None:
        labels = GeoVectorLabels(
            data_dir / 'georaster' / 'vectors', label_name='landcover', classes=CLASSES
        )
        assert labels.crs.to_epsg() == 4326
        scene, _ = scene_pair(data_dir)
        assert scene.datasets[1].crs.to_epsg() == 32618

    def test_label_map_and_indices(self, data_dir: Path, tmp_path: Path) -> None:
        frame = gpd.read_file(data_dir / 'georaster' / 'vectors' / 'labels.geojson')
        frame['landcover'] = ['yes', 'yes']
        frame.to_file(tmp_path / 'yes.geojson')
        labels = GeoVectorLabels(
            tmp_path / 'yes.geojson', 'landcover', CLASSES, {'yes': 2}
        )
        assert labels.features['class'].tolist() == [2, 2]
        frame['landcover'] = [1, 2]
        frame.to_file(tmp_path / 'ints.geojson')
        labels = GeoVectorLabels(tmp_path / 'ints.geojson', 'landcover', CLASSES)
        assert labels.features['class'].tolist() == [1, 2]

    def test_unknown_values(self, data_dir: Path, tmp_path: Path) -> None:
        frame = gpd.read_file(data_dir / 'georaster' / 'vectors' / 'labels.geojson')
        frame['landcover'] = ['lava', '7']
        frame.to_file(tmp_path / 'bad.geojson')
        with pytest.raises(ValueError, match=r"\['7', 'lava'\]"):
            GeoVectorLabels(tmp_path / 'bad.geojson', 'landcover', CLASSES)

    def test_missing_attribute(self, data_dir: Path) -> None:
        with pytest.raises(ValueError, match=r"no_attribute.gpkg.*'landcover'"):
            GeoVectorLabels(
                data_dir / 'georaster' / 'no_attribute.gpkg', 'landcover', CLASSES
            )

    def test_missing_files(self, tmp_path: Path) -> None:
        with pytest.raises(DatasetNotFoundError):
            GeoImagery(tmp_path)
        with pytest.raises(DatasetNotFoundError):
            GeoVectorLabels(tmp_path, 'class', CLASSES)

    def test_mask_values_out_of_range(self, tmp_path: Path, data_dir: Path) -> None:
        with rasterio.open(data_dir / 'georaster' / 'masks' / 'scene_mask.tif') as src:
            profile, data = src.profile, src.read()
        data[0, 20:22, 30:32] = 7
        with rasterio.open(tmp_path / 'mask.tif', 'w', **profile) as dst:
            dst.write(data)
        imagery = GeoImagery(data_dir / 'georaster' / 'imagery')
        scene = GeoSegmentationScene(imagery, GeoRasterMask(tmp_path), CLASSES)
        query = next(iter(FootprintGeoSampler(scene, grid_footprints(imagery, 84))))
        mask = scene[query]['mask']
        assert (mask[20:22, 30:32] == 255).all()
        assert (mask[10:20, 20:50] == 1).all()

    def test_plot(self, data_dir: Path) -> None:
        scene, _ = scene_pair(data_dir)
        query = next(
            iter(FootprintGeoSampler(scene, grid_footprints(scene.imagery, 16)))
        )
        sample = scene[query]
        assert len(scene.plot(sample).axes) == 2
        assert len(scene.imagery.plot({'image': sample['image']}).axes) == 1
        plt.close('all')

    def test_empty_window(self, data_dir: Path) -> None:
        labels = GeoVectorLabels(
            data_dir / 'georaster' / 'vectors', label_name='landcover', classes=CLASSES
        )
        imagery = GeoImagery(data_dir / 'georaster' / 'imagery')
        GeoSegmentationScene(imagery, labels, CLASSES)
        x0, y0 = 500000.0, 4100000.0
        frame = gpd.GeoDataFrame(
            {'id': ['a']}, geometry=[box(x0, y0 - 40, x0 + 40, y0)], crs=imagery.crs
        )
        query = next(iter(FootprintGeoSampler(labels, frame)))
        assert np.all(labels[query]['mask'].numpy() == 0)
