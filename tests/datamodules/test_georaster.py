import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.transform
import torch
from lightning.pytorch.utilities import CombinedLoader

from torchgeo_als4gan.datamodules import GeoSegmentationDataModule
from torchgeo_als4gan.samplers import FootprintGeoSampler

CLASSES = ['background', 'building', 'water']


def geo(
    data_dir: Path, labels: str | None = 'vectors/labels.geojson', **kwargs: Any
) -> GeoSegmentationDataModule:
    root = data_dir / 'georaster'
    kwargs.setdefault('patch_size', 16)
    kwargs.setdefault('split_block', 1)
    kwargs.setdefault('batch_size', 2)
    return GeoSegmentationDataModule(
        image_paths=str(root / 'imagery'),
        label_paths=None if labels is None else str(root / labels),
        classes=CLASSES,
        label_name='landcover',
        **kwargs,
    )


class TestGeoSegmentationDataModule:
    def test_split_and_pool(self, data_dir: Path) -> None:
        dm = geo(data_dir, labeled_ratio=0.5, seed=0)
        dm.setup('fit')
        fp = dm.footprints
        assert fp is not None and len(fp) == 24
        labeled_area = fp[fp['split'] != 'unlabeled']
        assert len(labeled_area) == 16  # patches touching the polygons' extent
        counts = labeled_area['split'].value_counts().to_dict()
        assert counts == {'train': 12, 'val': 2, 'test': 2}
        assert len(dm.labeled_ids) == 6  # ceil(0.5 * 12)
        # unlabelled pool: the other 6 train patches + 8 patches outside the labels
        assert len(dm.unlabeled_footprints) == 14
        assert not set(dm.unlabeled_footprints['id']) & set(dm.labeled_ids)

    def test_semi_batches_keep_footprints(
        self, data_dir: Path, training_trainer: Any
    ) -> None:
        dm = geo(data_dir, labeled_ratio=0.1, crop_size=8)
        dm.setup('fit')
        loader = dm.train_dataloader()
        assert isinstance(loader, CombinedLoader)
        batch, _, _ = next(iter(loader))
        assert batch['labeled']['image'].shape == (2, 3, 16, 16)
        assert 'mask' not in batch['unlabeled']
        moved = dm.transfer_batch_to_device(batch, torch.device('cpu'), 0)
        assert 'bounds' not in moved['labeled'] and moved['labeled'][
            'footprint'
        ].shape == (2, 4)
        left, bottom, right, top = moved['labeled']['footprint'][0].tolist()
        assert right - left == 160 and top - bottom == 160
        frame = dm.footprints
        assert frame is not None
        assert frame.geometry.bounds['minx'].isin([left]).any()
        dm.trainer = training_trainer
        out = dm.on_after_batch_transfer(moved, 0)
        assert out['labeled']['mask'].shape == (2, 8, 8)
        assert out['unlabeled']['image'].shape == (2, 3, 8, 8)

    def test_supervised_val_test(self, data_dir: Path) -> None:
        dm = geo(data_dir, labels='masks', unlabeled=False, labeled_ratio=1.0)
        dm.setup('fit')
        batch = next(iter(dm.train_dataloader()))
        assert batch['mask'].shape == (2, 16, 16)
        assert len(dm.val_dataloader()) == 1
        assert len(dm.test_dataloader()) == 1

    def test_selection_gpkg(self, data_dir: Path, tmp_path: Path) -> None:
        dm = geo(data_dir)
        dm.setup('fit')
        assert dm.footprints is not None
        chosen = dm.footprints[dm.footprints['split'] == 'train'].iloc[[0, 3]]
        gpd.GeoDataFrame(chosen[['id', 'geometry']]).to_file(tmp_path / 'sel.gpkg')
        dm = geo(data_dir, selection_file=tmp_path / 'sel.gpkg')
        dm.setup('fit')
        assert dm.labeled_ids == list(chosen['id'])

    def test_selection_unknown(self, data_dir: Path, tmp_path: Path) -> None:
        (tmp_path / 'sel.txt').write_text('scene_r0_c0\nelsewhere_r0_c0\n')
        dm = geo(data_dir, selection_file=tmp_path / 'sel.txt')
        with pytest.raises(ValueError, match='elsewhere_r0_c0'):
            dm.setup('fit')

    def test_unlabelled_only(self, data_dir: Path) -> None:
        dm = geo(data_dir, labels=None)
        dm.setup('fit')
        assert len(dm.unlabeled_footprints) == 24
        with pytest.raises(ValueError, match='No labelled patch'):
            dm.train_dataloader()

    def test_no_val_patch(self, data_dir: Path) -> None:
        dm = geo(data_dir, split_block=4)
        with pytest.raises(ValueError, match='No val patch.*split_block'):
            dm.setup('fit')

    def test_bad_arguments(self, data_dir: Path) -> None:
        with pytest.raises(ValueError, match='labeled_ratio'):
            geo(data_dir, labeled_ratio=0)
        with pytest.raises(ValueError, match='not both'):
            geo(data_dir, labeled_ratio=0.5, selection_file='x.gpkg')

    def test_bad_counts_and_classes(self, data_dir: Path) -> None:
        for key, value in (('stride', 0), ('steps_per_epoch', 0), ('split_block', 0),
                           ('patch_size', 0)):  # fmt: skip
            with pytest.raises(ValueError, match=f'{key} must be a positive integer'):
                geo(data_dir, **{key: value})
        with pytest.raises(ValueError, match='background must be a class index'):
            geo(data_dir, background=3)
        with pytest.raises(ValueError, match='at least two classes'):
            GeoSegmentationDataModule(image_paths=str(data_dir), classes=[])
        dm = geo(data_dir, predict_overlap=16)
        with pytest.raises(
            ValueError, match=r'predict_overlap must be in \[0, patch_size=16\)'
        ):
            dm.setup('predict')

    def test_ids_keep_dots(self, data_dir: Path, tmp_path: Path) -> None:
        import shutil

        import numpy as np

        images = tmp_path / 'imagery'
        images.mkdir()
        shutil.copy(
            data_dir / 'georaster' / 'imagery' / 'scene.tif', images / 'scene.v2.tif'
        )
        dm = GeoSegmentationDataModule(
            image_paths=str(images),
            label_paths=str(data_dir / 'georaster' / 'vectors' / 'labels.geojson'),
            classes=CLASSES, label_name='landcover', patch_size=16, split_block=1,
        )  # fmt: skip
        dm.setup('fit')
        chosen = dm.labeled_ids[:2]
        assert all(i.startswith('scene.v2_r') for i in chosen)
        np.save(tmp_path / 'selection.npy', np.asarray(chosen))
        again = GeoSegmentationDataModule(
            image_paths=str(images),
            label_paths=str(data_dir / 'georaster' / 'vectors' / 'labels.geojson'),
            classes=CLASSES, label_name='landcover', patch_size=16, split_block=1,
            selection_file=str(tmp_path / 'selection.npy'),
        )  # fmt: skip
        again.setup('fit')
        assert again.labeled_ids == chosen

    def test_labels_outside_the_imagery(self, data_dir: Path, tmp_path: Path) -> None:
        from shapely.geometry import box

        far = tmp_path / 'far.geojson'
        gpd.GeoDataFrame(
            {'landcover': [1]}, geometry=[box(0, 0, 10, 10)], crs='EPSG:32618'
        ).to_file(far)
        dm = geo(data_dir, labels=None)
        dm.label_paths = str(far)
        with pytest.raises(
            ValueError, match=r"label_paths '.*far\.geojson' do not overlap image_paths"
        ):
            dm.setup('fit')

    def test_raster_masks_without_class_pixels(
        self, data_dir: Path, tmp_path: Path
    ) -> None:
        import rasterio

        with rasterio.open(data_dir / 'georaster' / 'masks' / 'scene_mask.tif') as src:
            profile, data = src.profile, src.read()
        (tmp_path / 'masks').mkdir()
        with rasterio.open(tmp_path / 'masks' / 'm.tif', 'w', **profile) as dst:
            dst.write(data * 0 + 9)  # 1..C stored where 0..C-1 was meant, say
        dm = geo(data_dir, labels=None)
        dm.label_paths = str(tmp_path / 'masks')
        with pytest.raises(ValueError, match='hold no pixel of the 3 classes'):
            dm.setup('fit')


