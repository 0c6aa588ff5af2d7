"""Labels from another domain: a labelled source joined to the target's training batches.

STAL's setting (GTAV -> Cityscapes) and the everyday remote-sensing one:
labels exist for region A (another sensor, another year), the map is wanted
for region B. :class:`SourceTargetDataModule` wraps a *target* datamodule
(its labelled subset, its unlabelled pool, its val / test / predict splits)
and a labelled *source* datamodule; every training batch's labelled part is
the target's labelled items plus ``source_ratio`` times as many source items,
each normalized and augmented by its own datamodule, source classes mapped
onto the target's. Everything else (validation, test, prediction, checkpoint
metadata, the active learner's pool) is the target's, so evaluation and
checkpoint choice never see source data.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from lightning import LightningDataModule
from lightning.pytorch.utilities import CombinedLoader
from torch import Tensor
from torchgeo.datamodules import BaseDataModule

from .metadata import datamodule_classes

__all__ = ('SourceTargetDataModule', 'class_lookup')

#: Keys of labelled items joined across the domains besides image and mask
#: (the context vectors of the metadata teacher), when both sides carry them.
CONTEXT_KEYS = ('metadata', 'metadata_valid')


def class_lookup(
    source: Sequence[str],
    target: Sequence[str],
    class_map: Mapping[str, str | None] | None,
    ignore_index: int,
) -> Tensor:
    """Target class index of every source class (``ignore_index``: unmapped).

    Args:
        source: source class names, by index.
        target: target class names, by index.
        class_map: source name -> target name (None: ignore); source classes
            not in it map to the target class of the same name, if any.
        ignore_index: the target's ignore value.

    Returns:
        ``[len(source)]`` integer lookup table.

    Raises:
        ValueError: If ``class_map`` names a class that does not exist.
    """
    mapping = dict(class_map or {})
    unknown_source = sorted(set(mapping) - set(source))
    unknown_target = sorted(
        {v for v in mapping.values() if v is not None} - set(target)
    )
    if unknown_source or unknown_target:
        msg = (
            f'class_map names classes that do not exist: source {unknown_source}'
            f' (source classes: {list(source)}), target {unknown_target} (target'
            f' classes: {list(target)})'
        )
        raise ValueError(msg)
    table = torch.full((len(source),), ignore_index, dtype=torch.long)
    for index, name in enumerate(source):
        mapped = mapping.get(name, name if name in target else None)
        if mapped is not None:
            table[index] = list(target).index(mapped)
    return table


def _labeled_items(datamodule: Any) -> int | None:
    """Labelled training items of one of our datamodules (None: unknown)."""
    for name in ('labeled_footprints', 'labeled_dataset', 'labeled_items'):
        items = getattr(datamodule, name, None)
        if items is not None:
            return len(items)
    return None


class SourceTargetDataModule(BaseDataModule):
    """Training batches from a labelled source domain and a target domain.

    Works with our segmentation datamodules (raster, tile folder, UC Merced,
    DeepGlobe) on both sides, for the supervised task, S4GAN and
    self-training: labelled batches become target + source items, the
    unlabelled batches stay the target's. The source's own ``unlabeled``
    setting is ignored (only its labelled items are read).
    """

    def __init__(
        self,
        target: BaseDataModule,
        source: BaseDataModule,
        source_ratio: float = 1.0,
        class_map: dict[str, str | None] | None = None,
        band_map: list[int] | None = None,
        target_labels: bool = True,
    ) -> None:
        """Initialize a new SourceTargetDataModule.

        Args:
            target: the target datamodule (labelled subset, unlabelled pool,
                val and test).
            source: a datamodule with labels (its train split is used).
            source_ratio: source items per target item in a labelled batch
                (0: target only).
            class_map: source class -> target class (null: ignored); classes
                not named map by name, others are ignored.
            band_map: source band (0-based) for each target band, when the
                band orders or counts differ.
            target_labels: train on the target's labelled items too (False:
                the "source only" baseline; the target's unlabelled stream,
                if any, stays).

        Raises:
            ValueError: If ``source_ratio`` is negative, or 0 without target
                labels.
        """
        # a TorchGeo datamodule to the CLIs, whose datasets are the target's and
        # the source's: BaseDataModule's own dataset arguments do not apply
        LightningDataModule.__init__(self)
        if source_ratio < 0:
            msg = f'source_ratio must not be negative, got {source_ratio!r}'
            raise ValueError(msg)
        self.target, self.source = target, source
        if not target_labels and source_ratio == 0:
            msg = 'target_labels: false needs source_ratio > 0 (nothing would be labelled)'
            raise ValueError(msg)
        self.source_ratio, self.class_map, self.band_map = (
            source_ratio, class_map, band_map,
        )  # fmt: skip
        self.target_labels = target_labels
        self.lookup: Tensor | None = None

    def __getattr__(self, name: str) -> Any:
        """Everything not defined here is the target's (classes, normalization, ...).

        Args:
            name: attribute name.

        Returns:
            The target's attribute.

        Raises:
            AttributeError: If neither has it.
        """
        if name.startswith('__') or name in ('target', 'source'):
            raise AttributeError(name)
        return getattr(self.target, name)

    @property
    def mean(self) -> Any:  # type: ignore[override]
        """The target's normalization mean."""
        return getattr(self.target, 'norm_mean', self.target.mean)

    @property
    def std(self) -> Any:  # type: ignore[override]
        """The target's normalization standard deviation."""
        return getattr(self.target, 'norm_std', self.target.std)

    def plot(self, *args: Any, **kwargs: Any) -> Any:
        """The target's ``plot``.

        Args:
            *args: its arguments.
            **kwargs: its keyword arguments.

        Returns:
            Its figure.
        """
        return self.target.plot(*args, **kwargs)

    def setup(self, stage: str) -> None:
        """Set up the target (and, for ``fit``, the source and the class lookup).

        Args:
            stage: the stage.

        Raises:
            ValueError: If a datamodule has no class names or the class map
                names unknown classes.
        """
        self.target.setup(stage)
        if stage != 'fit':
            return
        self.source.setup('fit')
        labelled = _labeled_items(self.source)
        if labelled == 0:
            msg = (
                f'the source datamodule {type(self.source).__name__} has no labelled'
                ' training items: give it labels (label_paths / masks) and a'
                ' labelled train split'
            )
            raise ValueError(msg)
        names = {}
        for role, dm in (('source', self.source), ('target', self.target)):
            classes = datamodule_classes(dm)
            if not classes:
                msg = f'the {role} datamodule {type(dm).__name__} has no class names'
                raise ValueError(msg)
            names[role] = classes
        ignore = int(getattr(self.target, 'ignore_index', 255))
        self.lookup = class_lookup(
            names['source'], names['target'], self.class_map, ignore
        )
        self.source_ignore = int(getattr(self.source, 'ignore_index', 255))

    def _children_follow_trainer(self) -> None:
        for dm in (self.target, self.source):
            dm.trainer = self.trainer

    def train_dataloader(self) -> Any:
        """The target's training loaders plus a ``source`` loader of labelled items.

        Returns:
            A CombinedLoader of ``labeled`` (, ``unlabeled``) and ``source``.

        Raises:
            ValueError: If the source yields no labelled batches.
        """
        self._children_follow_trainer()
        target = self.target.train_dataloader()
        streams = (
            dict(target.iterables) if isinstance(target, CombinedLoader)
            else {'labeled': target}
        )  # fmt: skip
        if self.source_ratio > 0:
            batches = len(streams['labeled'])
            size = max(1, round(self.source_ratio * self.target.batch_size))
            source: Any = self.source
            source.batch_size = size
            source.steps_per_epoch = batches
            source.unlabeled = False
            streams['source'] = source.train_dataloader()
        if not self.target_labels:
            del streams['labeled']
        return CombinedLoader(streams, mode='max_size_cycle')

    def val_dataloader(self) -> Any:
        """The target's validation loader.

        Returns:
            The loader.
        """
        self._children_follow_trainer()
        return self.target.val_dataloader()

    def test_dataloader(self) -> Any:
        """The target's test loader.

        Returns:
            The loader.
        """
        self._children_follow_trainer()
        return self.target.test_dataloader()

    def predict_dataloader(self) -> Any:
        """The target's predict loader.

        Returns:
            The loader.
        """
        self._children_follow_trainer()
        return self.target.predict_dataloader()

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        """Move each domain's part with its own datamodule.

        Args:
            batch: the batch.
            device: the device.
            dataloader_idx: loader index.

        Returns:
            The moved batch.
        """
        if not (isinstance(batch, dict) and 'source' in batch):
            return self.target.transfer_batch_to_device(batch, device, dataloader_idx)
        source = batch.pop('source')
        moved = self.target.transfer_batch_to_device(batch, device, dataloader_idx)
        moved['source'] = self.source.transfer_batch_to_device(
            {'labeled': source}, device, dataloader_idx
        )['labeled']
        return moved

    @staticmethod
    def _augment(
        dm: BaseDataModule, part: Any, dataloader_idx: int
    ) -> dict[str, Tensor]:
        """One sub-batch through a datamodule's own training augmentation."""
        augmented: Any = dm.on_after_batch_transfer({'labeled': part}, dataloader_idx)
        out: dict[str, Tensor] = augmented['labeled']
        return out

    def _source_view(self, source: dict[str, Any], like: Tensor) -> dict[str, Tensor]:
        image = source['image']
        if self.band_map is not None:
            image = image[:, self.band_map]
        if image.shape[1] != like.shape[1]:
            msg = (
                f'source images have {image.shape[1]} bands, target images'
                f' {like.shape[1]}: give band_map (the source band of each target'
                ' band)'
            )
            raise ValueError(msg)
        assert self.lookup is not None
        mask = source['mask'].long()
        if mask.ndim == 4:
            mask = mask.squeeze(1)
        lookup = self.lookup.to(mask.device)
        ignore = lookup.new_full((), int(getattr(self.target, 'ignore_index', 255)))
        inside = (mask >= 0) & (mask < len(lookup)) & (mask != self.source_ignore)
        mapped = torch.where(inside, lookup[mask.clamp(0, len(lookup) - 1)], ignore)
        return {'image': image, 'mask': mapped}

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Augment each domain with its own datamodule, then join the labelled items.

        Args:
            batch: the batch.
            dataloader_idx: loader index.

        Returns:
            Training: ``{'labeled', 'unlabeled'}`` (or a plain labelled batch
            when the target has no unlabelled stream); else the target's.
        """
        self._children_follow_trainer()
        if not (isinstance(batch, dict) and ('labeled' in batch or 'source' in batch)):
            return self.target.on_after_batch_transfer(batch, dataloader_idx)
        raw_source = batch.pop('source', None)
        parts = {
            k: self._augment(self.target, v, dataloader_idx) for k, v in batch.items()
        }
        images, masks, domains = [], [], []
        extras: list[
            dict[str, Tensor]
        ] = []  # context vectors, when both sides have them
        if 'labeled' in parts:
            extras.append(parts['labeled'])
            mask = parts['labeled']['mask'].long()
            images.append(parts['labeled']['image'])
            masks.append(mask.squeeze(1) if mask.ndim == 4 else mask)
            domains.append(torch.zeros(len(mask), dtype=torch.long, device=mask.device))
        if raw_source is not None:
            source = self._augment(self.source, raw_source, dataloader_idx)
            like = next(iter(parts.values()))['image'] if parts else source['image']
            view = self._source_view(source, like)
            extras.append(source)
            images.append(view['image'])
            masks.append(view['mask'])
            domains.append(
                torch.ones(
                    len(view['mask']), dtype=torch.long, device=view['mask'].device
                )
            )
        labeled: dict[str, Tensor] = {
            'image': torch.cat(images),
            'mask': torch.cat(masks),
        }
        for key in CONTEXT_KEYS:
            if extras and all(key in part for part in extras):
                labeled[key] = torch.cat([part[key] for part in extras])
        if raw_source is not None:
            labeled['domain'] = torch.cat(domains)
        if 'unlabeled' in parts:
            return {'labeled': labeled, 'unlabeled': parts['unlabeled']}
        return labeled

    def state_dict(self) -> dict[str, Any]:
        """The target's state (its prediction metadata goes into checkpoints).

        Returns:
            The state.
        """
        state: dict[str, Any] = self.target.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the target's state.

        Args:
            state_dict: the state.
        """
        self.target.load_state_dict(state_dict)
