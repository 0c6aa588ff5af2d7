"""predict_raster on generated GeoTIFFs: geometry, equivalence, seams, outputs, errors."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin
from torch import Tensor, nn

from torchgeo_als4gan.inference import (
    CLASS_NODATA,
    RasterPredictionError,
    SegmentationModel,
    predict_raster,
)

from .conftest import CLASSES, pixelwise_model, write_raster


def full_forward(model: SegmentationModel, path: Path) -> np.ndarray:
    """Probabilities of one forward pass over the whole raster."""
    with rasterio.open(path) as src:
        image = torch.from_numpy(src.read().astype(np.float32))[None]
    probs, _ = model.predict(image)
    return probs[0].numpy()


@pytest.mark.parametrize('raster', ['utm_raster', 'geographic_raster'])
def test_outputs_match_input_grid_and_a_full_forward(
    raster: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    path: Path = request.getfixturevalue(raster)
    model = pixelwise_model()
    [result] = predict_raster(
        model, [path], tmp_path / 'out', patch_size=64, overlap=16, batch_size=3,
        probabilities=True, uncertainty=True, progress=False,
    )  # fmt: skip
    expected = full_forward(model, path)
    with rasterio.open(path) as src:
        crs, transform, shape = src.crs, src.transform, (src.height, src.width)
        valid = src.dataset_mask() > 0
    for kind in ('classes', 'probabilities', 'uncertainty'):
        with rasterio.open(result.outputs[kind]) as out:
            assert out.crs == crs
            assert out.transform == transform
            assert (out.height, out.width) == shape
    with rasterio.open(result.outputs['probabilities']) as out:
        probs = out.read()
        assert out.descriptions == CLASSES
    np.testing.assert_allclose(probs[:, valid], expected[:, valid], atol=1e-5)
    assert np.isnan(probs[:, ~valid]).all()
    with rasterio.open(result.outputs['classes']) as out:
        classes = out.read(1)
        assert out.nodata == CLASS_NODATA
        assert json.loads(out.tags()['classes']) == list(CLASSES)
        assert out.colormap(1)[0][3] == 255
    np.testing.assert_array_equal(classes[valid], expected.argmax(0)[valid])
    assert (classes[~valid] == CLASS_NODATA).all()
    with rasterio.open(result.outputs['uncertainty']) as out:
        assert out.descriptions == ('entropy',)  # no discriminator in this model
        entropy = out.read(1)
    p = expected[:, valid]
    np.testing.assert_allclose(
        entropy[valid], -(p * np.log(p)).sum(0) / np.log(3), atol=1e-5
    )
    assert sorted(os.listdir(tmp_path / 'out')) == sorted(
        p.name for p in result.outputs.values()
    )  # no temporary file left


def test_outputs_are_cloud_optimized(tmp_path: Path) -> None:
    image = np.random.default_rng(4).integers(0, 255, (3, 700, 600), dtype=np.uint8)
    path = write_raster(
        tmp_path / 'big.tif', image, 'EPSG:32633', from_origin(0, 0, 1, 1)
    )
    [result] = predict_raster(
        pixelwise_model(), [path], tmp_path / 'out', patch_size=256, overlap=32,
        probabilities=True, progress=False,
    )  # fmt: skip
    for path in result.outputs.values():
        with rasterio.open(path) as out:
            assert out.profile['tiled']
            assert out.compression is not None
            assert out.overviews(1) == [2]  # internal overviews (512-pixel blocks)
            assert out.tags(ns='IMAGE_STRUCTURE').get('LAYOUT') == 'COG'


class EdgeSensitive(nn.Module):
    """Zero-padded 9x9 box filter: its output changes near every tile border."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 9, padding=4, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0] = 1 / 81

    def forward(self, x: Tensor) -> Tensor:
        return torch.asarray(4.0) * self.conv(x)


def test_blending_leaves_no_seam(tmp_path: Path) -> None:
    image = np.full((1, 96, 200), 150, dtype=np.uint8)
    path = write_raster(
        tmp_path / 'flat.tif', image, 'EPSG:32633', from_origin(0, 0, 1, 1)
    )
    model = SegmentationModel(
        EdgeSensitive(), ('a', 'b'), 1, torch.zeros(1), torch.ones(1) * 150
    )

    def jumps(overlap: int, name: str) -> float:
        [result] = predict_raster(
            model, [path], tmp_path / name, patch_size=64, overlap=overlap,
            probabilities=True, progress=False,
        )  # fmt: skip
        with rasterio.open(result.outputs['probabilities']) as out:
            p = out.read(1)[8:-8, 8:-8]  # away from the raster border
        return float(
            max(np.abs(np.diff(p, axis=0)).max(), np.abs(np.diff(p, axis=1)).max())
        )

    hard, blended = jumps(0, 'hard'), jumps(32, 'blended')
    assert hard > 0.05  # stitching tiles side by side shows the tile borders
    assert blended < 0.1 * hard


