from pathlib import Path

import geopandas as gpd
import pytest
import torch
from shapely.geometry import box

from torchgeo_als4gan.datamodules import (
    GeoSegmentationDataModule,
    QueryPool,
    UCMercedDLRSDDataModule,
)
from torchgeo_als4gan.datamodules.groups import pool_groups


def ucm_pool(data_dir: Path) -> QueryPool:
    datamodule = UCMercedDLRSDDataModule(
        root=data_dir / 'ucmerced_dlrsd',
        tile_size=32,
        split_fractions=(0.5, 0.25, 0.25),
    )
    return datamodule.query_pool()


def geo_pool(data_dir: Path) -> QueryPool:
    datamodule = GeoSegmentationDataModule(
        image_paths=str(data_dir / 'georaster' / 'imagery'),
        label_paths=str(data_dir / 'georaster' / 'vectors' / 'labels.geojson'),
        label_name='landcover', classes=('background', 'building', 'water'),
        patch_size=16, split_block=1,
    )  # fmt: skip
    return datamodule.query_pool()


def test_scene_and_source_groups_of_tiles(data_dir: Path) -> None:
    pool = ucm_pool(data_dir)
    scenes = pool_groups(pool, 'scene')
    assert scenes is not None and len(scenes) == len(pool)
    for pid, scene in zip(pool.ids, scenes, strict=True):
        assert pid.startswith(scene)  # UC Merced ids are <scene><number>
        assert (
            scene == pool.label_classes[int(pool.dataset[pool.ids.index(pid)]['label'])]
        )
    assert pool_groups(pool, 'source') == pool.ids  # one patch per tile
    assert pool_groups(pool, None) is None
    with pytest.raises(ValueError, match='does not apply to this pool'):
        pool_groups(pool, 'file')
    with pytest.raises(ValueError, match='stratify_by must be one of'):
        pool_groups(pool, 'city')


def test_source_of_patches_strips_the_grid_position() -> None:
    items = [{'image': torch.zeros(3, 2, 2)}] * 3
    pool = QueryPool(items, ['a_r0_c0_p8', 'a_r0_c8_p8', 'b_r0_c0'], ('x',))  # type: ignore[arg-type]
    assert pool_groups(pool, 'source') == ['a', 'a', 'b']


def test_file_and_region_groups_of_footprints(data_dir: Path, tmp_path: Path) -> None:
    pool = geo_pool(data_dir)
    assert pool.footprints is not None
    files = pool_groups(pool, 'file')
    assert files == [str(f) for f in pool.footprints['file']]
    # two regions splitting the footprints, written in lon/lat
    left, bottom, right, top = pool.footprints.total_bounds
    middle = left + 0.37 * (right - left)  # not on a footprint centre
    regions = gpd.GeoDataFrame(
        {'biome': ['west', 'east']},
        geometry=[box(left - 1, bottom - 1, middle, top + 1),
                  box(middle, bottom - 1, right + 1, top + 1)],
        crs=pool.footprints.crs,
    ).to_crs('EPSG:4326')  # fmt: skip
    path = tmp_path / 'regions.geojson'
    regions.to_file(path)
    groups = pool_groups(pool, 'region', path, 'biome')
    assert groups is not None and set(groups) <= {'west', 'east'}
    centres = pool.footprints.geometry.centroid.x.to_numpy()
    assert [g == 'west' for g in groups] == list(centres < middle)
    with pytest.raises(ValueError, match=r"region_column 'city' is not a column"):
        pool_groups(pool, 'region', path, 'city')
    regions.iloc[:1].to_file(tmp_path / 'west.geojson')
    with pytest.raises(ValueError, match=r"have no 'biome'.*e\.g\."):
        pool_groups(pool, 'region', tmp_path / 'west.geojson', 'biome')
    with pytest.raises(FileNotFoundError, match='does not exist'):
        pool_groups(pool, 'region', tmp_path / 'none.gpkg', 'biome')
    with pytest.raises(ValueError, match='needs regions'):
        pool_groups(pool, 'region')
