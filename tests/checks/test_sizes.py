"""Class 3: patch, tile and window sizes checked against the data before any read."""

from pathlib import Path

import pytest

from tests.checks.conftest import RASTER_FIT, ROOT
from tests.fixture_args import DATA, DATA_ARGS
from torchgeo_als4gan.checks import check_memory, check_window_size
from torchgeo_als4gan.datasets import DeepGlobePatches, SegmentationTileFolder
from torchgeo_als4gan.main import main


def test_the_check() -> None:
    with pytest.raises(
        ValueError,
        match=r'patch_size 100000 is larger than the data: the largest image of x is 24x30 pixels; use patch_size 30 or less',
    ):
        check_window_size('patch_size', 100000, 24, 30, 'x', allow_padding=0)
    check_window_size('--patch_size', 512, 84, 60, 'small.tif')  # padding allowed
    with pytest.raises(ValueError, match=r'--patch_size 100000 implies .* GiB'):
        check_window_size('--patch_size', 100000, 200000, 200000, 'big.tif', 3, 8)
    with pytest.raises(ValueError, match=r'--x 1 implies .* more than the'):
        check_memory('--x 1', 1e18, 'nothing')


def test_datasets(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r'patch_size 100000 is larger than the data: the largest image of SegmentationTileFolder',
    ):
        SegmentationTileFolder(
            DATA / 'tile_folder', patch_size=100000, classes=('a', 'b', 'c')
        )
    with pytest.raises(ValueError, match='patch_size 100000 is larger than the data'):
        DeepGlobePatches(DATA / 'deepglobe', patch_size=100000)


def test_fit_commands(tmp_path: Path) -> None:
    with pytest.raises(
        SystemExit,
        match=r'patch_size 100000 is larger than the data: the largest image of image_paths .* is 60x84',
    ):
        main([*RASTER_FIT, '--data.init_args.patch_size=100000',
              f'--trainer.default_root_dir={tmp_path}'])  # fmt: skip
    with pytest.raises(SystemExit, match='patch_size 100000 is larger than the data'):
        main(['fit', '--config', str(ROOT / 'configs' / 'tile_folder_supervised.yaml'),
              *DATA_ARGS['tile_folder'], '--data.init_args.patch_size=100000',
              '--trainer.accelerator=cpu', f'--trainer.default_root_dir={tmp_path}'])  # fmt: skip


def test_predict_raster(
    raster_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raster = DATA / 'georaster' / 'imagery' / 'scene.tif'
    with pytest.raises(SystemExit):
        main(['predict-raster', '--checkpoint', str(raster_checkpoint), '--input',
              str(raster), '--output', str(tmp_path / 'out'), '--patch_size',
              '100000', '--overlap', '0', '--device', 'cpu'])  # fmt: skip
    err = capsys.readouterr().err
    assert '--patch_size 100000 is larger than the data' in err and '60x84' in err
    assert not (tmp_path / 'out').exists()