def test_nodata_and_crs_override(utm_raster: Path, tmp_path: Path) -> None:
    image = np.random.default_rng(2).integers(1, 255, (3, 40, 70), dtype=np.uint8)
    image[:, 10:20, 10:20] = 7
    path = write_raster(
        tmp_path / 'nocrs.tif', image, None, from_origin(300000, 5000000, 2, 2), 7
    )
    with pytest.raises(ValueError, match=r"nocrs.tif' has no CRS.*--crs"):
        predict_raster(
            pixelwise_model(),
            [path],
            tmp_path / 'a',
            patch_size=32,
            overlap=8,
            progress=False,
        )
    assert not (tmp_path / 'a').exists()
    [result] = predict_raster(
        pixelwise_model(), [path], tmp_path / 'b', patch_size=32, overlap=8,
        crs='EPSG:32632', progress=False,
    )  # fmt: skip
    with rasterio.open(result.outputs['classes']) as out:
        assert out.crs == 'EPSG:32632'
        classes = out.read(1)
    assert (classes[10:20, 10:20] == CLASS_NODATA).all()
    assert (classes[20:] != CLASS_NODATA).all()
    with pytest.raises(ValueError, match="utm.tif' already has CRS EPSG:32633"):
        predict_raster(
            pixelwise_model(),
            [utm_raster],
            tmp_path / 'c',
            crs='EPSG:4326',
            progress=False,
        )


def test_band_count_mismatch_names_both(utm_raster: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"utm.tif' has 3 band\(s\) but the model was trained on 4"
    ):
        predict_raster(pixelwise_model(bands=4), [utm_raster], tmp_path, progress=False)


def test_unwritable_output_fails_before_any_work(
    utm_raster: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    with pytest.raises(
        OSError, match=r"--output '.*file/out' is not a writable folder"
    ):
        predict_raster(pixelwise_model(), [utm_raster], blocker / 'out', progress=False)


def test_existing_output_needs_overwrite(utm_raster: Path, tmp_path: Path) -> None:
    kwargs = {'patch_size': 64, 'overlap': 8, 'progress': False}
    [first] = predict_raster(pixelwise_model(seed=0), [utm_raster], tmp_path, **kwargs)
    before = first.outputs['classes'].read_bytes()
    with pytest.raises(FileExistsError, match='utm_classes.tif.*--overwrite'):
        predict_raster(pixelwise_model(seed=1), [utm_raster], tmp_path, **kwargs)
    assert first.outputs['classes'].read_bytes() == before
    predict_raster(
        pixelwise_model(seed=1), [utm_raster], tmp_path, overwrite=True, **kwargs
    )
    assert first.outputs['classes'].read_bytes() != before


def test_failed_window_read_names_it_and_leaves_no_output(tmp_path: Path) -> None:
    image = np.random.default_rng(3).integers(0, 255, (3, 256, 256), dtype=np.uint8)
    path = tmp_path / 'broken.tif'
    profile = {
        'driver': 'GTiff', 'width': 256, 'height': 256, 'count': 3, 'dtype': 'uint8',
        'crs': 'EPSG:32633', 'transform': from_origin(0, 0, 1, 1), 'tiled': True,
        'blockxsize': 64, 'blockysize': 64, 'compress': 'deflate',
    }  # fmt: skip
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(image)
    data = path.read_bytes()
    # tiles in the middle are garbage; the header and the last tile read fine
    # (a file cut short is refused before any tile: tests/checks/test_geo.py)
    middle = len(data) // 2
    path.write_bytes(data[:middle] + bytes(4096) + data[middle + 4096 :])
    out = tmp_path / 'out'
    with pytest.raises(
        RasterPredictionError,
        match=r"broken.tif': reading the window at row \d+, column \d+",
    ):
        predict_raster(
            pixelwise_model(), [path], out, patch_size=64, overlap=0, progress=False
        )
    assert os.listdir(out) == []


def test_several_inputs_and_bad_arguments(
    utm_raster: Path, geographic_raster: Path, tmp_path: Path
) -> None:
    results = predict_raster(
        pixelwise_model(), [utm_raster, geographic_raster], tmp_path, patch_size=32,
        overlap=4, batch_size=16, progress=False,
    )  # fmt: skip
    assert [r.input for r in results] == [utm_raster, geographic_raster]
    assert (
        results[0].tiles == 6 * 8
    )  # rows 0, 28, ..., 112, 118; columns 0, ..., 168, 185
    with pytest.raises(ValueError, match='overlap'):
        predict_raster(
            pixelwise_model(), [utm_raster], tmp_path, patch_size=32, overlap=32
        )
    with pytest.raises(ValueError, match='--batch_size'):
        predict_raster(pixelwise_model(), [utm_raster], tmp_path, batch_size=0)
    with pytest.raises(
        FileNotFoundError, match="--input '.*missing.tif' is not a file"
    ):
        predict_raster(pixelwise_model(), [tmp_path / 'missing.tif'], tmp_path)
    with pytest.raises(ValueError, match='names must differ'):
        predict_raster(pixelwise_model(), [utm_raster, utm_raster], tmp_path / 'x')
    text = tmp_path / 'text.tif'
    text.write_text('hello')
    with pytest.raises(ValueError, match='not a raster GDAL can read'):
        predict_raster(pixelwise_model(), [text], tmp_path / 'y')
