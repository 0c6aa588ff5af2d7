import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import rasterio
import torch
from torchgeo.datasets import DatasetNotFoundError

from torchgeo_als4gan.datasets import SegmentationTileFolder

CLASSES = ('background', 'building', 'water')


def make(root: Path, **kwargs: object) -> SegmentationTileFolder:
    kwargs.setdefault('classes', CLASSES)
    kwargs.setdefault('ignore_value', 9)
    kwargs.setdefault('split', 'all')
    return SegmentationTileFolder(root, **kwargs)  # type: ignore[arg-type]


class TestSegmentationTileFolder:
    def test_pairs_and_labels(self, data_dir: Path) -> None:
        ds = make(data_dir / 'tile_folder', class_subfolders=True)
        assert len(ds) == 8
        assert ds.scene_classes == ('farm', 'town')
        assert ds.ids[2] == 'farm/tile_2'  # a JPEG image paired with a PNG mask
        assert ds.records[2].image.endswith('.jpg')
        assert [int(ds[i]['label']) for i in range(8)] == [0] * 4 + [1] * 4

    def test_values(self, data_dir: Path) -> None:
        ds = make(data_dir / 'tile_folder')
        with rasterio.open(ds.records[0].mask) as src:
            raw = src.read(1)
        mask = ds[0]['mask'].numpy()
        assert (mask[raw == 9] == 255).all()
        np.testing.assert_array_equal(mask[raw < 3], raw[raw < 3])

    def test_different_sizes_padded(self, data_dir: Path) -> None:
        ds = make(data_dir / 'tile_folder')
        assert ds.tile_size == 24
        narrow = ds[ds.ids.index('farm/tile_1')]
        assert narrow['image'].shape == (3, 24, 24)
        assert (narrow['mask'][:, 22:] == 255).all()

    def test_no_scene_label(self, data_dir: Path) -> None:
        ds = make(data_dir / 'tile_folder')
        assert int(ds[0]['label']) == -1

    def test_colors(self, data_dir: Path) -> None:
        ds = make(
            data_dir / 'tile_folder', colors=[[0, 0, 0], [255, 0, 0], [0, 0, 255]]
        )
        assert ds.colors[1] == (255, 0, 0)
        with pytest.raises(ValueError, match='colors has 2 entries'):
            make(data_dir / 'tile_folder', colors=[[0, 0, 0], [1, 1, 1]])

    def test_missing(self, tmp_path: Path) -> None:
        with pytest.raises(DatasetNotFoundError):
            make(tmp_path)

    def test_missing_mask(self, copy_data) -> None:  # type: ignore[no-untyped-def]
        root = copy_data('tile_folder')
        (root / 'masks' / 'town' / 'tile_3.png').unlink()
        with pytest.raises(FileNotFoundError, match='tile_3'):
            make(root)

    def test_patches(self, data_dir: Path) -> None:
        ds = make(data_dir / 'tile_folder', patch_size=16, stride=16)
        assert len(ds) == 8 * 4
        assert ds[1]['id'] == 'farm/tile_0_r0_c16_p16'
        assert ds[1]['image'].shape == (3, 16, 16)

    def test_plot(self, data_dir: Path) -> None:
        ds = make(data_dir / 'tile_folder')
        fig = ds.plot(ds[0])
        assert len(fig.axes) == 2
        plt.close('all')

    def test_single_band(self, tmp_path: Path) -> None:
        for folder in ('images', 'masks'):
            (tmp_path / folder).mkdir()
            with rasterio.open(
                tmp_path / folder / 'a.tif',
                'w',
                driver='GTiff',
                width=4,
                height=4,
                count=1,
                dtype='uint16',
            ) as dst:
                dst.write(np.ones((1, 4, 4), dtype=np.uint16))
        ds = make(tmp_path)
        sample = ds[0]
        assert sample['image'].shape == (1, 4, 4)
        assert torch.equal(sample['mask'], torch.ones(4, 4, dtype=torch.long))
        ds.plot(sample)
        plt.close('all')

    def test_bands_by_index_and_description(self, tmp_path: Path) -> None:
        # 4-band tiles (R, G, B, NIR as band descriptions), as NAIP exports
        data = np.arange(4 * 6 * 6, dtype=np.uint16).reshape(4, 6, 6)
        for folder, array in (
            ('images', data),
            ('masks', np.ones((1, 6, 6), 'uint16')),
        ):
            (tmp_path / folder).mkdir()
            with rasterio.open(
                tmp_path / folder / 'a.tif', 'w', driver='GTiff', width=6, height=6,
                count=array.shape[0], dtype='uint16',
            ) as dst:  # fmt: skip
                dst.write(array)
                if folder == 'images':
                    dst.descriptions = ('red', 'green', 'blue', 'nir')
        by_index = make(tmp_path, bands=[4, 1])[0]['image']
        assert torch.equal(by_index, torch.from_numpy(data[[3, 0]].astype(np.float32)))
        by_name = make(tmp_path, bands=['nir', 'red'])[0]['image']
        assert torch.equal(by_name, by_index)
        assert make(tmp_path, bands=['nir', 'red']).band_count == 2
        with pytest.raises(
            ValueError,
            match=r"bands: 5 is not a band of .*a\.tif.*4 band\(s\): 1 'red'",
        ):
            make(tmp_path, bands=[1, 5])
        with pytest.raises(ValueError, match="'swir' is not a band"):
            make(tmp_path, bands=['swir'])
        with pytest.raises(ValueError, match='at least one band'):
            make(tmp_path, bands=[])

    def test_tile_with_other_band_count(self, copy_data) -> None:  # type: ignore[no-untyped-def]
        root = copy_data('tile_folder')
        odd = root / 'images' / 'town' / 'tile_3.png'
        with rasterio.open(
            odd, 'w', driver='PNG', width=24, height=24, count=1, dtype='uint8'
        ) as dst:
            dst.write(np.zeros((1, 24, 24), dtype=np.uint8))
        # without the check, batches failed later in torch.stack
        with pytest.raises(
            ValueError,
            match=r'same number of bands \(3 band\(s\): \d+ image\(s\).*1 band\(s\): 1 image\(s\), e\.g\. .*tile_3\.png',
        ):
            make(root)

    @pytest.mark.parametrize('classes', [[], ['building'], 'building'])
    def test_too_few_classes(self, data_dir: Path, classes: object) -> None:
        with pytest.raises(ValueError, match='at least two classes'):
            make(data_dir / 'tile_folder', classes=classes)

    def test_values_outside_classes_warned(self, data_dir: Path) -> None:
        ds = make(data_dir / 'tile_folder', classes=('background', 'building'))
        with pytest.warns(
            UserWarning, match=r'tile_0\.png.* holds values \[2\].*ignored'
        ):
            mask = ds[0]['mask']
        assert (mask != 2).all()
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            ds[1]  # warned once per dataset
