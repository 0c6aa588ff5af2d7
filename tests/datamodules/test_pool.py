from pathlib import Path

import pytest
import torch

from torchgeo_als4gan.datamodules import (
    DeepGlobePatchesDataModule,
    GeoSegmentationDataModule,
    PoolDataModule,
    QueryPool,
)
from torchgeo_als4gan.datamodules.pool import FootprintPatches, PoolItems


def test_geo_pool_labels_from_masks(data_dir: Path) -> None:
    datamodule = GeoSegmentationDataModule(
        image_paths=str(data_dir / 'georaster' / 'imagery'),
        label_paths=str(data_dir / 'georaster' / 'vectors' / 'labels.geojson'),
        label_name='landcover', classes=('background', 'building', 'water'),
        patch_size=16, split_block=1,
    )  # fmt: skip
    pool = datamodule.query_pool()
    assert pool.footprints is not None and len(pool.footprints) == len(pool)
    assert (pool.footprints['split'] == 'train').all()
    assert len(pool.dataset) == len(pool)  # type: ignore[arg-type]
    sample = pool.dataset[0]
    mask = sample['mask']
    valid = mask[mask != 255]
    assert int(sample['label']) == int(torch.bincount(valid, minlength=3).argmax())
    assert sample['label_multi'].shape == (3,)
    assert sample['image'].shape == (3, 16, 16)


def test_geo_pool_needs_labels(data_dir: Path) -> None:
    datamodule = GeoSegmentationDataModule(
        image_paths=str(data_dir / 'georaster' / 'imagery'), patch_size=16
    )
    with pytest.raises(ValueError, match='query pool needs label_paths'):
        datamodule.query_pool()


def test_footprint_patches_without_masks(data_dir: Path) -> None:
    datamodule = GeoSegmentationDataModule(
        image_paths=str(data_dir / 'georaster' / 'imagery'), patch_size=16
    )
    datamodule.setup('fit')
    assert datamodule.imagery is not None
    patches = FootprintPatches(
        datamodule.imagery, datamodule.unlabeled_footprints, 16, 2
    )
    assert set(patches[0]) == {'image'}
    assert 'label' not in PoolItems(patches, 'label')[0]


def test_pool_datamodule_skips_unusable_labels() -> None:
    images = [{'image': torch.full((3, 4, 4), float(i)), 'label': torch.tensor(v)}
              for i, v in enumerate([0, 255, 1, -1])]  # fmt: skip
    pool = QueryPool(images, ['a', 'b', 'c', 'd'], ('x', 'y'))  # type: ignore[arg-type]
    datamodule = PoolDataModule(pool, [0, 1, 2, 3], [1, 3], batch_size=2)
    batch = next(iter(datamodule.train_dataloader()))
    assert sorted(batch['index'].tolist()) == [0, 2]
    predict = next(iter(datamodule.predict_dataloader()))
    assert predict['index'].tolist() == [1, 3]
    empty = PoolDataModule(pool, [1, 3], [], batch_size=2)
    with pytest.raises(
        ValueError, match="None of the 2 selected items has a valid 'label'"
    ):
        empty.train_dataloader()
    unlabeled = QueryPool([{'image': torch.zeros(3, 4, 4)}], ['z'], ('x',))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='None of the 1 selected'):
        PoolDataModule(unlabeled, [0], []).train_dataloader()


def test_deepglobe_pool_has_multilabels(data_dir: Path) -> None:
    datamodule = DeepGlobePatchesDataModule(
        root=data_dir / 'deepglobe', patch_size=16, split_fractions=(0.6, 0.2, 0.2)
    )
    pool = datamodule.query_pool()
    assert pool.multi_classes == pool.label_classes
    item = PoolItems(pool.dataset, 'label_multi')[0]
    assert item['label'].dtype == torch.long and item['label'].shape == (6,)


def test_pool_datamodule_adds_the_unlabelled_stream_with_metadata() -> None:
    images = [
        {'image': torch.full((3, 4, 4), float(i)), 'label': torch.tensor(i % 2),
         'metadata': torch.full((4,), i / 10), 'metadata_valid': torch.tensor(True)}
        for i in range(8)
    ]  # fmt: skip
    pool = QueryPool(images, list('abcdefgh'), ('x', 'y'))  # type: ignore[arg-type]
    plain = PoolDataModule(pool, [0, 1, 2, 3], [], batch_size=2)
    datamodule = PoolDataModule(
        pool, [0, 1, 2, 3], [], batch_size=2, unlabeled=range(8),
        unlabeled_batch_size=3,
    )  # fmt: skip
    loader = datamodule.train_dataloader()
    batches = list(loader)
    # the same number of iterations as without the unlabelled stream
    assert len(batches) == len(list(plain.train_dataloader())) == 2
    for combined in batches:
        combined = combined[0] if isinstance(combined, tuple) else combined
        labeled, unlabeled = combined['labeled'], combined['unlabeled']
        assert set(labeled['index'].tolist()) <= {0, 1, 2, 3}
        # selected items never appear as unlabelled ones
        assert set(unlabeled['index'].tolist()) <= {4, 5, 6, 7}
        assert unlabeled['image'].shape[0] == 3
        torch.testing.assert_close(
            unlabeled['metadata'][:, 0], unlabeled['index'].float() / 10
        )


def test_geo_pool_items_carry_their_context(data_dir: Path) -> None:
    from torchgeo_als4gan.context import context_vector

    datamodule = GeoSegmentationDataModule(
        image_paths=str(data_dir / 'georaster' / 'imagery'),
        label_paths=str(data_dir / 'georaster' / 'vectors' / 'labels.geojson'),
        label_name='landcover', classes=('background', 'building', 'water'),
        patch_size=16, split_block=1, context=True,
        date_table=str(data_dir / 'georaster' / 'dates.csv'),
    )  # fmt: skip
    pool = datamodule.query_pool()
    assert pool.footprints is not None
    import datetime

    for index in (0, len(pool) - 1):
        sample = pool.dataset[index]
        centre = pool.footprints.geometry.iloc[[index]].centroid.to_crs('EPSG:4326')
        expected = context_vector(
            float(centre.y.iloc[0]), float(centre.x.iloc[0]), datetime.date(2020, 7, 15)
        )
        torch.testing.assert_close(sample['metadata'], expected)
        assert bool(sample['metadata_valid'])


def test_footprint_centres_in_metres_from_any_crs() -> None:
    import geopandas as gpd
    import numpy as np
    from shapely.geometry import box

    # 32 m patches in UTM 18N, and the same patches in lon/lat
    utm = gpd.GeoDataFrame(
        {'id': ['a', 'b']},
        geometry=[
            box(500000, 4500000, 500032, 4500032),
            box(500100, 4500000, 500132, 4500032),
        ],
        crs='EPSG:32618',
    )
    lonlat = utm.to_crs('EPSG:4326')
    for footprints in (utm, lonlat):
        pool = QueryPool([], ['a', 'b'], ('x',), footprints=footprints)
        centres = pool.centres_m()
        assert centres.shape == (2, 2)
        assert np.linalg.norm(centres[1] - centres[0]) == pytest.approx(100.0, abs=0.05)
    assert pool.centres_m()[0] == pytest.approx([500016, 4500016], abs=0.05)
    with pytest.raises(ValueError, match='min_distance_m needs a georeferenced pool'):
        QueryPool([], ['a'], ('x',)).centres_m()
