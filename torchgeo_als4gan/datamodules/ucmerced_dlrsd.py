"""Semi-supervised datamodule for UC Merced + DLRSD."""

import os
from collections.abc import Sequence
from typing import Any

from ..datasets import UCMercedDLRSD
from .semi import SemiSupervisedNonGeoDataModule

__all__ = ('UCMercedDLRSDDataModule',)


class UCMercedDLRSDDataModule(SemiSupervisedNonGeoDataModule):
    """UC Merced tiles with DLRSD masks: labelled + unlabelled batches.

    The split is stratified by scene class with ``split_seed`` (or given by ALS4GAN
    id lists in ``split_files``); see :class:`SemiSupervisedNonGeoDataModule` for
    the labelled selection, the loaders and the augmentation arguments.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = 'data/ucmerced',
        batch_size: int = 8,
        num_workers: int = 0,
        split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
        patch_size: int | None = None,
        tile_size: int = 256,
        download: bool = False,
        **kwargs: Any,
    ) -> None:
        """Initialize a new UCMercedDLRSDDataModule.

        Args:
            root: folder holding ``UCMerced_LandUse/`` and ``DLRSD/``.
            batch_size: labelled (and val/test) batch size.
            num_workers: data loading workers.
            split_fractions: train/val/test fractions of the stratified split.
            split_seed: seed of the split.
            patch_size: grid patch side, or None for whole tiles.
            tile_size: whole tiles are padded to this size.
            download: download the UC Merced images if missing.
            **kwargs: selection, loader and augmentation options of
                :class:`SemiSupervisedNonGeoDataModule`.
        """
        super().__init__(
            UCMercedDLRSD,
            batch_size,
            num_workers,
            root=root,
            split_fractions=split_fractions,
            split_seed=split_seed,
            patch_size=patch_size,
            tile_size=tile_size,
            download=download,
            **kwargs,
        )
