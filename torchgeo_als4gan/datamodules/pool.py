"""The active learner's pool: items with image-level labels, and its datamodule."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import torch
from lightning import LightningDataModule
from lightning.pytorch.utilities import CombinedLoader
from numpy.typing import NDArray
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset
from torchgeo.datasets import GeoDataset

from ..context import missing_context
from ..datasets.utils import mask_labels
from ..samplers import FootprintGeoSampler
from ..transforms import SegmentationAugmentation
from .loaders import semi_supervised_loader

__all__ = ('FootprintPatches', 'PoolDataModule', 'PoolItems', 'QueryPool')


class FootprintPatches(Dataset[dict[str, Any]]):
    """Patches of a GeoDataset at given footprints, as a map-style dataset.

    Image-level labels are derived from each patch's mask: ``label`` is the
    dominant class and ``label_multi`` the classes present.
    """

    def __init__(
        self,
        dataset: GeoDataset,
        footprints: gpd.GeoDataFrame,
        size: int,
        num_classes: int,
        ignore_index: int = 255,
        presence_threshold: float = 0.05,
        context: Mapping[tuple[float, float], Tensor] | None = None,
    ) -> None:
        """Initialize a new FootprintPatches.

        Args:
            dataset: a GeoDataset giving ``image`` and ``mask``.
            footprints: one polygon per patch, with a CRS.
            size: patch side in pixels.
            num_classes: number of mask classes.
            ignore_index: mask value without a label.
            presence_threshold: fraction of labelled pixels for ``label_multi``.
            context: context vectors by footprint corner (west, north, rounded
                to 6 decimals), as :class:`GeoSegmentationDataModule` reads them;
                items then carry ``metadata`` and ``metadata_valid``.
        """
        self.dataset = dataset
        self.context = context
        self.queries = list(FootprintGeoSampler(dataset, footprints, size))
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.presence_threshold = presence_threshold

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Read one patch.

        Args:
            index: footprint index.

        Returns:
            ``image``, ``mask``, ``label`` and ``label_multi`` (and
            ``metadata``, ``metadata_valid`` with a context).
        """
        query = self.queries[index]
        sample = self.dataset[query]
        out: dict[str, Any] = {'image': sample['image'].float()}
        if self.context is not None:
            x, y = query[0], query[1]
            vector = self.context.get((round(x.start, 6), round(y.stop, 6)))
            if vector is None:
                out['metadata'], out['metadata_valid'] = missing_context()
            else:
                out['metadata'], out['metadata_valid'] = vector, torch.tensor(True)
        if 'mask' in sample:
            mask = sample['mask'].long().squeeze(0)
            out['mask'] = mask
            out.update(
                mask_labels(
                    mask, self.num_classes, self.ignore_index, self.presence_threshold
                )
            )
        return out

    def __len__(self) -> int:
        """Return the number of footprints.

        Returns:
            Length.
        """
        return len(self.queries)


@dataclass
class QueryPool:
    """The items the active learner chooses from.

    Built by a datamodule's ``query_pool()``: its train split, each item with an
    image-level label for the classifier (the scene class, or the dominant /
    present mask classes), and the normalization of the segmentation data.
    """

    #: Items by pool index, with ``image``, ``label`` and ``label_multi`` if known.
    dataset: Dataset[dict[str, Any]]
    #: Stable id of every item (patch ids); what the selection files hold.
    ids: list[str]
    #: Names of the classes of ``label`` (and of ``label_multi``).
    label_classes: tuple[str, ...]
    #: Per-band normalization mean.
    mean: Sequence[float] | float = 0.0
    #: Per-band normalization standard deviation.
    std: Sequence[float] | float = 255.0
    #: For georeferenced pools, one footprint per item (``id`` column, CRS set).
    footprints: gpd.GeoDataFrame | None = None
    #: Names of the multi-label classes, when they differ from ``label_classes``.
    multi_classes: tuple[str, ...] | None = None

    def __len__(self) -> int:
        """Return the pool size.

        Returns:
            Number of items.
        """
        return len(self.ids)

    def centres_m(self, argument: str = 'min_distance_m') -> NDArray[np.float64]:
        """The centre of every item's footprint in metres, in pool order.

        Footprints in a geographic CRS (or a projected one not in metres) are
        projected to their local UTM zone first.

        Args:
            argument: the option that needs the centres, for the error.

        Returns:
            [N, 2] easting, northing.

        Raises:
            ValueError: If the pool has no footprints (not georeferenced).
        """
        footprints = self.footprints
        if footprints is None:
            msg = (
                f'{argument} needs a georeferenced pool (a GeoSegmentationDataModule);'
                ' this pool has no footprints'
            )
            raise ValueError(msg)
        crs = footprints.crs
        metres = (
            crs is not None
            and crs.is_projected
            and crs.axis_info[0].unit_name in ('metre', 'meter')
        )
        if not metres:
            footprints = footprints.to_crs(footprints.estimate_utm_crs())
        centres = footprints.geometry.centroid
        return np.column_stack([centres.x.to_numpy(), centres.y.to_numpy()])


