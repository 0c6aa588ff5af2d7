"""BigEarthNetContext: TorchGeo's BigEarthNet with location and date of each patch."""

import datetime
import glob
import os
from pathlib import Path
from typing import Any

import pytest
import rasterio
import torch
from pyproj import Transformer

from torchgeo_als4gan.context import context_vector
from torchgeo_als4gan.datasets import BigEarthNetContext
from torchgeo_als4gan.datasets.bigearthnet_context import folder_date


def test_folder_dates() -> None:
    assert folder_date('S2A_MSIL2A_20170717T113321_82_89') == datetime.date(2017, 7, 17)
    assert folder_date('/x/S1A_IW_GRDH_1SDV_20170613T165043_33UUP_61_39/') == (
        datetime.date(2017, 6, 13)
    )
    assert folder_date('patch_82_89') is None
    assert folder_date('S2A_MSIL2A_20171317T113321_82_89') is None  # month 13


@pytest.mark.parametrize('bands', ['s2', 's1', 'all'])
def test_metadata_from_georeferencing_and_folder_name(
    data_dir: Path, bands: str
) -> None:
    dataset = BigEarthNetContext(
        str(data_dir / 'bigearthnet'), bands=bands, num_classes=43
    )
    assert len(dataset) == 4
    key = 's1' if bands == 's1' else 's2'
    for index in range(len(dataset)):
        sample: dict[str, Any] = dataset[index]
        folder = dataset.folders[index][key]
        with rasterio.open(sorted(glob.glob(os.path.join(folder, '*.tif')))[0]) as src:
            b, crs = src.bounds, src.crs
        lon, lat = Transformer.from_crs(crs, 'EPSG:4326', always_xy=True).transform(
            (b.left + b.right) / 2, (b.bottom + b.top) / 2
        )
        date = folder_date(folder)
        assert date is not None
        torch.testing.assert_close(sample['metadata'], context_vector(lat, lon, date))
        assert sample['label'].shape == (43,) and int(sample['label'].sum()) >= 1
    assert dataset.dates[0] == (
        datetime.date(2017, 7, 17) if key == 's2' else datetime.date(2017, 7, 16)
    )


def test_folders_without_a_date_are_named(copy_data: Any) -> None:
    root = copy_data('bigearthnet')
    csv = root / 'bigearthnet-train.csv'
    first = csv.read_text().splitlines()[0].split(',')[0]
    (root / 'BigEarthNet-v1.0' / first).rename(
        root / 'BigEarthNet-v1.0' / 'patch_82_89'
    )
    csv.write_text(csv.read_text().replace(first, 'patch_82_89'))
    with pytest.raises(
        ValueError, match=r"without an acquisition date .*\['patch_82_89'\]"
    ):
        BigEarthNetContext(str(root), bands='s2')
