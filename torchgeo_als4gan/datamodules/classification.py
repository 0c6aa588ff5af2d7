"""Semi-supervised image classification datamodules: a few labels, the rest unlabelled.

The label-fraction settings of Bernhard et al. (ECAI 2024): from a dataset's
train split, ``labels_per_class`` images per class (EuroSAT: 1, 2, 4, 8) or a
``labeled_ratio`` (BigEarthNet, multi-label) keep their labels, drawn with a
seed; every other train image is unlabelled. Validation and test are the
dataset's own splits. Datasets are TorchGeo's (with context:
:class:`~torchgeo_als4gan.datasets.EuroSATContext`,
:class:`~torchgeo_als4gan.datasets.BigEarthNetContext`).
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset
from torchgeo.datamodules import NonGeoDataModule
from torchgeo.datamodules.bigearthnet import BigEarthNetDataModule
from torchgeo.datamodules.eurosat import MEAN as EUROSAT_MEAN
from torchgeo.datamodules.eurosat import STD as EUROSAT_STD
from torchgeo.datasets import EuroSAT, NonGeoDataset

from ..datasets import BigEarthNetContext, EuroSATContext
from ..transforms import SegmentationAugmentation
from .loaders import num_batches_per_epoch, semi_supervised_loader

__all__ = (
    'BigEarthNetContextDataModule',
    'EuroSATContextDataModule',
    'SemiSupervisedClassificationDataModule',
    'labeled_indices',
)


def labeled_indices(
    targets: Sequence[int] | None,
    size: int,
    labels_per_class: int | None,
    labeled_ratio: float | None,
    seed: int,
) -> list[int]:
    """The train items that keep their labels.

    Args:
        targets: class of every item (needed for ``labels_per_class``).
        size: number of items.
        labels_per_class: items per class (all of a class when it has fewer).
        labeled_ratio: share of the items, at least one.
        seed: seed of the draw.

    Returns:
        Sorted indices.

    Raises:
        ValueError: Unless exactly one of the two is given and in range, or
            if ``labels_per_class`` is asked of a dataset without classes.
    """
    if (labels_per_class is None) == (labeled_ratio is None):
        msg = 'give exactly one of labels_per_class and labeled_ratio'
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    if labeled_ratio is not None:
        if not 0 < labeled_ratio <= 1:
            msg = f'labeled_ratio must be in (0, 1], got {labeled_ratio!r}'
            raise ValueError(msg)
        count = max(1, round(labeled_ratio * size))
        return sorted(rng.choice(size, size=count, replace=False).tolist())
    assert labels_per_class is not None
    if labels_per_class < 1:
        msg = f'labels_per_class must be at least 1, got {labels_per_class!r}'
        raise ValueError(msg)
    if targets is None:
        msg = (
            'labels_per_class needs a dataset with one class per item (targets);'
            ' use labeled_ratio for multi-label datasets'
        )
        raise ValueError(msg)
    labels = np.asarray(targets)
    chosen: list[int] = []
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        take = min(labels_per_class, len(members))
        chosen += rng.choice(members, size=take, replace=False).tolist()
    return sorted(chosen)


class SemiSupervisedClassificationDataModule(NonGeoDataModule):
    """A labelled subset of a classification dataset's train split, plus the rest.

    Training batches are ``{'labeled', 'unlabeled'}`` (``unlabeled: false``:
    labelled batches only); each sub-batch is normalized and flipped on the
    device (the weak view). The unlabelled items keep their labels in the
    batch for monitoring only (the semi-supervised tasks never train on them).
    """

    def __init__(
        self,
        dataset_class: type[NonGeoDataset],
        batch_size: int = 16,
        num_workers: int = 0,
        labels_per_class: int | None = None,
        labeled_ratio: float | None = None,
        seed: int = 0,
        unlabeled: bool = True,
        unlabeled_batch_size: int | None = None,
        steps_per_epoch: int | None = None,
        mean: Sequence[float] | float = 0.0,
        std: Sequence[float] | float = 1.0,
        **kwargs: Any,
    ) -> None:
        """Initialize a new SemiSupervisedClassificationDataModule.

        Args:
            dataset_class: a dataset taking ``split='train' | 'val' | 'test'``.
            batch_size: labelled (and val/test) batch size.
            num_workers: data loading workers.
            labels_per_class: labelled items per class.
            labeled_ratio: labelled share of the train split (multi-label).
            seed: seed of the labelled draw and of the batch order.
            unlabeled: also yield unlabelled batches.
            unlabeled_batch_size: unlabelled items per batch (default
                ``batch_size``).
            steps_per_epoch: batches per epoch (default: one pass over the
                unlabelled items, else the labelled ones).
            mean: per-band mean.
            std: per-band standard deviation.
            **kwargs: arguments of the dataset (``root``, ``bands``, ...).
        """
        super().__init__(dataset_class, batch_size, num_workers, **kwargs)
        if (labels_per_class is None) == (labeled_ratio is None):
            msg = 'give exactly one of labels_per_class and labeled_ratio'
            raise ValueError(msg)
        self.labels_per_class, self.labeled_ratio = labels_per_class, labeled_ratio
        self.seed, self.unlabeled = seed, unlabeled
        self.unlabeled_batch_size = unlabeled_batch_size or batch_size
        self.steps_per_epoch = steps_per_epoch
        self.norm_mean, self.norm_std = mean, std
        self.train_aug = SegmentationAugmentation(
            mean, std, scale=None, hflip=True, vflip=True, seed=seed
        )
        self.aug = SegmentationAugmentation(mean, std, None, False)
        self.labeled_items: list[int] = []
        self.unlabeled_items: list[int] = []

    def setup(self, stage: str) -> None:
        """Build the splits and draw the labelled items.

        Args:
            stage: ``fit``, ``validate``, ``test`` or ``predict``.
        """
        make: Any = self.dataset_class
        if stage == 'fit':
            train = make(split='train', **self.kwargs)
            self.train_dataset = train
            targets = getattr(train, 'targets', None)
            size = len(train)
            self.labeled_items = labeled_indices(
                targets, size, self.labels_per_class, self.labeled_ratio, self.seed
            )
            chosen = set(self.labeled_items)
            self.unlabeled_items = [i for i in range(size) if i not in chosen]
        if stage in ('fit', 'validate'):
            self.val_dataset = make(split='val', **self.kwargs)
        if stage == 'test':
            self.test_dataset = make(split='test', **self.kwargs)

    def train_dataloader(self) -> Any:
        """Labelled batches, or ``{'labeled', 'unlabeled'}`` batches.

        Returns:
            The loader.
        """
        semi = self.unlabeled and bool(self.unlabeled_items)
        n_unlabeled = len(self.unlabeled_items) if semi else 0
        num_batches = num_batches_per_epoch(
            self.steps_per_epoch, len(self.labeled_items), self.batch_size,
            n_unlabeled, self.unlabeled_batch_size,
        )  # fmt: skip
        train: Dataset[dict[str, Any]] = self._valid_attribute('train_dataset')
        return semi_supervised_loader(
            Subset(train, self.labeled_items),
            Subset(train, self.unlabeled_items) if semi else None,
            self.batch_size, self.unlabeled_batch_size, num_batches, self.seed,
            self.num_workers,
        )  # fmt: skip

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Normalize (and, when training, flip) each (sub-)batch on the device.

        Args:
            batch: a batch or ``{'labeled', 'unlabeled'}``.
            dataloader_idx: loader index.

        Returns:
            The transformed batch.
        """
        training = bool(self.trainer and self.trainer.training)
        aug: Any = self.train_aug if training else self.aug
        if 'labeled' in batch:
            return {key: aug(part) for key, part in batch.items()}
        return aug(batch)


