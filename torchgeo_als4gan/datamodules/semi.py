"""Base datamodule yielding labelled and unlabelled training batches."""

import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
from torch import Tensor
from torch.utils.data import ConcatDataset, Dataset, Subset
from torchgeo.datamodules import NonGeoDataModule

from ..checks import check_positive, mask_non_finite
from ..context import ImageContext
from ..datasets.patched import PatchedSegmentationDataset
from ..datasets.raster_io import read_window
from .checks import MASKS_CHECKED, check_labeled_masks, check_model_fits
from .labeled_unlabeled import LabeledUnlabeledSettings
from .loaders import num_batches_per_epoch, semi_supervised_loader
from .metadata import INFERENCE_KEY, inference_metadata
from .pool import QueryPool

__all__ = (
    'SemiSupervisedNonGeoDataModule',
    'SubBatchAugmentationMixin',
    'UnlabeledView',
)


class UnlabeledView(Dataset[dict[str, Any]]):
    """A dataset view without targets: ``mask`` and labels are dropped."""

    dropped = ('mask', 'label', 'label_multi')

    def __init__(
        self, dataset: Subset[dict[str, Any]] | ConcatDataset[dict[str, Any]]
    ) -> None:
        """Initialize a new UnlabeledView.

        Args:
            dataset: the unlabelled pool (a subset of the train split, with the
                ``split_files: {unlabeled: ...}`` images after it).
        """
        self.dataset = dataset

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Return a sample without its targets.

        Args:
            index: sample index.

        Returns:
            The sample without ``mask`` and labels.
        """
        sample = self.dataset[index]
        return {k: v for k, v in sample.items() if k not in self.dropped}

    def __len__(self) -> int:
        """Return the number of samples.

        Returns:
            Length.
        """
        return len(self.dataset)


def _finite(batch: Any, ignore_index: int) -> Any:
    """NaN / inf pixels of a batch as nodata: image 0, mask ignored."""
    if isinstance(batch, dict) and isinstance(batch.get('image'), Tensor):
        image, mask, count = mask_non_finite(
            batch['image'], batch.get('mask'), ignore_index
        )
        if count:
            batch = {**batch, 'image': image}
            if mask is not None:
                batch['mask'] = mask
    return batch


class SubBatchAugmentationMixin:
    """Augments each sub-batch of a ``{'labeled', 'unlabeled'}`` training batch.

    TorchGeo's ``on_after_batch_transfer`` expects one flat batch; a
    CombinedLoader gives a dict of batches, so training batches are augmented per
    sub-batch with ``train_aug`` and everything else goes to TorchGeo's hook.
    """

    trainer: Any
    train_aug: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Augment each training sub-batch, or normalize val/test batches.

        Args:
            batch: a batch, or a dict of sub-batches from the CombinedLoader.
            dataloader_idx: index of the loader.

        Returns:
            The augmented batch.
        """
        ignore = int(getattr(self, 'ignore_index', 255))
        if self.trainer and self.trainer.training and 'labeled' in batch:
            aug = self.train_aug
            assert aug is not None
            return {key: aug(_finite(sub, ignore)) for key, sub in batch.items()}
        return super().on_after_batch_transfer(  # type: ignore[misc]
            _finite(batch, ignore), dataloader_idx
        )

    def state_dict(self) -> dict[str, Any]:
        """State saved in checkpoints: augmentation random state, prediction metadata.

        The metadata (normalization, classes, colours) lets prediction on new
        rasters run from the checkpoint alone.

        Returns:
            The state.
        """
        state: dict[str, Any] = {INFERENCE_KEY: inference_metadata(self)}
        generator = getattr(self.train_aug, 'generator', None)
        if isinstance(generator, torch.Generator):
            state['train_aug_generator'] = generator.get_state()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the training augmentation's random state on resume.

        Args:
            state_dict: a state from :meth:`state_dict`.
        """
        generator = getattr(self.train_aug, 'generator', None)
        if 'train_aug_generator' in state_dict and isinstance(
            generator, torch.Generator
        ):
            generator.set_state(state_dict['train_aug_generator'])


class SemiSupervisedNonGeoDataModule(
    LabeledUnlabeledSettings, SubBatchAugmentationMixin, NonGeoDataModule
):
    """Labelled + unlabelled training batches and labelled val/test batches.

    The labelled subset of the train split is either a random ``labeled_ratio`` of
    it (``ceil(ratio * N)`` items, the active learner's rule) drawn with ``seed``,
    or the ids of a ``selection_file`` written by the active learner (ALS4GAN
    ``.npy``, our CSV, or a text list); with neither, the whole train split is
    labelled. The rest of the train split is the unlabelled pool.

    With ``unlabeled=True`` the train loader is a :class:`CombinedLoader` of
    ``{'labeled': batch, 'unlabeled': batch}``, one epoch being one pass over the
    unlabelled pool (or ``steps_per_epoch`` batches). With ``unlabeled=False`` it
    yields plain labelled batches, which is what a supervised
    ``SemanticSegmentationTask`` needs. Labelled batches are always full: a
    labelled set smaller than a batch is drawn with replacement.

    Augmentation (:class:`SegmentationAugmentation`) runs on the device in
    ``on_after_batch_transfer``, on each sub-batch separately.
    """

    def __init__(
        self,
        dataset_class: type[PatchedSegmentationDataset],
        batch_size: int = 8,
        num_workers: int = 0,
        labeled_ratio: float | None = None,
        selection_file: str | os.PathLike[str] | None = None,
        seed: int = 0,
        unlabeled: bool = True,
        unlabeled_batch_size: int | None = None,
        steps_per_epoch: int | None = None,
        split_files: dict[str, str | list[str]] | None = None,
        mean: Sequence[float] | float = 0.0,
        std: Sequence[float] | float = 255.0,
        scale: tuple[float, float] | None = (0.5, 1.5),
        hflip: bool = True,
        vflip: bool = False,
        rot90: bool = False,
        crop_size: int | None = None,
        context: bool = False,
        context_table: str | None = None,
        date_regex: str | None = None,
        date_format: str = '%Y%m%d',
        **kwargs: Any,
    ) -> None:
        """Initialize a new SemiSupervisedNonGeoDataModule.

        Args:
            dataset_class: the dataset class.
            batch_size: labelled batch size (and val/test batch size).
            num_workers: data loading workers.
            labeled_ratio: fraction of the train split to label at random.
            selection_file: ids chosen by the active learner.
            seed: seed of the random selection, samplers and augmentation.
            unlabeled: also yield unlabelled batches (for semi-supervised tasks).
            unlabeled_batch_size: unlabelled batch size (default ``batch_size``).
            steps_per_epoch: batches per epoch (default: one pass over the
                unlabelled pool, or over the labelled set without it).
            split_files: ALS4GAN id list file per split name (``train``/``val``/
                ``test``), or the ids themselves (a fixed split in the config).
                ``unlabeled`` names images whose patches only join the
                unlabelled pool (their masks are never used): e.g. the imagery
                of the area to be mapped. They may not be train images; val or
                test images there make the evaluation transductive (a warning
                says so).
            mean: per-band normalization mean.
            std: per-band normalization standard deviation.
            scale: random scale range for training (None: off).
            hflip: random horizontal mirror for training.
            vflip: random vertical flip for training.
            rot90: random 90-degree rotations for training.
            crop_size: training crop size (None: patch size).
            context: samples also carry ``metadata`` (the context vector of their
                image: :class:`~torchgeo_als4gan.context.ImageContext`) and
                ``metadata_valid``.
            context_table: CSV ``id, lat, lon, date`` of the images (needed
                for images that are not georeferenced GeoTIFFs with a date).
            date_regex: file-name regex with a ``date`` group (georeferenced
                images not in the table).
            date_format: ``strptime`` format of that group.
            **kwargs: passed to ``dataset_class``.

        Raises:
            ValueError: If ``labeled_ratio`` is outside (0, 1] or both
                ``labeled_ratio`` and ``selection_file`` are given.
        """
        self.set_labeled_unlabeled(
            batch_size, labeled_ratio, selection_file, seed, unlabeled,
            unlabeled_batch_size, steps_per_epoch,
        )  # fmt: skip
        for key in ('patch_size', 'stride', 'tile_size'):  # fail before setup
            check_positive(key, kwargs.get(key), optional=True)
        super().__init__(dataset_class, batch_size, num_workers, **kwargs)
        self.split_files = dict(split_files or {})
        #: Bands read from every image (None: all), saved in checkpoints.
        self.bands = kwargs.get('bands')
        ignore_index = dataset_class.ignore_index
        self.ignore_index = ignore_index
        self.set_augmentation(
            mean, std, scale, hflip, vflip, rot90, crop_size, ignore_index, seed
        )
        self.labeled_dataset: Subset[dict[str, Any]] | None = None
        self.unlabeled_dataset: UnlabeledView | None = None
        self.labeled_ids: list[str] = []
        self.context = context
        self.context_table, self.date_regex = context_table, date_regex
        self.date_format = date_format

    def _dataset(self, split: str) -> PatchedSegmentationDataset:
        kwargs = dict(self.kwargs)
        if split in self.split_files:
            kwargs['split_file'] = self.split_files[split]
        dataset_class = cast(type[PatchedSegmentationDataset], self.dataset_class)
        dataset = dataset_class(split=split, **kwargs)
        if self.context:
            dataset.context = ImageContext(
                [r.id for r in dataset.records], [r.image for r in dataset.records],
                self.context_table, self.date_regex, self.date_format,
            )  # fmt: skip
        return dataset

    def setup(self, stage: str) -> None:
        """Build the datasets of a stage and split the labelled/unlabelled pool.

        Args:
            stage: ``fit``, ``validate``, ``test`` or ``predict``.
        """
        if stage == 'fit':
            train = self._dataset('train')
            ids = train.ids
            image_ids = [train.records[p.image].id for p in train.patches]
            labeled = self.labeled_positions(ids, image_ids)
            rest = sorted(set(range(len(train))) - set(labeled))
            self.labeled_ids = [ids[i] for i in labeled]
            self.labeled_dataset = Subset(train, labeled)
            pool: Subset[dict[str, Any]] | ConcatDataset[dict[str, Any]]
            pool = Subset(train, rest)
            extra = self._unlabeled_images(train)
            if extra is not None:
                pool = ConcatDataset([pool, extra])
            self.unlabeled_dataset = UnlabeledView(pool)
            self.train_dataset = self.labeled_dataset
            self._check_masks(train, labeled[:MASKS_CHECKED])
        if stage in ('fit', 'validate'):
            self.val_dataset = self._dataset('val')
        if stage in ('test', 'predict'):
            self.test_dataset = self._dataset('test')
            self.predict_dataset = self.test_dataset
        check_model_fits(self)

    def _unlabeled_images(
        self, train: PatchedSegmentationDataset
    ) -> PatchedSegmentationDataset | None:
        """Patches of the ``split_files['unlabeled']`` images (None without them)."""
        wanted = self.split_files.get('unlabeled')
        if wanted is None:
            return None
        kwargs = dict(self.kwargs)
        kwargs['split_file'] = wanted
        dataset_class = cast(type[PatchedSegmentationDataset], self.dataset_class)
        extra = dataset_class(split='all', **kwargs)
        names = {r.id for r in extra.records}
        clash = sorted(names & {r.id for r in train.records})
        if clash:
            msg = (
                f'split_files unlabeled: images {clash[:5]} are in the train split;'
                ' the unlabelled-only images must be other images'
            )
            raise ValueError(msg)
        for split in ('val', 'test'):
            if split in self.split_files:
                held = names & {r.id for r in self._dataset(split).records}
                if held:
                    warnings.warn(
                        f'split_files unlabeled holds {split} images {sorted(held)[:5]}:'
                        f' their imagery (never their masks) is used in training, so'
                        f' {split} scores are transductive',
                        UserWarning,
                        stacklevel=2,
                    )
        return extra

    def _check_masks(self, train: PatchedSegmentationDataset, items: list[int]) -> None:
        """Refuse labelled masks that hold no pixel of a class (see the check)."""

        def raw_values() -> Any:
            for i in items[:4]:
                record = train.records[train.patches[i].image]
                if record.mask is not None:
                    raw, _ = read_window(
                        record.mask, 0, 0, *train.shapes[train.patches[i].image]
                    )
                    yield from torch.unique(
                        torch.from_numpy(raw.astype('int64'))
                    ).tolist()

        masks = (m for m in (train.read_mask(i) for i in items) if m is not None)
        check_labeled_masks(
            masks, train.classes, train.ignore_index,
            f'{type(train).__name__} at {train.root!r}', raw_values(),
        )  # fmt: skip

    def query_pool(self, split: str = 'train') -> QueryPool:
        """The train split as the active learner's pool (whole split, no selection).

        Args:
            split: ``train`` (the pool), or ``val`` (held-out labelled items,
                e.g. to calibrate the classifier on).

        Returns:
            The pool: items with ``label`` (scene class, or dominant mask class).
        """
        train = self._dataset(split)
        multi = train.classes if len(train) and 'label_multi' in train[0] else None
        return QueryPool(
            train, train.ids, train.label_classes, self.norm_mean, self.norm_std,
            multi_classes=multi,
        )  # fmt: skip

    def train_dataloader(self) -> Any:
        """Labelled batches, or ``{'labeled', 'unlabeled'}`` batches.

        Returns:
            A DataLoader or a CombinedLoader.
        """
        labeled = self._valid_attribute('labeled_dataset')
        unlabeled = self.unlabeled_dataset
        n_unlabeled = len(unlabeled) if unlabeled is not None else 0
        semi = self.unlabeled and n_unlabeled > 0
        num_batches = num_batches_per_epoch(
            self.steps_per_epoch, len(labeled), self.batch_size,
            n_unlabeled if semi else 0, self.unlabeled_batch_size,
        )  # fmt: skip
        return semi_supervised_loader(
            labeled, unlabeled if semi else None, self.batch_size,
            self.unlabeled_batch_size, num_batches, self.seed, self.num_workers,
        )  # fmt: skip
