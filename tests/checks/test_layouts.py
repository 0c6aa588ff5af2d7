"""Class 5: layouts and labels that are almost right."""

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.checks.conftest import RASTER_FIT, write_raster
from tests.fixture_args import DATA
from torchgeo_als4gan.checks import check_class_names
from torchgeo_als4gan.datasets import SegmentationTileFolder, UCMercedDLRSD
from torchgeo_als4gan.main import main

CLASSES = ('background', 'building', 'water')


def test_tiles_at_the_top_level_say_what_is_expected(tmp_path: Path) -> None:
    for path in (DATA / 'tile_folder' / 'images').rglob('*.png'):
        shutil.copy(path, tmp_path / path.name)
    with pytest.raises(
        ValueError,
        match=r'holds \d+ image file\(s\) at its top level .* keeps tiles in images/ and their masks .* in masks/',
    ):
        SegmentationTileFolder(tmp_path, classes=CLASSES)


def test_one_odd_tile_in_a_tie_names_both_groups(tmp_path: Path) -> None:
    root = tmp_path / 'tiles'
    for sub in ('images', 'masks'):
        (root / sub).mkdir(parents=True)
    for name, bands in (('a', 3), ('b', 1)):
        write_raster(
            root / 'images' / f'{name}.tif',
            np.ones((bands, 8, 8), np.uint8),
            None,
            None,
        )
        write_raster(
            root / 'masks' / f'{name}.tif', np.zeros((1, 8, 8), np.uint8), None, None
        )
    with pytest.raises(
        ValueError,
        match=r"1 band\(s\): 1 image\(s\), e\.g\. '.*b\.tif'.*3 band\(s\): 1 image\(s\), e\.g\. '.*a\.tif'|3 band\(s\): 1 image\(s\), e\.g\. '.*a\.tif'.*1 band\(s\): 1 image\(s\), e\.g\. '.*b\.tif'",
    ):
        SegmentationTileFolder(root, classes=CLASSES, split='all')


def test_ucmerced_mask_outside_the_classes_warns(copy_data) -> None:  # type: ignore[no-untyped-def]
    root = copy_data('ucmerced_dlrsd')
    mask = sorted((root / 'DLRSD').rglob('*.png'))[0]
    with rasterio.open(mask) as src:
        profile, shape = src.profile, (src.height, src.width)
    with rasterio.open(mask, 'w', **profile) as dst:
        dst.write(np.full((1, *shape), 40, np.uint8))
    dataset = UCMercedDLRSD(root, split='all', tile_size=32)
    index = next(i for i, r in enumerate(dataset.records) if r.mask == str(mask))
    with pytest.warns(
        UserWarning,
        match=r'holds values \[40\] outside the DLRSD class values 1\.\.17 on 100% of its pixels',
    ):
        dataset.read_mask(index)


def test_one_based_raster_masks_are_refused(tmp_path: Path) -> None:
    with rasterio.open(DATA / 'georaster' / 'masks' / 'scene_mask.tif') as src:
        mask = src.read() + 1  # 0..2 -> 1..3
        profile = src.profile
    (tmp_path / 'masks').mkdir()
    with rasterio.open(tmp_path / 'masks' / 'scene_mask.tif', 'w', **profile) as dst:
        dst.write(mask)
    with pytest.raises(
        SystemExit,
        match=r'values \[3\] outside the class indices 0\.\.2 .* look 1-based \(1\.\.3\)',
    ):
        main([*RASTER_FIT, f'--data.init_args.label_paths={tmp_path / "masks"}',
              '--data.init_args.labeled_ratio=1.0',
              f'--trainer.default_root_dir={tmp_path / "run"}'])  # fmt: skip


def test_band_count_and_in_channels_checked_at_setup(tmp_path: Path) -> None:
    with pytest.raises(
        SystemExit,
        match=r'model in_channels is 4 but the images give 3 band\(s\): set --model.init_args.in_channels=3',
    ):
        main([*RASTER_FIT, '--model.init_args.in_channels=4',
              f'--trainer.default_root_dir={tmp_path}'])  # fmt: skip
    with pytest.raises(
        SystemExit, match='model in_channels is 1 but the images give 3'
    ):
        main(['fit', '--config', 'configs/tile_folder_supervised.yaml',
              f'--data.init_args.root={DATA / "tile_folder"}',
              '--data.init_args.ignore_value=9', '--model.init_args.in_channels=1',
              '--trainer.accelerator=cpu', '--trainer.max_epochs=1',
              f'--trainer.default_root_dir={tmp_path}'])  # fmt: skip


def test_duplicate_class_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\['water'\] appear twice"):
        check_class_names(['background', 'water', 'water'])
    with pytest.raises(ValueError, match='appear twice'):
        SegmentationTileFolder(DATA / 'tile_folder', classes=('a', 'b', 'a'))
    with pytest.raises(SystemExit, match='appear twice'):
        main([*RASTER_FIT, '--data.init_args.classes=[background,water,water]',
              f'--trainer.default_root_dir={tmp_path}'])  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert check_class_names(CLASSES) == CLASSES
