"""TorchGeo's BigEarthNet with the location and acquisition date of every patch."""

import datetime
import glob
import os
import re
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torchgeo.datasets import BigEarthNet

from ..context import context_vector, raster_location

__all__ = ('BigEarthNetContext',)

#: The acquisition time in BigEarthNet patch folder names, e.g.
#: ``S2A_MSIL2A_20170717T113321_82_89`` or ``S1A_IW_GRDH_1SDV_20170613T165043_33UUP_61_39``.
FOLDER_DATE = re.compile(r'_(?P<date>\d{8})T\d{6}_')


def folder_date(folder: str) -> datetime.date | None:
    """The acquisition date in a BigEarthNet patch folder name.

    Args:
        folder: the folder path or name.

    Returns:
        The date, or None when the name carries none.
    """
    match = FOLDER_DATE.search(os.path.basename(os.path.normpath(folder)))
    if match is None:
        return None
    try:
        return datetime.datetime.strptime(match['date'], '%Y%m%d').date()
    except ValueError:
        return None


class BigEarthNetContext(BigEarthNet):
    """BigEarthNet (TorchGeo's class, files and splits) whose samples carry a context.

    Each sample's ``metadata`` is the context vector of the patch centre (from
    its GeoTIFFs' georeferencing, reprojected to EPSG:4326) and of the
    acquisition date in its folder name; ``metadata_valid`` is True. Every
    folder's date is checked when the dataset is built; locations are read
    once per patch, when first needed. Labels are TorchGeo's multi-hot
    ``label`` (19 or 43 classes).
    """

    def __init__(
        self,
        root: str = 'data',
        split: str = 'train',
        bands: str = 'all',
        num_classes: int = 19,
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
        download: bool = False,
        checksum: bool = False,
    ) -> None:
        """Initialize a new BigEarthNetContext.

        Args:
            root: root directory of the dataset (TorchGeo's layout).
            split: ``train``, ``val`` or ``test``.
            bands: ``s1``, ``s2`` or ``all``.
            num_classes: 19 or 43.
            transforms: a function applied to each sample.
            download: download the dataset if missing.
            checksum: check the MD5 of downloaded files.

        Raises:
            ValueError: If patch folder names carry no date (a few are named).
            DatasetNotFoundError: If the dataset is not found.
        """
        super().__init__(
            root, split, bands, num_classes, transforms, download, checksum
        )
        key = 's1' if bands == 's1' else 's2'
        self._dated = [folder[key] for folder in self.folders]
        self.dates = [folder_date(folder) for folder in self._dated]
        missing = [
            os.path.basename(f) for f, d in zip(self._dated, self.dates, strict=True)
            if d is None
        ]  # fmt: skip
        if missing:
            more = f' and {len(missing) - 3} more' if len(missing) > 3 else ''
            msg = (
                f'BigEarthNet patch folders without an acquisition date in their name'
                f' ({FOLDER_DATE.pattern!r}, e.g. S2A_MSIL2A_20170717T113321_82_89):'
                f' {missing[:3]}{more}'
            )
            raise ValueError(msg)
        self._context: dict[int, Tensor] = {}

    def context(self, index: int) -> Tensor:
        """The context vector of one patch.

        Args:
            index: sample index.

        Returns:
            ``[4]`` context vector.

        Raises:
            ValueError: If the patch folder has no GeoTIFF.
        """
        if index not in self._context:
            files = sorted(glob.glob(os.path.join(self._dated[index], '*.tif')))
            if not files:
                msg = f'no GeoTIFF in BigEarthNet patch folder {self._dated[index]!r}'
                raise ValueError(msg)
            lat, lon = raster_location(files[0])
            date = self.dates[index]
            assert date is not None
            self._context[index] = context_vector(lat, lon, date)
        return self._context[index]

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Return a sample with its context.

        Args:
            index: sample index.

        Returns:
            ``image``, ``label``, ``metadata``, ``metadata_valid``.
        """
        sample: dict[str, Any] = {
            'image': self._load_image(index),
            'label': self._load_target(index),
            'metadata': self.context(index),
            'metadata_valid': torch.tensor(True),
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample
