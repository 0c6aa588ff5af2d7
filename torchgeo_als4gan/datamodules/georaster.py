"""Semi-supervised datamodule for your own georeferenced rasters."""

import os
from collections.abc import Sequence
from typing import Any, cast

import geopandas as gpd
import pandas as pd
import torch
from lightning.pytorch.utilities import CombinedLoader
from torch import Tensor
from torch.utils.data import DataLoader
from torchgeo.datamodules import GeoDataModule
from torchgeo.datasets import GeoDataset, stack_samples

from ..checks import check_class_names, check_positive, check_window_size
from ..datasets import GeoImagery, GeoRasterMask, GeoSegmentationScene
from ..datasets.raster_io import raster_header
from ..samplers import FootprintGeoSampler, RasterTileGeoSampler, grid_footprints
from .checks import (
    MASKS_CHECKED,
    check_labeled_masks,
    check_mask_values,
    check_model_fits,
    raw_mask_values,
)
from .footprint_grid import (
    assign_block_splits,
    footprint_context,
    footprints_to_tensors,
    open_labels,
    overlay_added_labels,
    scene_of,
    split_sampler,
)
from .footprint_pools import FootprintPoolsMixin
from .labeled_unlabeled import LabeledUnlabeledSettings
from .loaders import num_batches_per_epoch
from .semi import SubBatchAugmentationMixin

__all__ = ('GeoSegmentationDataModule',)


class GeoSegmentationDataModule(
    FootprintPoolsMixin,
    LabeledUnlabeledSettings,
    SubBatchAugmentationMixin,
    GeoDataModule,
):
    """Georeferenced imagery with raster or vector labels, in patches.

    The imagery is cut into a grid of ``patch_size`` footprints (ids
    ``<file stem>_r<row>_c<col>``). Footprints that touch the labels are assigned to
    train/val/test in spatial blocks of ``split_block`` x ``split_block`` patches
    (seeded), which keeps neighbouring patches in the same split. The labelled
    subset of the train footprints is a random ``labeled_ratio`` or the ids of a
    ``selection_file`` (e.g. the active learner's GeoPackage); all other train
    footprints and every footprint outside the labels form the unlabelled pool.
    Without ``label_paths`` the whole imagery is unlabelled.

    Batches carry ``footprint`` (xmin, ymin, xmax, ymax in the dataset CRS) as a
    tensor, since TorchGeo drops ``bounds`` when moving batches to the device.

    The ``predict`` stage needs no labels: it yields every tile of
    ``predict_paths`` (default ``image_paths``), overlapping by
    ``predict_overlap``, in the order
    :class:`~torchgeo_als4gan.inference.RasterPredictionWriter` blends and
    writes them as GeoTIFFs.
    """

    def __init__(
        self,
        image_paths: str | Sequence[str] = 'data/imagery',
        label_paths: str | Sequence[str] | None = None,
        classes: Sequence[str] = ('background', 'foreground'),
        label_name: str = 'class',
        label_map: dict[str, int] | None = None,
        background: int = 0,
        image_glob: str = '*.tif',
        label_glob: str = '*',
        patch_size: int = 256,
        stride: int | None = None,
        batch_size: int = 8,
        num_workers: int = 0,
        labeled_ratio: float | None = None,
        selection_file: str | os.PathLike[str] | None = None,
        seed: int = 0,
        unlabeled: bool = True,
        unlabeled_batch_size: int | None = None,
        steps_per_epoch: int | None = None,
        split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
        split_block: int = 4,
        split_seed: int = 0,
        mean: Sequence[float] | float = 0.0,
        std: Sequence[float] | float = 255.0,
        scale: tuple[float, float] | None = (0.5, 1.5),
        hflip: bool = True,
        vflip: bool = False,
        rot90: bool = False,
        crop_size: int | None = None,
        ignore_index: int = 255,
        predict_paths: str | Sequence[str] | None = None,
        predict_overlap: int = 64,
        bands: Sequence[int | str] | None = None,
        added_label_paths: str | Sequence[str] | None = None,
        context: bool = False,
        date_regex: str | None = None,
        date_format: str = '%Y%m%d',
        date_table: str | None = None,
    ) -> None:
        """Initialize a new GeoSegmentationDataModule.

        Args:
            image_paths: imagery files or folders.
            label_paths: raster masks or vector files (by extension), or None.
            classes: class names, index order.
            label_name: attribute of the vector features holding their class.
            label_map: attribute value -> class index for vector labels.
            background: class of pixels covered by no vector feature.
            image_glob: glob of imagery files in folders.
            label_glob: glob of label files in folders.
            patch_size: patch side in pixels.
            stride: grid stride in pixels (defaults to ``patch_size``).
            batch_size: labelled (and val/test) batch size.
            num_workers: data loading workers.
            labeled_ratio: fraction of the train footprints to label at random.
            selection_file: footprint ids chosen by the active learner.
            seed: seed of the selection, samplers and augmentation.
            unlabeled: also yield unlabelled batches.
            unlabeled_batch_size: unlabelled batch size (default ``batch_size``).
            steps_per_epoch: batches per epoch (default: one pass over the pool).
            split_fractions: train/val/test fractions of the labelled blocks.
            split_block: side of the split blocks, in patches.
            split_seed: seed of the block assignment.
            mean: per-band normalization mean.
            std: per-band normalization standard deviation.
            scale: random scale range for training (None: off).
            hflip: random horizontal mirror for training.
            vflip: random vertical flip for training.
            rot90: random 90-degree rotations for training.
            crop_size: training crop size (None: patch size).
            ignore_index: mask value of unlabelled pixels.
            predict_paths: rasters the ``predict`` stage tiles (default
                ``image_paths``); see :class:`RasterPredictionWriter`.
            predict_overlap: pixels shared by neighbouring predict tiles.
            bands: bands to read, as 1-based indexes or band descriptions (None:
                all; e.g. ``[1, 2, 3]`` for RGB of R, G, B, NIR imagery); saved in
                checkpoints, so ``predict-raster`` picks the same bands.
            added_label_paths: mask GeoTIFFs of patches labelled after the split
                was drawn (``als4gan labels`` output, e.g. the rounds of
                ``als4gan loop`` in labelling mode). They label pool patches
                only: the split comes from ``label_paths`` alone, so val and test
                never change; the patches they cover join the train split.
            context: batches also carry ``metadata``, the context vector of
                each patch (:func:`~torchgeo_als4gan.context.context_vector`:
                its centre in lon/lat and its raster's acquisition date), and
                ``metadata_valid``.
            date_regex: file-name regex with a ``date`` group (``context``).
            date_format: ``strptime`` format of that group.
            date_table: CSV ``file, date`` of acquisition dates (first choice).

        Raises:
            ValueError: If a size or count is not positive, ``labeled_ratio`` is
                outside (0, 1], both it and ``selection_file`` are given,
                ``background`` is not a class or there are fewer than two
                classes.
        """
        for name, count in (('patch_size', patch_size), ('split_block', split_block)):
            check_positive(name, count)
        check_positive('stride', stride, optional=True)
        self.set_labeled_unlabeled(
            batch_size, labeled_ratio, selection_file, seed, unlabeled,
            unlabeled_batch_size, steps_per_epoch,
        )  # fmt: skip
        if isinstance(classes, str) or len(classes) < 2:
            msg = f'classes must name at least two classes, got {classes!r}'
            raise ValueError(msg)
        check_class_names(classes)
        if not 0 <= background < len(classes):
            msg = (
                f'background must be a class index in 0..{len(classes) - 1}'
                f' ({list(classes)}), got {background!r}'
            )
            raise ValueError(msg)
        super().__init__(GeoImagery, batch_size, patch_size, None, num_workers)
        self.image_paths = image_paths
        self.label_paths = label_paths
        self.added_label_paths = added_label_paths
        self.context = context
        self.date_regex, self.date_format, self.date_table = (
            date_regex, date_format, date_table,
        )  # fmt: skip
        #: Context vector of every footprint, by its (xmin, ymax) corner.
        self.context_by_corner: dict[tuple[float, float], Tensor] = {}
        self.classes = tuple(classes)
        self.label_name = label_name
        self.label_map = label_map
        self.background = background
        self.image_glob = image_glob
        self.label_glob = label_glob
        self.stride = stride if stride is not None else patch_size
        #: Bands read from every image (None: all), saved in checkpoints.
        self.bands = list(bands) if bands is not None else None
        self.split_fractions = split_fractions
        self.split_block = split_block
        self.split_seed = split_seed
        self.ignore_index = ignore_index
        self.predict_paths = predict_paths
        self.predict_overlap = predict_overlap
        self.set_augmentation(
            mean, std, scale, hflip, vflip, rot90, crop_size, ignore_index, seed
        )
        self.imagery: GeoImagery | None = None
        self.scene: GeoSegmentationScene | None = None
        self.footprints: gpd.GeoDataFrame | None = None
        self.labeled_ids: list[str] = []

    def _build(self) -> gpd.GeoDataFrame:
        """Read the imagery and labels once and assign every footprint a split."""
        if self.footprints is not None:
            return self.footprints
        self.imagery = GeoImagery(self.image_paths, self.image_glob, bands=self.bands)
        headers = [raster_header(p) for p in self.imagery.index.filepath]
        check_window_size(
            'patch_size', cast(int, self.patch_size),
            max(h.height for h in headers), max(h.width for h in headers),
            f'image_paths {self.image_paths!r}', self.imagery.band_count,
            self.batch_size, allow_padding=0,
        )  # fmt: skip
        footprints = grid_footprints(self.imagery, self.patch_size, self.stride)  # type: ignore[arg-type]
        footprints['split'] = 'unlabeled'
        if self.label_paths is not None:
            labels = open_labels(
                self.label_paths, self.classes, self.label_name, self.label_map,
                self.background, self.label_glob, self.ignore_index,
            )  # fmt: skip
            self._label_files = (
                list(labels.index.filepath) if isinstance(labels, GeoRasterMask) else []
            )
            self.scene = scene_of(
                self.imagery, labels, self.classes, self.ignore_index,
                f'label_paths {self.label_paths!r}',
                f'image_paths {self.image_paths!r}',
            )  # fmt: skip
            assign_block_splits(
                footprints, self.scene.index.geometry.union_all(),
                self.split_block * self.stride, self.split_fractions, self.split_seed,
            )  # fmt: skip
            if self.added_label_paths is not None:
                self.scene = overlay_added_labels(
                    footprints, self.imagery, labels, self.added_label_paths,
                    self.classes, self.ignore_index,
                )  # fmt: skip
        elif self.added_label_paths is not None:
            msg = (
                f'added_label_paths {self.added_label_paths!r} needs label_paths:'
                ' the val and test patches come from the labels the split is drawn on'
            )
            raise ValueError(msg)
        if self.context:
            self.context_by_corner = footprint_context(
                footprints, self.date_regex, self.date_format, self.date_table
            )
        self.footprints = footprints
        return footprints

    def setup(self, stage: str) -> None:
        """Read the data and build the samplers of a stage.

        Args:
            stage: ``fit``, ``validate``, ``test`` or ``predict``. ``predict``
                yields every tile of ``predict_paths`` (no labels needed), in
                the order :class:`RasterPredictionWriter` blends them.
        """
        if stage == 'predict':
            size, overlap = cast(int, self.patch_size), self.predict_overlap
            if not isinstance(overlap, int) or not 0 <= overlap < size:
                msg = f'predict_overlap must be in [0, patch_size={size}), got {overlap!r}'
                raise ValueError(msg)
            imagery = GeoImagery(
                self.predict_paths or self.image_paths, self.image_glob,
                bands=self.bands,
            )  # fmt: skip
            self.predict_dataset = imagery
            trainer = self.trainer
            self.predict_sampler = RasterTileGeoSampler(
                imagery, size, overlap,
                trainer.global_rank if trainer is not None else 0,
                trainer.world_size if trainer is not None else 1,
            )  # fmt: skip
            return
        footprints = self._build()
        if self.scene is None:
            self.labeled_footprints = footprints.iloc[:0]
            self.unlabeled_footprints = footprints
            return
        self.train_dataset = self.val_dataset = self.test_dataset = self.scene
        train = footprints[footprints['split'] == 'train']
        self.labeled_footprints = train.iloc[self.labeled_positions(list(train['id']))]
        self.labeled_ids = list(self.labeled_footprints['id'])
        if stage == 'fit':
            self._check_masks()
        others = footprints[~footprints['id'].isin(self.labeled_ids)]
        self.unlabeled_footprints = others[others['split'].isin(['train', 'unlabeled'])]
        for split, fraction in zip(
            ('val', 'test'), self.split_fractions[1:], strict=True
        ):
            sampler = split_sampler(
                self.scene, footprints, split, cast(int, self.patch_size),
                fraction > 0, self.split_block,
            )  # fmt: skip
            setattr(self, f'{split}_sampler', sampler)
        check_model_fits(self)

    def _check_masks(self) -> None:
        """Refuse labelled patches whose masks hold no pixel of a class."""
        assert self.scene is not None
        first = self.labeled_footprints.iloc[:MASKS_CHECKED]
        queries = FootprintGeoSampler(self.scene, first, cast(int, self.patch_size))
        masks = (self.scene[q]['mask'] for q in queries)
        source = f'label_paths {self.label_paths!r}'
        check_labeled_masks(masks, self.classes, self.ignore_index, source)
        raw = [raw_mask_values(p) for p in getattr(self, '_label_files', [])[:8]]
        check_mask_values(raw, self.classes, self.ignore_index, source)

    def _loader(
        self, dataset: GeoDataset, footprints: pd.DataFrame, batch_size: int, num_batches: int,
        seed: int,
    ) -> DataLoader[dict[str, Any]]:  # fmt: skip
        sampler = FootprintGeoSampler(
            dataset, gpd.GeoDataFrame(footprints), self.patch_size,  # type: ignore[arg-type]
            shuffle=True, length=batch_size * num_batches,
            generator=torch.Generator().manual_seed(seed),
        )  # fmt: skip
        return DataLoader(
            dataset, batch_size=batch_size, sampler=sampler, num_workers=self.num_workers,
            collate_fn=stack_samples, drop_last=True,
            pin_memory=torch.cuda.is_available(),  # non-blocking copies to the GPU
        )  # fmt: skip

    def train_dataloader(self) -> Any:
        """Labelled batches, or ``{'labeled', 'unlabeled'}`` batches.

        Returns:
            A DataLoader or a CombinedLoader.

        Raises:
            ValueError: If there are no labels or no labelled footprint.
        """
        if self.scene is None or len(self.labeled_footprints) == 0:
            msg = 'No labelled patch: give label_paths that overlap the imagery'
            raise ValueError(msg)
        semi = self.unlabeled and len(self.unlabeled_footprints) > 0
        n_unlabeled = len(self.unlabeled_footprints) if semi else 0
        num_batches = num_batches_per_epoch(
            self.steps_per_epoch, len(self.labeled_footprints), self.batch_size,
            n_unlabeled, self.unlabeled_batch_size,
        )  # fmt: skip
        labeled = self._loader(
            self.scene, self.labeled_footprints, self.batch_size, num_batches, self.seed
        )
        if not semi:
            return labeled
        assert self.imagery is not None
        unlabeled = self._loader(
            self.imagery, self.unlabeled_footprints, self.unlabeled_batch_size,
            num_batches, self.seed + 1,
        )  # fmt: skip
        return CombinedLoader(
            {'labeled': labeled, 'unlabeled': unlabeled}, 'max_size_cycle'
        )

    def transfer_batch_to_device(
        self, batch: dict[str, Any], device: torch.device, dataloader_idx: int
    ) -> dict[str, Any]:
        """Move a batch (or each sub-batch) to the device, keeping footprints.

        Args:
            batch: a batch or a dict of sub-batches.
            device: target device.
            dataloader_idx: index of the loader.

        Returns:
            The batch on the device, with ``footprint`` instead of ``bounds``.
        """
        subs = batch.values() if 'labeled' in batch else [batch]
        for sub in subs:
            footprints_to_tensors(sub, self.context_by_corner if self.context else None)
        moved: dict[str, Any] = super(GeoDataModule, self).transfer_batch_to_device(
            batch, device, dataloader_idx
        )
        return moved
