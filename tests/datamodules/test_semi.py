import datetime
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

    def test_unlabelled_only_images_join_the_pool(self, data_dir: Path) -> None:
        kwargs: dict[str, Any] = dict(patch_size=16, batch_size=2, labeled_ratio=0.2)
        split = {'train': ['100', '207'], 'val': ['855'], 'test': ['9999']}
        dm = DeepGlobePatchesDataModule(
            data_dir / 'deepglobe', split_files=split, **kwargs
        )
        dm.setup('fit')
        base = len(dm.unlabeled_dataset)  # type: ignore[arg-type]
        labelled = list(dm.labeled_ids)
        extra = {**split, 'unlabeled': ['2774', '9999']}
        dm = DeepGlobePatchesDataModule(
            data_dir / 'deepglobe', split_files=extra, **kwargs
        )
        with pytest.warns(UserWarning, match=r"test images \['9999'\].*transductive"):
            dm.setup('fit')
        assert dm.labeled_ids == labelled  # the labelled set does not change
        pool = dm.unlabeled_dataset
        assert pool is not None and len(pool) == base + 18  # 9 patches per image
        assert 'mask' not in pool[len(pool) - 1] and 'image' in pool[len(pool) - 1]
        clash = {**split, 'unlabeled': ['207']}
        dm = DeepGlobePatchesDataModule(
            data_dir / 'deepglobe', split_files=clash, **kwargs
        )
        with pytest.raises(
            ValueError, match=r"images \['207'\] are in the train split"
        ):
            dm.setup('fit')

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


class TestConfigErrors:
    def test_selection_ids_keep_folders(self, data_dir: Path, tmp_path: Path) -> None:
        # what `als4gan query` writes for a tile folder with scene subfolders
        np.save(tmp_path / 'selection.npy', np.asarray(['town/tile_0', 'farm/tile_1']))
        dm = SegmentationTileFolderDataModule(
            data_dir / 'tile_folder', classes=['a', 'b', 'c'], ignore_value=9,
            class_subfolders=True, split_fractions=(1.0, 0.0, 0.0),
            selection_file=tmp_path / 'selection.npy',
        )  # fmt: skip
        dm.setup('fit')
        assert dm.labeled_ids == ['farm/tile_1', 'town/tile_0']

    def test_als4gan_paths_resolve_by_name(
        self, data_dir: Path, tmp_path: Path
    ) -> None:
        names = ['Images/beach/beach01.tif', 'agricultural00.tif']
        np.save(tmp_path / 'sel.npy', np.asarray(names))
        dm = UCMercedDLRSDDataModule(
            data_dir / 'ucmerced_dlrsd', tile_size=32, split_fractions=(1, 0, 0),
            selection_file=tmp_path / 'sel.npy',
        )  # fmt: skip
        dm.setup('fit')
        assert dm.labeled_ids == ['agricultural00', 'beach01']

    @pytest.mark.parametrize(
        ('name', 'content'),
        [('s.csv', b''), ('s.npy', b'\x93NUMPY garbage'), ('s.csv', b'\xff\xfe\x00\x81'),
         ('s.gpkg', b'id\nbeach01\n'), ('s.txt', b'\xff\xfe\x00\x81')],
    )  # fmt: skip
    def test_unreadable_selection_file(
        self, data_dir: Path, tmp_path: Path, name: str, content: bytes
    ) -> None:
        (tmp_path / name).write_bytes(content)
        dm = ucm(data_dir, selection_file=tmp_path / name)
        with pytest.raises(ValueError, match=rf'Selection file .*{name}.* is not'):
            dm.setup('fit')

    @pytest.mark.parametrize(
        ('key', 'value'),
        [('steps_per_epoch', 0), ('batch_size', 0), ('unlabeled_batch_size', -2)],
    )
    def test_zero_counts_refused(self, data_dir: Path, key: str, value: int) -> None:
        with pytest.raises(ValueError, match=rf'{key} must be a positive integer'):
            ucm(data_dir, **{key: value})

    def test_zero_stride_refused(self, data_dir: Path) -> None:
        # 0 used to mean "not set" (stride or patch_size)
        with pytest.raises(ValueError, match='stride must be a positive integer'):
            DeepGlobePatchesDataModule(data_dir / 'deepglobe', patch_size=16, stride=0)

    def test_model_num_classes_checked(self, data_dir: Path, tmp_path: Path) -> None:
        from torchgeo.trainers import SemanticSegmentationTask

        task = SemanticSegmentationTask(model='fcn', num_classes=5, num_filters=2)
        trainer = Trainer(
            fast_dev_run=True, accelerator='cpu', logger=False,
            enable_progress_bar=False, default_root_dir=tmp_path,
        )  # fmt: skip
        # without the check: a torchmetrics shape error in the first step
        with pytest.raises(
            ValueError, match=r'model num_classes is 5 but the data has 17 classes'
        ):
            trainer.fit(task, ucm(data_dir, unlabeled=False))

    def test_masks_without_class_pixels(self, tmp_path: Path) -> None:
        import rasterio

        for folder, value in (('images', 1), ('masks', 7)):
            (tmp_path / folder).mkdir()
            for n in range(4):
                with rasterio.open(
                    tmp_path / folder / f't{n}.png', 'w', driver='PNG', width=8,
                    height=8, count=1, dtype='uint8',
                ) as dst:  # fmt: skip
                    dst.write(np.full((1, 8, 8), value, dtype=np.uint8))
        dm = SegmentationTileFolderDataModule(
            tmp_path, classes=['a', 'b', 'c'], split_fractions=(1, 0, 0)
        )
        with (
            pytest.warns(UserWarning, match='holds values'),
            pytest.raises(
                ValueError, match=r'hold no pixel of the 3 classes.*values found: \[7\]'
            ),
        ):
            dm.setup('fit')