def write_patch_mask(
    folder: Path, pid: str, bounds: tuple[float, ...], crs: Any, values: np.ndarray
) -> Path:
    """One mask GeoTIFF on a patch footprint, as ``als4gan labels`` writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f'{pid}.tif'
    height, width = values.shape
    profile = {
        'driver': 'GTiff', 'width': width, 'height': height, 'count': 1,
        'dtype': 'uint8', 'crs': crs, 'nodata': 255,
        'transform': rasterio.transform.from_bounds(*bounds, width, height),
    }  # fmt: skip
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(values.astype(np.uint8)[None])
    return path


class TestAddedLabels:
    def mask_at(self, dm: GeoSegmentationDataModule, pid: str) -> torch.Tensor:
        assert dm.scene is not None and dm.footprints is not None
        chosen = dm.footprints[dm.footprints['id'] == pid]
        (query,) = FootprintGeoSampler(dm.scene, chosen, 16)
        mask: torch.Tensor = dm.scene[query]['mask']
        return mask.squeeze(0)

    def test_masks_label_pool_patches_without_moving_the_split(
        self, data_dir: Path, tmp_path: Path
    ) -> None:
        before = geo(data_dir)
        pool, labelled = before.labelling_pool()
        fp = before.footprints
        assert fp is not None
        # the pool: every patch outside val/test; the labelled ones are known
        assert len(pool) == 20 and len(labelled) == 12
        assert set(pool.ids) == set(
            fp.loc[fp['split'].isin(['train', 'unlabeled']), 'id']
        )
        assert labelled == set(fp.loc[fp['split'] == 'train', 'id'])
        assert set(pool.dataset[0]) == {'image'}  # read from the imagery alone
        patch = fp[fp['split'] == 'unlabeled'].iloc[0]
        values = np.full((16, 16), 2)
        values[:8] = 255  # the annotator left the top half unlabelled
        write_patch_mask(
            tmp_path / 'drawn', patch['id'], patch.geometry.bounds, fp.crs, values
        )

        after = geo(data_dir, added_label_paths=str(tmp_path / 'drawn'))
        pool_after, labelled_after = after.labelling_pool()
        assert pool_after.ids == pool.ids  # stable pool order
        assert labelled_after == labelled | {patch['id']}
        moved = after.footprints
        assert moved is not None
        changed = moved['split'] != fp['split']
        assert moved.loc[changed, 'id'].tolist() == [patch['id']]
        assert moved.loc[changed, 'split'].tolist() == ['train']
        # the drawn mask, its unlabelled pixels included, not the base background
        assert torch.equal(
            self.mask_at(after, patch['id']), torch.from_numpy(values).long()
        )
        train_id = fp.loc[fp['split'] == 'train', 'id'].iloc[0]
        assert torch.equal(
            self.mask_at(after, train_id), self.mask_at(before, train_id)
        )
        # a selection naming the drawn patch trains on it
        selection = tmp_path / 'chosen.csv'
        selection.write_text(f'id\n{patch["id"]}\n{train_id}\n')
        dm = geo(
            data_dir, added_label_paths=str(tmp_path / 'drawn'),
            selection_file=str(selection),
        )  # fmt: skip
        dm.setup('fit')
        assert sorted(dm.labeled_ids) == sorted([patch['id'], train_id])

    def test_masks_on_val_or_test_patches_are_refused(
        self, data_dir: Path, tmp_path: Path
    ) -> None:
        fp = geo(data_dir)._build()
        held_out = fp[fp['split'] == 'val'].iloc[0]
        write_patch_mask(
            tmp_path / 'drawn', held_out['id'], held_out.geometry.bounds, fp.crs,
            np.ones((16, 16)),
        )  # fmt: skip
        with pytest.raises(
            ValueError, match=rf"cover val/test patches \['{held_out['id']}'\]"
        ):
            geo(data_dir, added_label_paths=str(tmp_path / 'drawn'))._build()
        with pytest.raises(ValueError, match='added_label_paths .* needs label_paths'):
            geo(
                data_dir, labels=None, added_label_paths=str(tmp_path / 'drawn')
            )._build()
        with pytest.raises(ValueError, match='Labelling in rounds needs label_paths'):
            geo(data_dir, labels=None).labelling_pool()


class TestContext:
    def test_batches_carry_each_patch_context(
        self, data_dir: Path, tmp_path: Path
    ) -> None:
        from torchgeo_als4gan.context import context_vector, lonlat_of_bounds

        table = tmp_path / 'dates.csv'
        table.write_text('file,date\nscene.tif,2020-07-15\n')
        dm = geo(data_dir, labeled_ratio=0.5, context=True, date_table=str(table))
        dm.setup('fit')
        batch, _, _ = next(iter(dm.train_dataloader()))
        moved = dm.transfer_batch_to_device(batch, torch.device('cpu'), 0)
        for sub in (moved['labeled'], moved['unlabeled']):
            assert sub['metadata'].shape == (2, 4) and sub['metadata_valid'].all()
            for footprint, vector in zip(
                sub['footprint'], sub['metadata'], strict=True
            ):
                lat, lon = lonlat_of_bounds(footprint.tolist(), 'EPSG:32618')
                expected = context_vector(lat, lon, datetime.date(2020, 7, 15))
                torch.testing.assert_close(vector, expected)
        # without context, batches stay as they were
        plain = geo(data_dir, labeled_ratio=0.5)
        plain.setup('fit')
        batch, _, _ = next(iter(plain.train_dataloader()))
        assert (
            'metadata'
            not in plain.transfer_batch_to_device(batch, torch.device('cpu'), 0)[
                'labeled'
            ]
        )

    def test_rasters_without_a_date_are_named(self, data_dir: Path) -> None:
        with pytest.raises(
            ValueError, match=r"No acquisition date for '.*scene.tif': give dates"
        ):
            geo(data_dir, context=True).setup('fit')
