from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import torch
from shapely.geometry import box
from torchgeo.datasets import DatasetNotFoundError

from torchgeo_als4gan.datasets import GeoVectorLabels, NonGeoPatch, UCMercedDLRSD
from torchgeo_als4gan.datasets.raster_io import (
    RasterHeader,
    check_complete_png,
    raster_header,
    read_window,
    resolve_bands,
)
from torchgeo_als4gan.datasets.utils import grid_windows, read_id_list, seeded_split


def test_read_window_outside(data_dir: Path) -> None:
    path = next((data_dir / 'ucmerced_dlrsd').rglob('beach00.tif'))
    data, offset = read_window(path, 100, 100, 8, 8)
    assert data.shape == (3, 0, 0) and offset == (0, 0)
    ds = UCMercedDLRSD(data_dir / 'ucmerced_dlrsd', split='all', tile_size=32)
    sample = ds[NonGeoPatch(0, 100, 100, 8)]
    assert (sample['mask'] == 255).all() and (sample['image'] == 0).all()


def test_read_id_list_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        read_id_list(tmp_path / 'missing.txt')
    (tmp_path / 'empty').write_text('\n  \n')
    with pytest.raises(ValueError, match='contains no ids'):
        read_id_list(tmp_path / 'empty')


def test_split_and_grid_errors() -> None:
    with pytest.raises(ValueError, match='three non-negative'):
        seeded_split(10, (0.5, 0.5), 0)
    split = seeded_split(10, (0.6, 0.2, 0.2), 0)
    assert sorted(i for items in split.values() for i in items) == list(range(10))
    assert [len(split[k]) for k in ('train', 'val', 'test')] == [6, 2, 2]
    with pytest.raises(ValueError, match='positive'):
        grid_windows(10, 10, 0, 1)
    assert grid_windows(5, 5, 8, 8) == [(0, 0)]


def test_transforms_and_ignored_folders(copy_data) -> None:  # type: ignore[no-untyped-def]
    root = copy_data('ucmerced_dlrsd')
    (root / 'UCMerced_LandUse' / 'Images' / 'notaclass').mkdir()
    (root / 'UCMerced_LandUse' / 'Images' / 'notaclass' / 'x00.tif').write_bytes(b'')

    def double(sample: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        sample['image'] = sample['image'] * 2
        return sample

    ds = UCMercedDLRSD(root, split='all', tile_size=32, transforms=double)
    plain = UCMercedDLRSD(root, split='all', tile_size=32)
    assert len(ds) == 12
    assert torch.equal(ds[0]['image'], plain[0]['image'] * 2)


def test_empty_image_folder(tmp_path: Path) -> None:
    (tmp_path / 'UCMerced_LandUse' / 'Images').mkdir(parents=True)
    (tmp_path / 'DLRSD' / 'Labels').mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError):
        UCMercedDLRSD(tmp_path)


def test_vector_without_crs_and_missing_values(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {'class': ['building', None]}, geometry=[box(0, 0, 1, 1), box(2, 2, 3, 3)]
    )
    frame.to_file(tmp_path / 'nocrs.gpkg')
    # a file without CRS is refused, never read as if it were in some CRS
    with pytest.raises(ValueError, match=r"nocrs\.gpkg' has no CRS"):
        GeoVectorLabels(tmp_path / 'nocrs.gpkg', 'class', ['background', 'building'])
    frame.set_crs('EPSG:4326').to_file(tmp_path / 'missing.gpkg')
    with pytest.raises(ValueError, match='<missing>'):
        GeoVectorLabels(tmp_path / 'missing.gpkg', 'class', ['background', 'building'])
    frame.iloc[:1].set_crs('EPSG:4326').to_file(tmp_path / 'ok.gpkg')
    labels = GeoVectorLabels(tmp_path / 'ok.gpkg', 'class', ['background', 'building'])
    assert labels.crs.to_epsg() == 4326
    labels.crs = gpd.GeoSeries(crs='EPSG:3857').crs
    labels.res = (2e4, 2e4)
    sample = labels[0:2e5, 0:2e5]
    assert labels.features.crs == labels.crs and sample['mask'].any()


def test_resolve_bands() -> None:
    header = RasterHeader(4, 8, 8, ('red', 'green', 'blue', ''))
    assert resolve_bands(None, header, 'x.tif', 'bands') is None
    assert resolve_bands([3, 2, 1], header, 'x.tif', 'bands') == [3, 2, 1]
    assert resolve_bands(['blue', '4', 'red'], header, 'x.tif', 'bands') == [3, 4, 1]
    assert resolve_bands(2, header, 'x.tif', 'bands') == [2]
    for bad in ([0], [5], ['nir'], [True], [1.5]):
        with pytest.raises(ValueError, match=r"--bands: .* is not a band of 'x\.tif'"):
            resolve_bands(bad, header, 'x.tif', '--bands')  # type: ignore[arg-type]


def test_truncated_png(tmp_path: Path) -> None:
    path = tmp_path / 'a.png'
    with rasterio.open(
        path, 'w', driver='PNG', width=16, height=16, count=1, dtype='uint8'
    ) as dst:
        dst.write(np.arange(256, dtype=np.uint8).reshape(1, 16, 16))
    assert raster_header(path) == RasterHeader(1, 16, 16, ('',))
    check_complete_png(path)
    data = path.read_bytes()
    path.write_bytes(data[:-20])
    with pytest.raises(OSError, match=r'a\.png.*truncated or damaged'):
        raster_header(path)
    path.write_bytes(b'')
    with pytest.raises(OSError, match=r'a\.png'):
        raster_header(path)