class TestImageContext:
    def tile_folder(
        self, data_dir: Path, **kwargs: Any
    ) -> SegmentationTileFolderDataModule:
        return SegmentationTileFolderDataModule(
            data_dir / 'tile_folder', classes=['a', 'b', 'c'], ignore_value=9,
            class_subfolders=True, split_fractions=(1.0, 0.0, 0.0), batch_size=4,
            labeled_ratio=0.5, context=True, **kwargs,
        )  # fmt: skip

    def test_batches_carry_the_context_of_their_image(
        self, data_dir: Path, tmp_path: Path
    ) -> None:
        from torchgeo_als4gan.context import context_vector

        table = tmp_path / 'context.csv'
        rows = [f'{scene}/tile_{i},{10 * i},{-20 * i},2021-0{i + 1}-15'
                for scene in ('farm', 'town') for i in range(4)]  # fmt: skip
        rows[-1] = 'town/tile_3,5.0,6.0,'  # date unknown: masked, not zero
        table.write_text('id,lat,lon,date\n' + '\n'.join(rows) + '\n')
        dm = self.tile_folder(data_dir, context_table=str(table))
        dm.setup('fit')
        assert dm.labeled_dataset is not None
        for index in range(len(dm.labeled_dataset)):
            sample = dm.labeled_dataset[index]
            scene, tile = (
                sample['id'].split('/')[0],
                int(sample['id'].split('_')[-1][0]),
            )
            if f'{scene}/tile_{tile}' == 'town/tile_3':
                assert not sample['metadata_valid'] and not sample['metadata'].any()
                continue
            expected = context_vector(
                10 * tile, -20 * tile, datetime.date(2021, tile + 1, 15)
            )
            torch.testing.assert_close(sample['metadata'], expected)
            assert sample['metadata_valid']
        batch, _, _ = next(iter(dm.train_dataloader()))
        for part in ('labeled', 'unlabeled'):
            assert batch[part]['metadata'].shape == (4, 4)
            assert batch[part]['metadata_valid'].dtype == torch.bool

    def test_images_without_context_are_named(
        self, data_dir: Path, tmp_path: Path
    ) -> None:
        table = tmp_path / 'context.csv'
        table.write_text('id,lat,lon,date\nfarm/tile_0,1,2,2020-01-01\n')
        with pytest.raises(
            ValueError, match=r"No location and date for images \['farm/tile_1'"
        ):
            self.tile_folder(data_dir, context_table=str(table)).setup('fit')
        with pytest.raises(ValueError, match='list them in a context_table'):
            self.tile_folder(data_dir).setup('fit')
