"""Optional checks on the real sample files in ../shared (skipped when absent)."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from torchgeo_als4gan.datasets import (
    DeepGlobePatches,
    GeoImagery,
    GeoSegmentationScene,
    GeoVectorLabels,
    UCMercedDLRSD,
)
from torchgeo_als4gan.samplers import FootprintGeoSampler, grid_footprints

SHARED = Path(__file__).parents[2] / 'shared' / 'data'
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason='no ../shared/data')


def test_real_deepglobe() -> None:
    ds = DeepGlobePatches(SHARED / 'deepglobe', split='all', patch_size=512)
    pairs = len(list((SHARED / 'deepglobe' / 'train').glob('*_sat.jpg')))
    assert pairs >= 2
    assert len(ds) == pairs * 25  # 2448 = 4 x 512 + 400: the 5th row/column is padded
    sample = ds[24]
    assert sample['image'].shape == (3, 512, 512)
    assert (sample['mask'][400:] == 255).all()
    assert set(sample['mask'].unique().tolist()) <= {0, 1, 2, 3, 4, 5, 255}


def test_real_ucmerced_images_with_generated_masks(tmp_path: Path) -> None:
    images = SHARED / 'ucmerced' / 'UCMerced_LandUse'
    (tmp_path / 'UCMerced_LandUse').symlink_to(images)
    for tif in images.rglob('*.tif'):
        with rasterio.open(tif) as src:
            shape = (src.height, src.width)
        png = tmp_path / 'DLRSD' / 'Labels' / tif.parent.name / (tif.stem + '.png')
        png.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.open(
            png,
            'w',
            driver='PNG',
            width=shape[1],
            height=shape[0],
            count=1,
            dtype='uint8',
        ) as dst:
            dst.write(np.full((1, *shape), 3, dtype=np.uint8))
    ds = UCMercedDLRSD(tmp_path, split='all')
    sample = ds[ds.ids.index('airplane55')]  # 256 x 253
    assert sample['image'].shape == (3, 256, 256)
    assert (sample['mask'][:, 253:] == 255).all() and (
        sample['mask'][:, :253] == 2
    ).all()


def test_real_spacenet_vector_labels() -> None:
    imagery = GeoImagery(SHARED / 'geo', filename_glob='sample_geotiff.tif')
    labels = GeoVectorLabels(
        SHARED / 'geo' / 'geotiff_labels.geojson',
        label_name='building',
        classes=['background', 'building'],
        label_map={'yes': 1},
    )
    scene = GeoSegmentationScene(imagery, labels, labels.classes)
    total = 0
    for query in FootprintGeoSampler(scene, grid_footprints(scene, 256)):
        total += int((scene[query]['mask'] == 1).sum())
    assert total > 1000
    assert (
        imagery[
            next(iter(FootprintGeoSampler(imagery, grid_footprints(imagery, 256))))
        ]['image'].dtype
        == torch.float32
    )


def test_real_landsat_prediction(tmp_path: Path) -> None:
    from torchgeo_als4gan.inference import (
        CLASS_NODATA,
        SegmentationModel,
        predict_raster,
    )

    path = SHARED / 'geo' / 'RGB.byte.tif'
    torch.manual_seed(0)
    model = SegmentationModel(
        torch.nn.Conv2d(3, 2, 1),
        ('a', 'b'),
        3,
        torch.full((3,), 50.0),
        torch.full((3,), 30.0),
    )
    [result] = predict_raster(
        model, [path], tmp_path, patch_size=256, overlap=32, uncertainty=True,
        vector=tmp_path / 'v.gpkg', progress=False,
    )  # fmt: skip
    with rasterio.open(path) as src, rasterio.open(result.outputs['classes']) as out:
        assert (out.crs, out.transform, out.shape) == (
            src.crs,
            src.transform,
            src.shape,
        )
        nodata = src.dataset_mask() == 0
        classes = out.read(1)
    assert nodata.any()  # the scene's black collar
    assert (classes[nodata] == CLASS_NODATA).all()
    assert (classes[~nodata] < 2).all()
