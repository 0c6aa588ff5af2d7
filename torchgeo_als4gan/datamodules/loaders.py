"""Training loaders that always give full batches for a fixed number of steps."""

from collections.abc import Iterator
from typing import Any

import torch
from lightning.pytorch.utilities import CombinedLoader
from torch.utils.data import DataLoader, Dataset, Sampler

__all__ = (
    'EpochRandomSampler',
    'infinite_batches_loader',
    'num_batches_per_epoch',
    'semi_supervised_loader',
)


class EpochRandomSampler(Sampler[int]):
    """Random draws that depend only on a seed and the epoch.

    ``num_samples`` indices are drawn without replacement while ``length`` allows
    it, with replacement otherwise. Lightning calls :meth:`set_epoch` before each
    epoch, so a run resumed from a checkpoint sees the same batches as an
    uninterrupted run. Not a ``RandomSampler`` on purpose: Lightning replaces those
    by a ``DistributedSampler`` of the whole dataset under DDP (losing the draws
    with replacement that keep small labelled sets in full batches); other
    samplers are split between processes instead.
    """

    def __init__(self, length: int, num_samples: int, seed: int) -> None:
        """Initialize a new EpochRandomSampler.

        Args:
            length: items to draw from.
            num_samples: draws per epoch.
            seed: base seed.
        """
        self.length = length
        self.num_samples = num_samples
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)

    def set_epoch(self, epoch: int) -> None:
        """Reseed for an epoch.

        Args:
            epoch: the epoch about to start.
        """
        self.generator.manual_seed(self.seed + 1_000_003 * epoch)

    def __iter__(self) -> Iterator[int]:
        """Yield the indices of one epoch.

        Yields:
            Item indices.
        """
        if self.num_samples > self.length:
            draws = torch.randint(
                self.length, (self.num_samples,), generator=self.generator
            )
        else:
            draws = torch.randperm(self.length, generator=self.generator)[
                : self.num_samples
            ]
        yield from draws.tolist()

    def __len__(self) -> int:
        """Return the draws per epoch.

        Returns:
            ``num_samples``.
        """
        return self.num_samples


def num_batches_per_epoch(
    steps_per_epoch: int | None,
    n_labeled: int,
    batch_size: int,
    n_unlabeled: int,
    unlabeled_batch_size: int,
) -> int:
    """Batches per epoch: given, or one pass over the unlabelled (else labelled) items.

    Args:
        steps_per_epoch: explicit count, or None.
        n_labeled: labelled items.
        batch_size: labelled batch size.
        n_unlabeled: unlabelled items (0 when not used).
        unlabeled_batch_size: unlabelled batch size.

    Returns:
        The number of batches, at least 1.
    """
    if steps_per_epoch is not None:
        return steps_per_epoch
    if n_unlabeled > 0:
        return max(n_unlabeled // unlabeled_batch_size, 1)
    return max(n_labeled // batch_size, 1)


def infinite_batches_loader(
    dataset: Dataset[dict[str, Any]],
    length: int,
    batch_size: int,
    num_batches: int,
    seed: int,
    num_workers: int,
) -> DataLoader[dict[str, Any]]:
    """A loader giving exactly ``num_batches`` full batches from ``dataset``.

    Items are drawn without replacement while the dataset is large enough and with
    replacement otherwise, so a labelled set smaller than one batch still trains.

    Args:
        dataset: the dataset.
        length: its length.
        batch_size: items per batch.
        num_batches: batches per epoch.
        seed: seed of the draws (reseeded per epoch).
        num_workers: data loading workers.

    Returns:
        The loader.
    """
    needed = batch_size * num_batches
    sampler = EpochRandomSampler(length, needed, seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=True,
        persistent_workers=num_workers > 0,
        pin_memory=torch.cuda.is_available(),  # non-blocking copies to the GPU
    )


def semi_supervised_loader(
    labeled: Dataset[dict[str, Any]],
    unlabeled: Dataset[dict[str, Any]] | None,
    batch_size: int,
    unlabeled_batch_size: int,
    num_batches: int,
    seed: int,
    num_workers: int,
) -> DataLoader[dict[str, Any]] | CombinedLoader:
    """Labelled batches, or ``{'labeled', 'unlabeled'}`` batches of the same count.

    Args:
        labeled: the labelled items.
        unlabeled: the unlabelled items (None or empty: labelled batches only).
        batch_size: labelled batch size.
        unlabeled_batch_size: unlabelled batch size.
        num_batches: batches per epoch of each stream.
        seed: seed of the labelled draws (``seed + 1``: the unlabelled ones).
        num_workers: data loading workers.

    Returns:
        A DataLoader, or a CombinedLoader of both.
    """
    first = infinite_batches_loader(
        labeled, len(labeled), batch_size, num_batches, seed, num_workers,  # type: ignore[arg-type]
    )  # fmt: skip
    size = len(unlabeled) if unlabeled is not None else 0  # type: ignore[arg-type]
    if unlabeled is None or size == 0:
        return first
    second = infinite_batches_loader(
        unlabeled, size, unlabeled_batch_size, num_batches, seed + 1, num_workers
    )
    return CombinedLoader(
        {'labeled': first, 'unlabeled': second}, mode='max_size_cycle'
    )