class PoolItems(Dataset[dict[str, Any]]):
    """Pool items as classifier samples: ``image``, ``label`` and ``index``."""

    def __init__(
        self, dataset: Dataset[dict[str, Any]], label_key: str, pixels: bool = False
    ) -> None:
        """Initialize a new PoolItems.

        Args:
            dataset: the pool dataset.
            label_key: ``label`` (multi-class) or ``label_multi`` (multi-label).
            pixels: also return ``pixels``, the pixels with data (not every band
                0: the padding of off-size tiles and the fill outside a raster),
                for per-pixel scores.
        """
        self.dataset = dataset
        self.label_key = label_key
        self.pixels = pixels

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Return one classifier sample.

        Args:
            index: pool index.

        Returns:
            ``image``, ``label`` and ``index`` (the pool index, as a tensor),
            and ``metadata``, ``metadata_valid`` when the pool has them.
        """
        sample = self.dataset[index]
        out = {'image': sample['image'], 'index': torch.tensor(index)}
        for key in ('metadata', 'metadata_valid'):
            if key in sample:
                out[key] = sample[key]
        if self.pixels:
            out['pixels'] = (sample['image'] != 0).any(dim=0)
        if self.label_key in sample:
            # integer targets, as TorchGeo's metrics expect (the bce loss casts)
            out['label'] = sample[self.label_key].long()
        return out

    def __len__(self) -> int:
        """Return the pool size.

        Returns:
            Length.
        """
        return len(self.dataset)  # type: ignore[arg-type]


class PoolDataModule(LightningDataModule):
    """Trains the classifier on the selected items and scores the others.

    Training batches are the selected items with valid labels, mirrored and
    flipped at random; with ``unlabeled`` items they are
    ``{'labeled', 'unlabeled'}`` batches (for a semi-supervised classifier such
    as :class:`~torchgeo_als4gan.trainers.ContextClassifierTask`), the
    unlabelled sub-batch flipped independently (its weak view); ``predict`` streams the given items in pool order without
    augmentation (only normalized), so scores do not depend on random transforms.
    """

    def __init__(
        self,
        pool: QueryPool,
        labeled: Sequence[int],
        predict: Sequence[int],
        label_key: str = 'label',
        batch_size: int = 16,
        predict_batch_size: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
        pixels: bool = False,
        unlabeled: Sequence[int] = (),
        unlabeled_batch_size: int | None = None,
    ) -> None:
        """Initialize a new PoolDataModule.

        Args:
            pool: the pool.
            labeled: pool indices to train on.
            predict: pool indices to score.
            label_key: ``label`` or ``label_multi``.
            batch_size: training batch size.
            predict_batch_size: scoring batch size (default ``batch_size``).
            num_workers: data loading workers.
            seed: seed of the batch order and the augmentation.
            pixels: items also carry ``pixels`` (see :class:`PoolItems`).
            unlabeled: pool indices of the unlabelled stream (none: labelled
                batches only). Their labels, when the pool has them, stay in
                the batch for monitoring only.
            unlabeled_batch_size: unlabelled items per batch (default
                ``batch_size``).
        """
        super().__init__()
        self.pool = pool
        self.labeled = list(labeled)
        self.predict = list(predict)
        self.label_key = label_key
        self.batch_size = batch_size
        self.predict_batch_size = predict_batch_size or batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.items = PoolItems(pool.dataset, label_key, pixels)
        self.unlabeled = [i for i in unlabeled if i not in set(self.labeled)]
        self.unlabeled_batch_size = unlabeled_batch_size or batch_size
        self.train_aug = SegmentationAugmentation(
            pool.mean, pool.std, scale=None, hflip=True, vflip=True, seed=seed
        )
        self.aug = SegmentationAugmentation(pool.mean, pool.std, None, False)

    def _trainable(self) -> list[int]:
        """Selected items whose label the classifier can learn from."""
        keep = []
        n = len(self.pool.label_classes)
        for index in self.labeled:
            label: Tensor | None = self.items[index].get('label')
            if label is None:
                continue
            if label.ndim or 0 <= int(label) < n:
                keep.append(index)
        return keep

    def train_dataloader(self) -> DataLoader[dict[str, Any]] | CombinedLoader:
        """Batches of selected items (with unlabelled ones), reshuffled every epoch.

        Returns:
            The loader (a CombinedLoader with an unlabelled stream).

        Raises:
            ValueError: If no selected item has a usable label.
        """
        trainable = self._trainable()
        if not trainable:
            msg = (
                f'None of the {len(self.labeled)} selected items has a valid'
                f' {self.label_key!r} to train the classifier on'
            )
            raise ValueError(msg)
        # as many iterations as without the unlabelled stream (same budget)
        num_batches = max(len(trainable) // self.batch_size, 1)
        return semi_supervised_loader(
            Subset(self.items, trainable),
            Subset(self.items, self.unlabeled) if self.unlabeled else None,
            self.batch_size, self.unlabeled_batch_size, num_batches, self.seed,
            self.num_workers,
        )  # fmt: skip

    def predict_dataloader(self) -> DataLoader[dict[str, Any]]:
        """The items to score, in pool order, without augmentation.

        Returns:
            The loader.
        """
        return DataLoader(
            Subset(self.items, self.predict),
            batch_size=self.predict_batch_size,
            shuffle=False,
            num_workers=self.num_workers,
            persistent_workers=False,
            pin_memory=torch.cuda.is_available(),  # non-blocking copies to the GPU
        )

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Normalize (and, when training, flip) the images on the device.

        Args:
            batch: the batch.
            dataloader_idx: loader index.

        Returns:
            The transformed batch.
        """
        if self.trainer and self.trainer.training:
            if 'labeled' in batch:
                return {key: self.train_aug(part) for key, part in batch.items()}
            return self.train_aug(batch)
        return self.aug(batch)
