"""Semi-supervised datamodule for a folder of tiles with index masks."""

import os
from collections.abc import Sequence
from typing import Any

from ..datasets import SegmentationTileFolder
from .semi import SemiSupervisedNonGeoDataModule

__all__ = ('SegmentationTileFolderDataModule',)


class SegmentationTileFolderDataModule(SemiSupervisedNonGeoDataModule):
    """Your own tiles (``images/`` + ``masks/``): labelled + unlabelled batches.

    See :class:`~torchgeo_als4gan.datasets.SegmentationTileFolder` for the layout
    and :class:`SemiSupervisedNonGeoDataModule` for the other options.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = 'data/tiles',
        classes: Sequence[str] = ('background', 'foreground'),
        colors: Sequence[Sequence[int]] | None = None,
        ignore_value: int | None = None,
        image_dir: str = 'images',
        mask_dir: str = 'masks',
        class_subfolders: bool = False,
        batch_size: int = 8,
        num_workers: int = 0,
        patch_size: int | None = None,
        stride: int | None = None,
        tile_size: int | None = None,
        split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
        bands: Sequence[int | str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Initialize a new SegmentationTileFolderDataModule.

        Args:
            root: dataset folder.
            classes: class names in mask-value order.
            colors: RGB colour per class for plots.
            ignore_value: mask value meaning "no label".
            image_dir: sub-folder with the images.
            mask_dir: sub-folder with the masks.
            class_subfolders: first folder level names the scene class.
            batch_size: labelled (and val/test) batch size.
            num_workers: data loading workers.
            patch_size: grid patch side, or None for whole tiles.
            stride: grid stride (defaults to ``patch_size``).
            tile_size: whole tiles are padded to this size (None: largest side).
            split_fractions: train/val/test fractions of the seeded split.
            split_seed: seed of the split.
            bands: bands to read, as 1-based indexes or band descriptions (None:
                all); saved in checkpoints, so ``predict-raster`` picks the
                same bands.
            **kwargs: selection, loader and augmentation options of
                :class:`SemiSupervisedNonGeoDataModule`.
        """
        super().__init__(
            SegmentationTileFolder,
            batch_size,
            num_workers,
            root=root,
            classes=classes,
            colors=colors,
            ignore_value=ignore_value,
            image_dir=image_dir,
            mask_dir=mask_dir,
            class_subfolders=class_subfolders,
            patch_size=patch_size,
            stride=stride,
            tile_size=tile_size,
            split_fractions=split_fractions,
            split_seed=split_seed,
            bands=bands,
            **kwargs,
        )
