from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.utilities import CombinedLoader
from torch.utils.data import DataLoader

from torchgeo_als4gan.datamodules import (
    DeepGlobePatchesDataModule,
    SegmentationTileFolderDataModule,
    UCMercedDLRSDDataModule,
)


def ucm(data_dir: Path, **kwargs: Any) -> UCMercedDLRSDDataModule:
    kwargs.setdefault('batch_size', 4)
    return UCMercedDLRSDDataModule(
        data_dir / 'ucmerced_dlrsd',
        tile_size=32,
        split_fractions=(0.5, 0.25, 0.25),
        **kwargs,
    )


class TestUCMercedDLRSDDataModule:
    def test_random_split_sizes(self, data_dir: Path) -> None:
        dm = ucm(data_dir, labeled_ratio=0.3, seed=0)
        dm.setup('fit')
        assert len(dm.labeled_ids) == 2  # ceil(0.3 * 6)
        assert len(dm.unlabeled_dataset) == 4  # type: ignore[arg-type]
        train_ids = set(dm.labeled_ids) | {
            dm.unlabeled_dataset[i]['id']
            for i in range(4)  # type: ignore[index]
        }
        assert len(train_ids) == 6
        dm2 = ucm(data_dir, labeled_ratio=0.3, seed=0)
        dm2.setup('fit')
        assert dm2.labeled_ids == dm.labeled_ids

    def test_semi_batches(self, data_dir: Path) -> None:
        dm = ucm(data_dir, labeled_ratio=0.3, unlabeled_batch_size=2)
        dm.setup('fit')
        loader = dm.train_dataloader()
        assert isinstance(loader, CombinedLoader)
        batches = [b for b, _, _ in iter(loader)]
        assert len(batches) == 2  # one pass over the 4 unlabelled tiles
        for batch in batches:
            # labelled set (2) smaller than the batch (4): drawn with replacement
            assert batch['labeled']['image'].shape == (4, 3, 32, 32)
            assert set(batch['labeled']['id']) <= set(dm.labeled_ids)
            assert (
                'mask' not in batch['unlabeled'] and 'label' not in batch['unlabeled']
            )
            assert batch['unlabeled']['image'].shape == (2, 3, 32, 32)
            assert not set(batch['unlabeled']['id']) & set(dm.labeled_ids)

    def test_supervised_batches(self, data_dir: Path) -> None:
        dm = ucm(data_dir, labeled_ratio=0.3, unlabeled=False, steps_per_epoch=3)
        dm.setup('fit')
        loader = dm.train_dataloader()
        assert isinstance(loader, DataLoader)
        batches = list(loader)
        assert len(batches) == 3 and all(
            b['mask'].shape == (4, 32, 32) for b in batches
        )

    def test_all_labelled(self, data_dir: Path) -> None:
        dm = ucm(data_dir, batch_size=2)
        dm.setup('fit')
        assert len(dm.labeled_ids) == 6 and len(dm.unlabeled_dataset) == 0  # type: ignore[arg-type]
        loader = dm.train_dataloader()
        assert isinstance(loader, DataLoader) and len(list(loader)) == 3

    def test_selection_file(self, data_dir: Path, tmp_path: Path) -> None:
        dm = ucm(data_dir)
        dm.setup('fit')
        pool = dm.labeled_ids
        np.save(tmp_path / 'sel.npy', np.array(pool[:2]))
        dm = ucm(data_dir, selection_file=tmp_path / 'sel.npy')
        dm.setup('fit')
        assert dm.labeled_ids == sorted(pool[:2], key=pool.index)

    def test_selection_file_unknown_ids(self, data_dir: Path, tmp_path: Path) -> None:
        np.save(tmp_path / 'sel.npy', np.array(['forest01', 'beach01', 'river02']))
        dm = ucm(data_dir, selection_file=tmp_path / 'sel.npy')
        with pytest.raises(
            ValueError, match=r"ids in selection file .*sel.npy.*'forest01'"
        ):
            dm.setup('fit')

    def test_bad_arguments(self, data_dir: Path, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match='labeled_ratio must be in'):
            ucm(data_dir, labeled_ratio=1.5)
        with pytest.raises(ValueError, match='not both'):
            ucm(data_dir, labeled_ratio=0.5, selection_file=tmp_path / 'x.npy')

    def test_split_files(self, data_dir: Path, tmp_path: Path) -> None:
        for name, ids in (
            ('train', 'beach00\nbeach01\nairplane01'),
            ('val', 'beach02'),
            ('test', 'beach03'),
        ):
            (tmp_path / name).write_text(ids)
        dm = ucm(
            data_dir,
            split_files={s: str(tmp_path / s) for s in ('train', 'val', 'test')},
        )
        dm.setup('fit')
        dm.setup('test')
        assert dm.labeled_ids == ['beach00', 'beach01', 'airplane01']
        assert dm.val_dataset.ids == ['beach02']  # type: ignore[union-attr]
        assert dm.test_dataset.ids == ['beach03']  # type: ignore[union-attr]

    def test_augmentation_per_sub_batch(
        self, data_dir: Path, training_trainer: Any
    ) -> None:
        dm = ucm(data_dir, labeled_ratio=0.3, crop_size=16, seed=0)
        dm.setup('fit')
        dm.trainer = training_trainer
        batch, _, _ = next(iter(dm.train_dataloader()))
        out = dm.on_after_batch_transfer(batch, 0)
        assert out['labeled']['image'].shape == (4, 3, 16, 16)
        assert out['labeled']['mask'].shape == (4, 16, 16)
        assert out['unlabeled']['image'].shape == (4, 3, 16, 16)
        assert out['labeled']['image'].abs().max() <= 1.0

    def test_val_test_normalized_only(self, data_dir: Path) -> None:
        dm = ucm(data_dir, labeled_ratio=0.5)
        trainer = Trainer(accelerator='cpu', logger=False, enable_checkpointing=False)
        dm.trainer = trainer
        dm.setup('validate')
        dm.setup('test')
        batch = next(iter(dm.val_dataloader()))
        trainer.state.stage = 'validate'  # type: ignore[assignment]
        out = dm.on_after_batch_transfer(dict(batch), 0)
        assert torch.allclose(out['image'], batch['image'] / 255)
        assert torch.equal(out['mask'], batch['mask'])
        assert len(dm.test_dataloader().dataset) == 3  # type: ignore[arg-type]


