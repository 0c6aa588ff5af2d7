import shutil
import zipfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import rasterio
import torch
from torchgeo.datasets import DatasetNotFoundError

import torchgeo_als4gan.datasets.ucmerced_dlrsd as ucm_module
from torchgeo_als4gan.datasets import NonGeoPatch, UCMercedDLRSD

FRACTIONS = (0.5, 0.25, 0.25)


def make(root: Path, **kwargs: object) -> UCMercedDLRSD:
    kwargs.setdefault('split_fractions', FRACTIONS)
    kwargs.setdefault('tile_size', 32)
    return UCMercedDLRSD(root, **kwargs)  # type: ignore[arg-type]


class TestUCMercedDLRSD:
    def test_sample(self, data_dir: Path) -> None:
        ds = make(data_dir / 'ucmerced_dlrsd', split='all')
        sample = ds[0]
        assert sample['image'].dtype == torch.float32
        assert sample['image'].shape == (3, 32, 32)
        assert sample['mask'].dtype == torch.long
        assert sample['mask'].shape == (32, 32)
        assert sample['id'] == 'agricultural00'
        assert int(sample['label']) == ds.scene_classes.index('agricultural')

    def test_mask_values_shift_and_ignore(self, data_dir: Path) -> None:
        ds = make(data_dir / 'ucmerced_dlrsd', split='all')
        with rasterio.open(ds.records[0].mask) as src:
            raw = src.read(1).astype(np.int64)
        mask = ds[0]['mask'].numpy()
        labelled = (raw >= 1) & (raw <= 17)
        np.testing.assert_array_equal(mask[labelled], raw[labelled] - 1)
        assert (mask[~labelled] == 255).all()
        assert (~labelled).sum() == 4  # the 2x2 block of zeros

    def test_off_size_tile_is_padded(self, data_dir: Path) -> None:
        ds = make(data_dir / 'ucmerced_dlrsd', split='all')
        sample = ds[ds.ids.index('airplane01')]
        assert sample['image'].shape == (3, 32, 32)
        assert (sample['mask'][:, 29:] == 255).all()
        assert (sample['image'][:, :, 29:] == 0).all()
        assert (sample['mask'][:, :29] != 255).any()

    def test_stratified_split(self, data_dir: Path) -> None:
        splits = {
            s: make(data_dir / 'ucmerced_dlrsd', split=s)
            for s in ('train', 'val', 'test')
        }
        ids = {s: set(ds.ids) for s, ds in splits.items()}
        assert len(ids['train']) == 6 and len(ids['val']) == 3 and len(ids['test']) == 3
        assert not ids['train'] & ids['val'] and not ids['train'] & ids['test']
        for ds in splits.values():
            labels = sorted(r.label for r in ds.records)
            assert len(set(labels)) == 3  # every scene class in every split
        again = make(data_dir / 'ucmerced_dlrsd', split='train')
        assert again.ids == splits['train'].ids
        other = make(data_dir / 'ucmerced_dlrsd', split='train', split_seed=1)
        assert other.ids != splits['train'].ids

    def test_split_file(self, data_dir: Path, tmp_path: Path) -> None:
        path = tmp_path / 'train'
        path.write_text('beach02\nairplane01.tif\n\n')
        ds = make(data_dir / 'ucmerced_dlrsd', split_file=path)
        assert ds.ids == ['beach02', 'airplane01']

    def test_split_file_unknown_ids(self, data_dir: Path, tmp_path: Path) -> None:
        path = tmp_path / 'train'
        path.write_text('beach02\nforest99\n')
        with pytest.raises(ValueError, match='forest99'):
            make(data_dir / 'ucmerced_dlrsd', split_file=path)

    def test_patches(self, data_dir: Path) -> None:
        ds = make(data_dir / 'ucmerced_dlrsd', split='all', patch_size=20, stride=16)
        # 32x32 -> rows/cols at 0 and 16 -> 4 patches per tile
        assert len(ds) == 12 * 4
        sample = ds[3]
        assert sample['id'] == 'agricultural00_r16_c16_p20'
        assert sample['image'].shape == (3, 20, 20)
        assert (sample['mask'][16:, :] == 255).all()
        assert ds.patch_from_id(sample['id']) == NonGeoPatch(0, 16, 16, 20)

    def test_window_key(self, data_dir: Path) -> None:
        ds = make(data_dir / 'ucmerced_dlrsd', split='all')
        whole = ds[0]
        window = ds[NonGeoPatch(0, 8, 4, 16)]
        assert torch.equal(window['image'], whole['image'][:, 8:24, 4:20])
        assert torch.equal(window['mask'], whole['mask'][8:24, 4:20])
        outside = ds[NonGeoPatch(0, -4, -4, 8)]
        assert (outside['mask'][:4] == 255).all() and (
            outside['mask'][:, :4] == 255
        ).all()
        assert torch.equal(outside['mask'][4:, 4:], whole['mask'][:4, :4])

    def test_patch_from_id_unknown(self, data_dir: Path) -> None:
        ds = make(data_dir / 'ucmerced_dlrsd', split='all')
        with pytest.raises(KeyError):
            ds.patch_from_id('forest00')
        patched = make(data_dir / 'ucmerced_dlrsd', split='all', patch_size=16)
        with pytest.raises(KeyError):
            patched.patch_from_id('beach00')

    def test_tile_larger_than_tile_size(self, data_dir: Path) -> None:
        with pytest.raises(ValueError, match='larger than tile_size=16'):
            make(data_dir / 'ucmerced_dlrsd', tile_size=16)

    def test_slightly_larger_tile_is_centre_cropped(
        self, data_dir: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        # airplane02 is 33 x 33 with tile_size 32, as harbor10 is 257 x 257 in the
        # real archive with the configs' tile_size 256
        with caplog.at_level('INFO', logger='torchgeo_als4gan'):
            ds = make(data_dir / 'ucmerced_dlrsd', split='all')
        index = ds.ids.index('airplane02')
        assert ds.shapes[index] == (33, 33)
        sample = ds[index]
        assert sample['image'].shape == (3, 32, 32)
        record = ds.records[index]
        with rasterio.open(record.image) as src:
            image = src.read().astype(np.float32)
        with rasterio.open(record.mask) as src:
            raw = src.read(1).astype(np.int64)
        # (33 - 32) // 2 = 0: the centre crop drops the last row and column
        assert torch.equal(sample['image'], torch.from_numpy(image[:, :32, :32]))
        expected = np.where((raw >= 1) & (raw <= 17), raw - 1, 255)[:32, :32]
        assert torch.equal(sample['mask'], torch.from_numpy(expected))
        assert ds.patch_from_id('airplane02') == ds.patches[index]
        assert ds[ds.patch_from_id('airplane02')]['id'] == 'airplane02'
        assert (
            'UCMercedDLRSD (all): 2 of 12 images are not 32x32: 1 padded' in caplog.text
        )
        assert '1 centre-cropped' in caplog.text
        # a larger excess than max_crop is an error naming the file
        with pytest.raises(ValueError, match=r'airplane02\.tif.*33x33.*max_crop=0'):
            make(data_dir / 'ucmerced_dlrsd', split='all', max_crop=0)
        with pytest.raises(ValueError, match='max_crop must be'):
            make(data_dir / 'ucmerced_dlrsd', max_crop=-1)

    def test_crop_is_centred(self, copy_data) -> None:  # type: ignore[no-untyped-def]
        root = copy_data('ucmerced_dlrsd')
        image = np.arange(3 * 36 * 36, dtype=np.uint16).reshape(3, 36, 36) % 251
        for path, data, driver in (
            (root / 'UCMerced_LandUse' / 'Images' / 'beach' / 'beach00.tif',
             image.astype(np.uint8), 'GTiff'),
            (root / 'DLRSD' / 'Labels' / 'beach' / 'beach00.png',
             np.full((1, 36, 36), 3, dtype=np.uint8), 'PNG'),
        ):  # fmt: skip
            with rasterio.open(
                path, 'w', driver=driver, width=36, height=36,
                count=data.shape[0], dtype='uint8',
            ) as dst:  # fmt: skip
                dst.write(data)
        ds = make(root, split='all')
        sample = ds[ds.ids.index('beach00')]
        expected = torch.from_numpy(image.astype(np.uint8)[:, 2:34, 2:34])
        assert torch.equal(sample['image'], expected.float())
        assert (sample['mask'] == 2).all()

    def test_missing_root(self, tmp_path: Path) -> None:
        with pytest.raises(DatasetNotFoundError, match='Dataset not found'):
            make(tmp_path)

    def test_missing_dlrsd(self, copy_data) -> None:  # type: ignore[no-untyped-def]
        root = copy_data('ucmerced_dlrsd')
        shutil.rmtree(root / 'DLRSD')
        with pytest.raises(DatasetNotFoundError, match='DLRSD masks not found') as info:
            make(root)
        message = str(info.value)
        assert 'no stable download' in message and 'DLRSD/Labels/<class>' in message
        assert 'use `download=True`' not in message  # it cannot fetch DLRSD

    def test_truncated_png_mask(self, copy_data) -> None:  # type: ignore[no-untyped-def]
        root = copy_data('ucmerced_dlrsd')
        mask = root / 'DLRSD' / 'Labels' / 'beach' / 'beach01.png'
        data = mask.read_bytes()
        mask.write_bytes(data[: len(data) // 2])
        # GDAL reads it without an error, as different garbage on every read
        with pytest.raises(OSError, match=r'beach01\.png.*truncated'):
            make(root, split='all')

    def test_missing_mask(self, copy_data) -> None:  # type: ignore[no-untyped-def]
        root = copy_data('ucmerced_dlrsd')
        (root / 'DLRSD' / 'Labels' / 'beach' / 'beach01.png').unlink()
        with pytest.raises(FileNotFoundError, match='beach01.png'):
            make(root)

    def test_old_dlrsd_layout(self, copy_data) -> None:  # type: ignore[no-untyped-def]
        root = copy_data('ucmerced_dlrsd')
        (root / 'DLRSD' / 'Labels').rename(root / 'DLRSD' / 'Images')
        assert len(make(root, split='all')) == 12

    def test_corrupt_image(self, copy_data) -> None:  # type: ignore[no-untyped-def]
        root = copy_data('ucmerced_dlrsd')
        bad = root / 'UCMerced_LandUse' / 'Images' / 'beach' / 'beach00.tif'
        bad.write_bytes(b'not a tiff')
        with pytest.raises(OSError, match='beach00.tif'):
            make(root)

    def test_size_mismatch(self, copy_data) -> None:  # type: ignore[no-untyped-def]
        root = copy_data('ucmerced_dlrsd')
        mask = root / 'DLRSD' / 'Labels' / 'beach' / 'beach00.png'
        with rasterio.open(
            mask, 'w', driver='PNG', width=30, height=32, count=1, dtype='uint8'
        ) as dst:
            dst.write(np.ones((1, 32, 30), dtype=np.uint8))
        with pytest.raises(
            ValueError, match=r'beach00\.tif.*32x32.*beach00\.png.*32x30'
        ):
            make(root)

    def test_invalid_arguments(self, data_dir: Path) -> None:
        with pytest.raises(ValueError, match='split must be one of'):
            make(data_dir / 'ucmerced_dlrsd', split='training')
        with pytest.raises(ValueError, match='patch_size'):
            make(data_dir / 'ucmerced_dlrsd', patch_size=0)
        with pytest.raises(ValueError, match='stride'):
            make(data_dir / 'ucmerced_dlrsd', patch_size=8, stride=-1)
        with pytest.raises(ValueError, match='sum to 1'):
            make(data_dir / 'ucmerced_dlrsd', split_fractions=(0.5, 0.5, 0.5))

    def test_download(
        self, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        source = tmp_path / 'server'
        source.mkdir()
        archive = source / 'UCMerced_LandUse.zip'
        images = data_dir / 'ucmerced_dlrsd' / 'UCMerced_LandUse'
        with zipfile.ZipFile(archive, 'w') as zf:
            for path in images.rglob('*.tif'):
                zf.write(path, path.relative_to(images.parent))

        def fake_download(url: str, root: str, filename: str) -> None:
            assert url == UCMercedDLRSD.url
            shutil.copy(archive, Path(root) / filename)

        monkeypatch.setattr(ucm_module, 'download_url', fake_download)
        root = tmp_path / 'ucm'
        shutil.copytree(data_dir / 'ucmerced_dlrsd' / 'DLRSD', root / 'DLRSD')
        with pytest.raises(DatasetNotFoundError):
            make(root)
        ds = make(root, split='all', download=True)
        assert len(ds) == 12
        monkeypatch.setattr(UCMercedDLRSD, 'md5', '0' * 32)
        shutil.rmtree(root / 'UCMerced_LandUse')
        with pytest.raises(RuntimeError, match='corrupted'):
            make(root, download=True, checksum=True)

    def test_plot(self, data_dir: Path) -> None:
        ds = make(data_dir / 'ucmerced_dlrsd', split='all')
        sample = ds[0]
        fig = ds.plot(sample, suptitle='test')
        assert len(fig.axes) == 2
        sample['prediction'] = sample['mask'].clone()
        fig = ds.plot(sample, show_titles=False)
        assert len(fig.axes) == 3
        plt.close('all')