class EuroSATContextDataModule(SemiSupervisedClassificationDataModule):
    """EuroSAT with context, a few labels per class (the paper: 1, 2, 4, 8)."""

    def __init__(
        self,
        root: str = 'data',
        bands: Sequence[str] = EuroSAT.all_band_names,
        date: str = '2000-01-01',
        labels_per_class: int | None = 4,
        labeled_ratio: float | None = None,
        batch_size: int = 16,
        num_workers: int = 0,
        download: bool = False,
        **kwargs: Any,
    ) -> None:
        """Initialize a new EuroSATContextDataModule.

        Args:
            root: root directory of EuroSAT (TorchGeo's layout).
            bands: band names to load.
            date: the acquisition date given to every image.
            labels_per_class: labelled images per class.
            labeled_ratio: or a labelled share.
            batch_size: labelled batch size.
            num_workers: data loading workers.
            download: download EuroSAT if missing.
            **kwargs: :class:`SemiSupervisedClassificationDataModule` arguments
                (``seed``, ``unlabeled_batch_size``, ...); the normalization is
                TorchGeo's EuroSAT band statistics unless ``mean`` / ``std``
                are given.
        """
        kwargs.setdefault('mean', [EUROSAT_MEAN[b] for b in bands])
        kwargs.setdefault('std', [EUROSAT_STD[b] for b in bands])
        super().__init__(
            EuroSATContext, batch_size, num_workers, labels_per_class, labeled_ratio,
            root=root, bands=bands, date=date, download=download, **kwargs,
        )  # fmt: skip


class BigEarthNetContextDataModule(SemiSupervisedClassificationDataModule):
    """BigEarthNet with context, multi-label, a labelled share of the train split."""

    def __init__(
        self,
        root: str = 'data',
        bands: str = 'all',
        num_classes: int = 19,
        labeled_ratio: float | None = 0.01,
        batch_size: int = 16,
        num_workers: int = 0,
        download: bool = False,
        **kwargs: Any,
    ) -> None:
        """Initialize a new BigEarthNetContextDataModule.

        Args:
            root: root directory of BigEarthNet (TorchGeo's layout).
            bands: ``s1``, ``s2`` or ``all``.
            num_classes: 19 or 43.
            labeled_ratio: labelled share of the train split.
            batch_size: labelled batch size.
            num_workers: data loading workers.
            download: download BigEarthNet if missing.
            **kwargs: :class:`SemiSupervisedClassificationDataModule` arguments;
                the normalization is TorchGeo's (band minima and ranges)
                unless ``mean`` / ``std`` are given.
        """
        mins, maxs = BigEarthNetDataModule.mins, BigEarthNetDataModule.maxs
        if bands == 's1':
            mins, maxs = mins[:2], maxs[:2]
        elif bands == 's2':
            mins, maxs = mins[2:], maxs[2:]
        kwargs.setdefault('mean', mins.tolist())
        kwargs.setdefault('std', (maxs - mins).tolist())
        super().__init__(
            BigEarthNetContext, batch_size, num_workers, None, labeled_ratio,
            root=root, bands=bands, num_classes=num_classes, download=download,
            **kwargs,
        )  # fmt: skip

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Normalize as :class:`SemiSupervisedClassificationDataModule`, labels as integers.

        Args:
            batch: a batch or ``{'labeled', 'unlabeled'}``.
            dataloader_idx: loader index.

        Returns:
            The transformed batch.
        """
        out = super().on_after_batch_transfer(batch, dataloader_idx)
        for part in out.values() if 'labeled' in out else [out]:
            part['label'] = part['label'].to(torch.long)
        return out
