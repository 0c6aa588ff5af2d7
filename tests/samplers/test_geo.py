from pathlib import Path

import geopandas as gpd
import pytest
import torch
from torch.utils.data import DataLoader
from torchgeo.datasets import stack_samples

from torchgeo_als4gan.datasets import GeoImagery
from torchgeo_als4gan.samplers import FootprintGeoSampler, grid_footprints


@pytest.fixture
def imagery(data_dir: Path) -> GeoImagery:
    return GeoImagery(data_dir / 'georaster' / 'imagery')


class TestGridFootprints:
    def test_grid(self, imagery: GeoImagery) -> None:
        frame = grid_footprints(imagery, 16, 16)
        # 60 x 84 pixels -> 4 rows x 6 columns, last ones reaching past the image
        assert len(frame) == 24
        assert frame.crs == imagery.crs
        assert frame['id'].iloc[7] == 'scene_r16_c16'
        minx, miny, maxx, maxy = frame.geometry.iloc[7].bounds
        assert (minx, maxy) == (500000 + 160, 4100000 - 160)
        assert (maxx - minx, maxy - miny) == (160, 160)
        assert frame.geometry.union_all().contains(imagery.index.geometry.iloc[0])


class TestFootprintGeoSampler:
    def test_yields_footprints(self, imagery: GeoImagery) -> None:
        frame = grid_footprints(imagery, 16).iloc[[3, 5]]
        sampler = FootprintGeoSampler(imagery, frame)
        queries = list(sampler)
        assert len(queries) == len(sampler) == 2
        x, y, _ = queries[0]
        bounds = frame.geometry.iloc[0].bounds
        assert (x.start, y.stop) == (bounds[0], bounds[3])
        batch = next(
            iter(
                DataLoader(
                    imagery, batch_size=2, sampler=sampler, collate_fn=stack_samples
                )
            )
        )
        assert batch['image'].shape == (2, 3, 16, 16)

    def test_other_crs(self, imagery: GeoImagery) -> None:
        frame = grid_footprints(imagery, 16).iloc[[7]]
        sampler = FootprintGeoSampler(imagery, frame.to_crs('EPSG:4326'), size=16)
        x, y, _ = next(iter(sampler))
        assert abs(x.start - 500160) < 0.5 and abs(y.stop - (4100000 - 160)) < 0.5
        assert round((x.stop - x.start) / x.step) == 16

    def test_length_with_replacement(self, imagery: GeoImagery) -> None:
        frame = grid_footprints(imagery, 16).iloc[:2]
        sampler = FootprintGeoSampler(
            imagery, frame, length=10, generator=torch.Generator().manual_seed(0)
        )
        starts = [q[0].start for q in sampler]
        assert len(starts) == 10 and set(starts) == {500000.0, 500160.0}

    def test_shuffle(self, imagery: GeoImagery) -> None:
        frame = grid_footprints(imagery, 16)
        plain = [q[0].start for q in FootprintGeoSampler(imagery, frame)]
        mixed = [
            q[0].start
            for q in FootprintGeoSampler(
                imagery, frame, shuffle=True, generator=torch.Generator().manual_seed(1)
            )
        ]
        assert sorted(plain) == sorted(mixed) and plain != mixed

    def test_invalid(self, imagery: GeoImagery) -> None:
        frame = grid_footprints(imagery, 16)
        with pytest.raises(ValueError, match='empty'):
            FootprintGeoSampler(imagery, frame.iloc[:0])
        with pytest.raises(ValueError, match='no CRS'):
            FootprintGeoSampler(
                imagery,
                gpd.GeoDataFrame(frame, crs=None).set_crs(None, allow_override=True),
            )
