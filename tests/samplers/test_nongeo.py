from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from torchgeo_als4gan.datasets import NonGeoPatch, UCMercedDLRSD
from torchgeo_als4gan.samplers import (
    GridPatchSampler,
    PatchSubsetSampler,
    RandomPatchSampler,
)


@pytest.fixture
def dataset(data_dir: Path) -> UCMercedDLRSD:
    return UCMercedDLRSD(data_dir / 'ucmerced_dlrsd', split='all', tile_size=32)


class TestGridPatchSampler:
    def test_covers_every_pixel(self, dataset: UCMercedDLRSD) -> None:
        sampler = GridPatchSampler(dataset, size=12, stride=10)
        covered = [torch.zeros(shape, dtype=torch.bool) for shape in dataset.shapes]
        for patch in sampler:
            covered[patch.image][
                patch.row : patch.row + 12, patch.col : patch.col + 12
            ] = True
        assert all(c.all() for c in covered)
        # rows/cols 0, 10, 20 (20 + 12 = 32 covers the tile) -> 3 x 3 windows per
        # tile; the 33 x 33 tile (airplane02) needs 4 x 4
        assert dataset.shapes[dataset.ids.index('airplane02')] == (33, 33)
        assert len(sampler) == 11 * 9 + 16
        # 33 rows need a 4th window, which reaches past the image
        assert len(GridPatchSampler(dataset, size=11, stride=10, images=[0])) == 16
        with pytest.raises(ValueError, match='stride must be a positive integer'):
            GridPatchSampler(dataset, size=11, stride=0)

    def test_images_and_loader(self, dataset: UCMercedDLRSD) -> None:
        sampler = GridPatchSampler(dataset, size=16, images=[0, 2])
        assert {p.image for p in sampler} == {0, 2}
        batch = next(iter(DataLoader(dataset, batch_size=4, sampler=sampler)))
        assert batch['image'].shape == (4, 3, 16, 16)
        assert batch['id'][1] == 'agricultural00_r0_c16_p16'


class TestRandomPatchSampler:
    def test_inside_and_seeded(self, dataset: UCMercedDLRSD) -> None:
        sampler = RandomPatchSampler(
            dataset, 8, 50, generator=torch.Generator().manual_seed(0)
        )
        patches = list(sampler)
        assert len(patches) == len(sampler) == 50
        for p in patches:
            height, width = dataset.shapes[p.image]
            assert 0 <= p.row <= height - 8 and 0 <= p.col <= width - 8
        again = RandomPatchSampler(
            dataset, 8, 50, generator=torch.Generator().manual_seed(0)
        )
        assert list(again) == patches
        assert len({(p.row, p.col) for p in patches}) > 10

    def test_small_image_gives_padded_window(self, dataset: UCMercedDLRSD) -> None:
        sampler = RandomPatchSampler(dataset, 40, 5, images=[0])
        assert all(p == NonGeoPatch(0, 0, 0, 40) for p in sampler)

    def test_invalid(self, dataset: UCMercedDLRSD) -> None:
        with pytest.raises(ValueError, match='positive'):
            RandomPatchSampler(dataset, 0, 5)
        with pytest.raises(ValueError, match='at least one image'):
            RandomPatchSampler(dataset, 8, 5, images=[])


class TestPatchSubsetSampler:
    def test_from_ids(self, dataset: UCMercedDLRSD) -> None:
        sampler = PatchSubsetSampler.from_ids(dataset, ['beach01', 'airplane02'])
        assert [dataset.patch_id(p) for p in sampler] == ['beach01', 'airplane02']
        assert len(sampler) == 2

    def test_shuffle(self, dataset: UCMercedDLRSD) -> None:
        ids = dataset.ids
        sampler = PatchSubsetSampler.from_ids(
            dataset, ids, shuffle=True, generator=torch.Generator().manual_seed(0)
        )
        order = [dataset.patch_id(p) for p in sampler]
        assert sorted(order) == sorted(ids) and order != ids

    def test_unknown_ids(self, dataset: UCMercedDLRSD) -> None:
        with pytest.raises(ValueError, match=r"2 ids .*\['forest00', 'x_r0_c0_p8'\]"):
            PatchSubsetSampler.from_ids(dataset, ['beach01', 'forest00', 'x_r0_c0_p8'])
