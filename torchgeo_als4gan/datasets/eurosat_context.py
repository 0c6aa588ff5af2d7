"""TorchGeo's EuroSAT with the location (and a fixed date) of every image."""

import datetime
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torchgeo.datasets import EuroSAT

from ..context import context_vector, raster_location

__all__ = ('EuroSATContext',)


class EuroSATContext(EuroSAT):
    """EuroSAT (TorchGeo's class, files and splits) whose samples carry a context.

    The multispectral EuroSAT GeoTIFFs are georeferenced: each sample's
    ``metadata`` is the context vector of the image centre (reprojected to
    EPSG:4326) and of ``date``. EuroSAT records no acquisition date, so the
    date is fixed for all images (2000-01-01, as Bernhard et al. 2024 do);
    ``metadata_valid`` is True. Locations are read once per image, when first
    needed.
    """

    def __init__(
        self,
        root: str = 'data',
        split: str = 'train',
        bands: Sequence[str] = EuroSAT.BAND_SETS['all'],
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
        download: bool = False,
        checksum: bool = False,
        date: str = '2000-01-01',
    ) -> None:
        """Initialize a new EuroSATContext.

        Args:
            root: root directory of the dataset (TorchGeo's layout).
            split: ``train``, ``val`` or ``test``.
            bands: band names to load.
            transforms: a function applied to each sample.
            download: download the dataset if missing.
            checksum: check the MD5 of downloaded files.
            date: the acquisition date given to every image (ISO format).

        Raises:
            ValueError: If ``date`` is not an ISO date.
            DatasetNotFoundError: If the dataset is not found.
        """
        try:
            self.date = datetime.date.fromisoformat(date)
        except ValueError:
            msg = f'date must be an ISO date (YYYY-MM-DD), got {date!r}'
            raise ValueError(msg) from None
        super().__init__(root, split, bands, transforms, download, checksum)
        self._context: dict[int, Tensor] = {}

    def context(self, index: int) -> Tensor:
        """The context vector of one image.

        Args:
            index: sample index.

        Returns:
            ``[4]`` context vector.
        """
        if index not in self._context:
            lat, lon = raster_location(self.imgs[index][0])
            self._context[index] = context_vector(lat, lon, self.date)
        return self._context[index]

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Return a sample with its context.

        Args:
            index: sample index.

        Returns:
            ``image``, ``label``, ``metadata``, ``metadata_valid`` and ``id``
            (the file name without extension).
        """
        image, label = self._load_image(index)
        image = image.index_select(0, self.band_indices).float()
        sample: dict[str, Any] = {
            'image': image, 'label': label, 'metadata': self.context(index),
        }  # fmt: skip
        sample['metadata_valid'] = torch.tensor(True)
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample
