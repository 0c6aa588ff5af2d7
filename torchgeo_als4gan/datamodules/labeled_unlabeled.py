"""The labelled / unlabelled settings every semi-supervised datamodule shares."""

import os
from collections.abc import Sequence
from typing import Any

from ..checks import check_positive
from ..transforms import SegmentationAugmentation
from .selection import (
    check_labeled_ratio,
    random_selection,
    read_selection,
    resolve_selection,
)

__all__ = ('LabeledUnlabeledSettings',)


class LabeledUnlabeledSettings:
    """Which items are labelled, the unlabelled stream and the augmentations (a mixin).

    Sets ``labeled_ratio``, ``selection_file``, ``seed``, ``unlabeled``,
    ``unlabeled_batch_size``, ``steps_per_epoch`` (:meth:`set_labeled_unlabeled`)
    and ``norm_mean``, ``norm_std``, ``train_aug``, ``aug``
    (:meth:`set_augmentation`), each checked once, for every datamodule.
    """

    labeled_ratio: float | None
    selection_file: str | os.PathLike[str] | None
    seed: int
    unlabeled: bool
    unlabeled_batch_size: int
    steps_per_epoch: int | None
    norm_mean: Sequence[float] | float
    norm_std: Sequence[float] | float
    # TorchGeo's BaseDataModule declares both (as Kornia transforms)
    train_aug: Any
    aug: Any

    def set_labeled_unlabeled(
        self,
        batch_size: int,
        labeled_ratio: float | None,
        selection_file: str | os.PathLike[str] | None,
        seed: int,
        unlabeled: bool,
        unlabeled_batch_size: int | None,
        steps_per_epoch: int | None,
    ) -> None:
        """Check and keep the labelled / unlabelled settings.

        Args:
            batch_size: labelled batch size.
            labeled_ratio: fraction of the train split to label at random.
            selection_file: ids chosen by an active learner.
            seed: seed of the random selection, samplers and augmentation.
            unlabeled: also yield unlabelled batches.
            unlabeled_batch_size: unlabelled batch size (default ``batch_size``).
            steps_per_epoch: batches per epoch (None: one pass).

        Raises:
            ValueError: If a size is not positive, ``labeled_ratio`` is outside
                (0, 1], or both it and ``selection_file`` are given.
        """
        check_positive('batch_size', batch_size)
        check_positive('unlabeled_batch_size', unlabeled_batch_size, optional=True)
        check_positive('steps_per_epoch', steps_per_epoch, optional=True)
        if labeled_ratio is not None:
            check_labeled_ratio(labeled_ratio)
            if selection_file is not None:
                msg = 'Give either labeled_ratio or selection_file, not both'
                raise ValueError(msg)
        self.labeled_ratio = labeled_ratio
        self.selection_file = selection_file
        self.seed = seed
        self.unlabeled = unlabeled
        self.unlabeled_batch_size = unlabeled_batch_size or batch_size
        self.steps_per_epoch = steps_per_epoch

    def labeled_positions(
        self, ids: Sequence[str], image_ids: Sequence[str] | None = None
    ) -> list[int]:
        """Positions of the labelled items among the train ``ids``.

        The ids of ``selection_file``, else a seeded random ``labeled_ratio``,
        else every item.

        Args:
            ids: id of every train item.
            image_ids: image id of every train item (a selected image id selects
                all its patches), or None.

        Returns:
            Sorted positions in ``ids``.

        Raises:
            ValueError: If selected ids are not in the train split (the error
                names the selection file).
        """
        if self.selection_file is not None:
            chosen = read_selection(self.selection_file)
            source = f'selection file {os.fspath(self.selection_file)!r}'
        elif self.labeled_ratio is not None:
            chosen = random_selection(ids, self.labeled_ratio, self.seed)
            source = 'the random selection'
        else:
            chosen, source = list(ids), 'the train split'
        return resolve_selection(chosen, ids, image_ids, source)

    def set_augmentation(
        self,
        mean: Sequence[float] | float,
        std: Sequence[float] | float,
        scale: tuple[float, float] | None,
        hflip: bool,
        vflip: bool,
        rot90: bool,
        crop_size: int | None,
        ignore_index: int,
        seed: int,
    ) -> None:
        """The normalization and the training (on the device) augmentation.

        Args:
            mean: per-band normalization mean.
            std: per-band normalization standard deviation.
            scale: random scale range for training (None: off).
            hflip: random horizontal mirror for training.
            vflip: random vertical flip for training.
            rot90: random 90-degree rotations for training.
            crop_size: training crop size (None: patch size).
            ignore_index: mask value of unlabelled pixels.
            seed: seed of the augmentation.
        """
        self.norm_mean, self.norm_std = mean, std
        self.train_aug = SegmentationAugmentation(
            mean, std, scale, hflip, vflip, rot90, crop_size, ignore_index, seed
        )
        self.aug = SegmentationAugmentation(
            mean, std, None, False, ignore_index=ignore_index
        )
