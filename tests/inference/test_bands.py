"""Band selection (a 4-band R, G, B, NIR raster and an RGB model) and input checks."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import Affine

from tests.fixture_args import DATA
from torchgeo_als4gan.inference import load_segmentation_checkpoint, predict_raster
from torchgeo_als4gan.main import main

from .conftest import pixelwise_model, write_raster

IMAGE = DATA / 'georaster' / 'imagery' / 'scene.tif'
LABELS = DATA / 'georaster' / 'vectors' / 'labels.geojson'


@pytest.fixture(scope='module')
def naip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture scene with a fourth (NIR) band and band descriptions."""
    folder = tmp_path_factory.mktemp('naip')
    with rasterio.open(IMAGE) as src:
        profile, rgb = src.profile, src.read()
    nir = (255 - rgb[:1]).astype(rgb.dtype)
    # a plain fourth band: GDAL would make the 4th band of RGB uint8 an alpha band
    profile.update(count=4, photometric='minisblack')
    path = folder / 'naip.tif'
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(np.concatenate([rgb, nir]))
        dst.descriptions = ('red', 'green', 'blue', 'nir')
    return path


@pytest.fixture(scope='module')
def rgb_of_naip_checkpoint(
    naip: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A supervised checkpoint trained on bands [1, 2, 3] of the 4-band raster."""
    root = tmp_path_factory.mktemp('naip_run')
    main([
        'fit', '--config', 'configs/raster_supervised.yaml',
        f'--data.init_args.image_paths={naip}', f'--data.init_args.label_paths={LABELS}',
        '--data.init_args.patch_size=16', '--data.init_args.split_block=1',
        '--data.init_args.bands=[1,2,3]', '--data.init_args.batch_size=2',
        '--data.init_args.steps_per_epoch=1', '--model.init_args.model=fcn',
        '--model.init_args.num_filters=2', '--trainer.max_epochs=1',
        '--trainer.limit_val_batches=1', '--trainer.logger=false',
        '--trainer.enable_progress_bar=false', '--trainer.accelerator=cpu',
        f'--trainer.default_root_dir={root}',
    ])  # fmt: skip
    [checkpoint] = (root / 'checkpoints').glob('*.ckpt')
    return checkpoint


def _grid(path: Path) -> tuple[object, object, tuple[int, int]]:
    with rasterio.open(path) as src:
        return src.crs, src.transform, (src.height, src.width)


def test_bands_recorded_and_used_by_default(
    rgb_of_naip_checkpoint: Path, naip: Path, tmp_path: Path
) -> None:
    model = load_segmentation_checkpoint(rgb_of_naip_checkpoint)
    assert model.bands == [1, 2, 3] and model.in_channels == 3
    main([
        'predict-raster', '--checkpoint', str(rgb_of_naip_checkpoint), '--input',
        str(naip), '--output', str(tmp_path / 'a'), '--patch_size', '32',
        '--overlap', '8', '--no_progress', '--device', 'cpu',
    ])  # fmt: skip
    out = tmp_path / 'a' / 'naip_classes.tif'
    assert _grid(out) == _grid(naip)
    # the same bands read from the 3-band original give the same classes
    main([
        'predict-raster', '--checkpoint', str(rgb_of_naip_checkpoint), '--input',
        str(IMAGE), '--output', str(tmp_path / 'b'), '--patch_size', '32',
        '--overlap', '8', '--no_progress', '--device', 'cpu',
    ])  # fmt: skip
    with (
        rasterio.open(out) as a,
        rasterio.open(tmp_path / 'b' / 'scene_classes.tif') as b,
    ):
        np.testing.assert_array_equal(a.read(), b.read())


def test_bands_option_on_a_4_band_raster(
    s4gan_checkpoint: Path,
    naip: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # an RGB checkpoint trained without band selection
    assert load_segmentation_checkpoint(s4gan_checkpoint).bands is None
    base = [
        'predict-raster', '--checkpoint', str(s4gan_checkpoint), '--input', str(naip),
        '--patch_size', '32', '--overlap', '8', '--no_progress', '--device', 'cpu',
    ]  # fmt: skip
    with pytest.raises(SystemExit):
        main([*base, '--output', str(tmp_path / 'x')])
    assert 'has 4 band(s) but the model was trained on 3' in capsys.readouterr().err
    main([*base, '--output', str(tmp_path / 'idx'), '--bands', '1', '2', '3'])
    main(
        [*base, '--output', str(tmp_path / 'names'), '--bands', 'red', 'green', 'blue']
    )
    for folder in ('idx', 'names'):
        assert _grid(tmp_path / folder / 'naip_classes.tif') == _grid(naip)
    with (
        rasterio.open(tmp_path / 'idx' / 'naip_classes.tif') as a,
        rasterio.open(tmp_path / 'names' / 'naip_classes.tif') as b,
    ):
        np.testing.assert_array_equal(a.read(), b.read())
    for wrong in (['1', '2', '7'], ['0', '1', '2'], ['red', 'green', 'swir']):
        with pytest.raises(SystemExit) as info:
            main([*base, '--output', str(tmp_path / 'bad'), '--bands', *wrong])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert (
            f"--bands: '{wrong[-1] if wrong[0] != '0' else '0'}' is not a band" in err
        )
        assert "4 band(s): 1 'red', 2 'green', 3 'blue', 4 'nir'" in err
    assert not (tmp_path / 'bad').exists() or not list((tmp_path / 'bad').iterdir())


def test_raster_without_geotransform_is_refused(tmp_path: Path) -> None:
    image = np.ones((3, 20, 20), dtype=np.uint8)
    path = write_raster(tmp_path / 'plain.tif', image, None, Affine.identity())
    with pytest.raises(
        ValueError, match=r'plain\.tif.* has no geotransform.*gdal_translate'
    ):
        predict_raster(
            pixelwise_model(), [path], tmp_path / 'o', 16, 4, crs='EPSG:32633',
            progress=False,
        )  # fmt: skip


def test_vector_path_checked_before_any_tile(tmp_path: Path) -> None:
    out = tmp_path / 'o'
    folder = tmp_path / 'existing'
    folder.mkdir()
    for vector, message in (
        (folder, 'is a folder'),
        (tmp_path / 'p.shp', 'GeoPackage'),
    ):
        with pytest.raises(ValueError, match=message):
            predict_raster(
                pixelwise_model(), [IMAGE], out, 32, 8, vector=vector, progress=False
            )
        assert not out.exists() or list(out.iterdir()) == []


def test_a_plain_string_is_one_input(tmp_path: Path) -> None:
    [result] = predict_raster(
        pixelwise_model(), str(IMAGE), tmp_path, 32, 8, progress=False
    )
    assert result.input == IMAGE and result.outputs['classes'].is_file()


def test_band_selection_of_the_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (4, 20, 20), dtype=np.uint8)
    with rasterio.open(IMAGE) as src:
        profile = src.profile
    profile.update(count=4, width=20, height=20, photometric='minisblack', nodata=None)
    path = tmp_path / 'four.tif'
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(image)
    model = pixelwise_model()
    model.bands = [4, 2, 1]
    [result] = predict_raster(model, [path], tmp_path / 'o', 16, 4, progress=False,
                              probabilities=True)  # fmt: skip
    with rasterio.open(result.outputs['probabilities']) as src:
        probs = src.read()
    x = model.normalize(torch.from_numpy(image[[3, 1, 0]].astype(np.float32))[None])
    expected = model.network(x).softmax(dim=1)[0].detach().numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-5)
