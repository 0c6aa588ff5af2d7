"""EuroSATContext: TorchGeo's EuroSAT with the location of each image."""

import datetime
from pathlib import Path

import pytest
import rasterio
import torch
from pyproj import Transformer
from torchgeo.datasets import DatasetNotFoundError

from torchgeo_als4gan.context import context_vector
from torchgeo_als4gan.datasets import EuroSATContext


def centre(path: str) -> tuple[float, float]:
    with rasterio.open(path) as src:
        b, crs = src.bounds, src.crs
    lon, lat = Transformer.from_crs(crs, 'EPSG:4326', always_xy=True).transform(
        (b.left + b.right) / 2, (b.bottom + b.top) / 2
    )
    return lat, lon


def test_metadata_is_the_image_centre_and_the_fixed_date(data_dir: Path) -> None:
    dataset = EuroSATContext(str(data_dir / 'eurosat'), split='train')
    assert len(dataset) == 12 and dataset.classes == ['AnnualCrop', 'Forest', 'SeaLake']
    for index in (0, 5, 11):
        sample = dataset[index]
        lat, lon = centre(dataset.imgs[index][0])
        expected = context_vector(lat, lon, datetime.date(2000, 1, 1))
        torch.testing.assert_close(sample['metadata'], expected)
        assert bool(sample['metadata_valid'])
        assert sample['image'].shape == (13, 8, 8)
    # the Finnish forest lies north of the Spanish lake
    forest = dataset[dataset.targets.index(1)]['metadata'][0]
    lake = dataset[dataset.targets.index(2)]['metadata'][0]
    assert float(forest) * 90 > 60 > 40 > float(lake) * 90
    dated = EuroSATContext(str(data_dir / 'eurosat'), split='val', date='2018-07-01')
    assert dated[0]['metadata'][2] == pytest.approx(
        float(context_vector(0, 0, datetime.date(2018, 7, 1))[2])
    )
    assert dated.plot(dated[0]) is not None


def test_bad_date_and_missing_data(tmp_path: Path, data_dir: Path) -> None:
    with pytest.raises(
        ValueError, match="date must be an ISO date .* got '2000/01/01'"
    ):
        EuroSATContext(str(data_dir / 'eurosat'), date='2000/01/01')
    with pytest.raises(DatasetNotFoundError):
        EuroSATContext(str(tmp_path))
