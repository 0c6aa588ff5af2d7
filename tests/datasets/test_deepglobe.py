import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import rasterio
import torch
from torchgeo.datasets import DatasetNotFoundError

from torchgeo_als4gan.datasets import DeepGlobePatches

FRACTIONS = (0.6, 0.2, 0.2)


def make(root: Path, **kwargs: object) -> DeepGlobePatches:
    kwargs.setdefault('split_fractions', FRACTIONS)
    kwargs.setdefault('patch_size', 16)
    return DeepGlobePatches(root, **kwargs)  # type: ignore[arg-type]


def expected_classes(rgb: np.ndarray) -> np.ndarray:
    """Reference decoding written independently of the dataset's lookup table."""
    colours = {
        (0, 1, 1): 0,
        (1, 1, 0): 1,
        (1, 0, 1): 2,
        (0, 1, 0): 3,
        (0, 0, 1): 4,
        (1, 1, 1): 5,
    }
    bits = rgb >= 128
    out = np.full(rgb.shape[1:], 255)
    for (r, g, b), index in colours.items():
        out[(bits[0] == r) & (bits[1] == g) & (bits[2] == b)] = index
    return out


class TestDeepGlobePatches:
    def test_decoding_matches_palette(self, data_dir: Path) -> None:
        ds = make(data_dir / 'deepglobe', split='all', patch_size=None, tile_size=40)
        for i, record in enumerate(ds.records):
            with rasterio.open(record.mask) as src:
                rgb = src.read()
            np.testing.assert_array_equal(ds[i]['mask'].numpy(), expected_classes(rgb))

    def test_unknown_is_ignored_and_all_classes_seen(self, data_dir: Path) -> None:
        ds = make(data_dir / 'deepglobe', split='all', patch_size=None, tile_size=40)
        values = torch.cat([ds[i]['mask'].flatten() for i in range(len(ds))]).unique()
        assert values.tolist() == [0, 1, 2, 3, 4, 5, 255]

    def test_red_is_not_a_class(self, tmp_path: Path) -> None:
        folder = tmp_path / 'train'
        folder.mkdir()
        for name, count in (('1_sat.jpg', 3), ('1_mask.png', 3)):
            driver = 'JPEG' if name.endswith('jpg') else 'PNG'
            data = np.zeros((count, 8, 8), dtype=np.uint8)
            if driver == 'PNG':
                data[0] = 255  # pure red: not in the palette
                data[:, :, 4:] = 255  # white: barren
            with rasterio.open(
                folder / name,
                'w',
                driver=driver,
                width=8,
                height=8,
                count=count,
                dtype='uint8',
            ) as dst:
                dst.write(data)
        ds = make(tmp_path, split='all', patch_size=8)
        mask = ds[0]['mask']
        assert (mask[:, :4] == 255).all() and (mask[:, 4:] == 5).all()

    def test_patches_cover_image(self, data_dir: Path) -> None:
        ds = make(data_dir / 'deepglobe', split='all')
        # 40x40 with 16-pixel patches: rows/cols 0, 16, 32 -> 9 patches per image
        assert len(ds) == 5 * 9
        last = ds[8]
        assert last['id'].endswith('_r32_c32_p16')
        assert (last['mask'][8:, :] == 255).all() and (last['mask'][:, 8:] == 255).all()

    def test_split_by_image(self, data_dir: Path) -> None:
        images = {
            s: {r.id for r in make(data_dir / 'deepglobe', split=s).records}
            for s in ('train', 'val', 'test')
        }
        assert [len(images[s]) for s in ('train', 'val', 'test')] == [3, 1, 1]
        assert not (images['train'] & images['val']) and not (
            images['train'] & images['test']
        )

    def test_image_labels_from_mask(self, data_dir: Path) -> None:
        ds = make(data_dir / 'deepglobe', split='all', presence_threshold=0.2)
        for i in range(len(ds)):
            sample = ds[i]
            valid = sample['mask'][sample['mask'] != 255]
            counts = torch.bincount(valid, minlength=6)
            if valid.numel() == 0:
                assert int(sample['label']) == 255
                continue
            assert counts[int(sample['label'])] == counts.max()
            expected = (counts.float() / valid.numel() >= 0.2).float()
            assert torch.equal(sample['label_multi'], expected)

    def test_class_map(self, data_dir: Path) -> None:
        ds = make(
            data_dir / 'deepglobe',
            split='all',
            class_map=data_dir / 'deepglobe' / 'class_map.json',
        )
        mapping = json.loads((data_dir / 'deepglobe' / 'class_map.json').read_text())
        for i in range(0, len(ds), 9):
            image_id = ds.records[ds.patches[i].image].id
            name = mapping[f'{image_id}_sat.jpg']
            assert int(ds[i]['label']) == ds.classes.index(name)

    def test_class_map_unknown_class(self, tmp_path: Path, data_dir: Path) -> None:
        path = tmp_path / 'class_map.json'
        path.write_text(json.dumps({'100': 'desert'}))
        with pytest.raises(ValueError, match="'desert'"):
            make(data_dir / 'deepglobe', class_map=path)

    def test_bad_threshold(self, data_dir: Path) -> None:
        with pytest.raises(ValueError, match='presence_threshold'):
            make(data_dir / 'deepglobe', presence_threshold=2)

    def test_missing(self, tmp_path: Path) -> None:
        with pytest.raises(DatasetNotFoundError):
            make(tmp_path)

    def test_missing_mask(self, copy_data) -> None:  # type: ignore[no-untyped-def]
        root = copy_data('deepglobe')
        (root / 'train' / '207_mask.png').unlink()
        with pytest.raises(FileNotFoundError, match='207_mask.png'):
            make(root)

    def test_grey_mask(self, copy_data) -> None:  # type: ignore[no-untyped-def]
        root = copy_data('deepglobe')
        path = root / 'train' / '207_mask.png'
        with rasterio.open(
            path, 'w', driver='PNG', width=40, height=40, count=1, dtype='uint8'
        ) as dst:
            dst.write(np.zeros((1, 40, 40), dtype=np.uint8))
        ds = make(root, split='all')
        with pytest.raises(ValueError, match='must be RGB'):
            ds[ds.ids.index('207_r0_c0_p16')]

    def test_truncated_image(self, copy_data) -> None:  # type: ignore[no-untyped-def]
        root = copy_data('deepglobe')
        path = root / 'train' / '855_sat.jpg'
        data = path.read_bytes()
        path.write_bytes(data[: len(data) * 2 // 3])
        ds = make(root, split='all')  # the header is intact: found at read time
        with pytest.raises(OSError, match='855_sat.jpg'):
            ds[ds.ids.index('855_r32_c32_p16')]  # rows past the truncation

    def test_plot(self, data_dir: Path) -> None:
        ds = make(data_dir / 'deepglobe')
        sample = ds[0]
        sample['prediction'] = torch.zeros_like(sample['mask'])
        fig = ds.plot(sample)
        assert [ax.get_title() for ax in fig.axes] == ['Image', 'Mask', 'Prediction']
        plt.close('all')


def test_split_ids_written_in_the_config(copy_data) -> None:  # type: ignore[no-untyped-def]
    root = copy_data('deepglobe')
    val = make(root, split='val', split_file=['207', '855'])
    assert [r.id for r in val.records] == ['207', '855']
    with pytest.raises(
        ValueError, match=r"1 ids in the val id list are not in the dataset .*\['404'\]"
    ):
        make(root, split='val', split_file=['207', '404'])


def test_decoded_images_are_cached_and_read_as_from_the_file(
    copy_data, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from torchgeo_als4gan.datasets import raster_io

    root = copy_data('deepglobe')
    cached = make(root, split='all')
    first = [cached[i] for i in range(len(cached))]
    assert any(key[0].endswith('_sat.jpg') for key in raster_io._decode_cache)
    monkeypatch.setenv('ALS4GAN_DECODE_CACHE_MB', '0')  # off: windowed reads
    plain = make(root, split='all')
    for i, sample in enumerate(first):
        assert torch.equal(sample['image'], plain[i]['image'])
        assert torch.equal(sample['mask'], plain[i]['mask'])