class TestOtherDataModules:
    def test_deepglobe_patches_and_image_selection(
        self, data_dir: Path, tmp_path: Path
    ) -> None:
        kwargs = dict(patch_size=16, split_fractions=(0.6, 0.2, 0.2), batch_size=2)
        dm = DeepGlobePatchesDataModule(data_dir / 'deepglobe', **kwargs)  # type: ignore[arg-type]
        dm.setup('fit')
        images = sorted({i.split('_r')[0] for i in dm.labeled_ids})
        assert len(dm.labeled_ids) == 27 and len(images) == 3
        # a selection file may name a whole image: all of its 9 patches are labelled
        (tmp_path / 'sel.txt').write_text(images[0])
        dm = DeepGlobePatchesDataModule(
            data_dir / 'deepglobe',
            selection_file=tmp_path / 'sel.txt',
            **kwargs,  # type: ignore[arg-type]
        )
        dm.setup('fit')
        assert len(dm.labeled_ids) == 9 and len(dm.unlabeled_dataset) == 18  # type: ignore[arg-type]
        batch, _, _ = next(iter(dm.train_dataloader()))
        assert batch['labeled']['label_multi'].shape == (2, 6)

    def test_tile_folder(self, data_dir: Path) -> None:
        dm = SegmentationTileFolderDataModule(
            data_dir / 'tile_folder',
            classes=['a', 'b', 'c'],
            ignore_value=9,
            class_subfolders=True,
            split_fractions=(0.5, 0.25, 0.25),
            batch_size=2,
            labeled_ratio=0.25,
        )
        dm.setup('fit')
        assert len(dm.labeled_ids) == 1
        batch, _, _ = next(iter(dm.train_dataloader()))
        assert batch['labeled']['image'].shape == (2, 3, 24, 24)
