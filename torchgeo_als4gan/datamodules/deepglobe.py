"""Semi-supervised datamodule for DeepGlobe Land Cover patches."""

import os
from collections.abc import Sequence
from typing import Any

from ..datasets import DeepGlobePatches
from .semi import SemiSupervisedNonGeoDataModule

__all__ = ('DeepGlobePatchesDataModule',)


class DeepGlobePatchesDataModule(SemiSupervisedNonGeoDataModule):
    """DeepGlobe Land Cover at native resolution, in patches.

    Images are split into train/val/test by image with ``split_seed``; every image
    of a split is cut into ``patch_size`` patches, which are the pool items of the
    labelled selection (a selection file may also name whole images). See
    :class:`SemiSupervisedNonGeoDataModule` for the other options.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = 'data/deepglobe',
        batch_size: int = 8,
        num_workers: int = 0,
        patch_size: int = 512,
        stride: int | None = None,
        split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
        presence_threshold: float = 0.05,
        class_map: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Initialize a new DeepGlobePatchesDataModule.

        Args:
            root: folder holding ``train/``.
            batch_size: labelled (and val/test) batch size.
            num_workers: data loading workers.
            patch_size: patch side in pixels.
            stride: grid stride (defaults to ``patch_size``).
            split_fractions: train/val/test fractions of the image split.
            split_seed: seed of the split.
            presence_threshold: pixel fraction for a class to be present in
                ``label_multi``.
            class_map: ALS4GAN ``class_map.json`` (image id -> class name).
            **kwargs: selection, loader and augmentation options of
                :class:`SemiSupervisedNonGeoDataModule`.
        """
        super().__init__(
            DeepGlobePatches,
            batch_size,
            num_workers,
            root=root,
            patch_size=patch_size,
            stride=stride,
            split_fractions=split_fractions,
            split_seed=split_seed,
            presence_threshold=presence_threshold,
            class_map=class_map,
            **kwargs,
        )
