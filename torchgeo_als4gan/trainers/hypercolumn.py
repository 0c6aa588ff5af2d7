"""The zoom-out / hypercolumn segmenter's two stages as one Lightning task.

``stage: pixels`` (the seed's stage 1): a few random pixels per class per tile
(``pixels_per_class``, seeded, stratified by class), their hypercolumns
sampled from the backbone's taps (:meth:`HypercolumnSegmenter.forward_pixels`),
z-scored with statistics of the training pixels (measured on the first batch,
kept in the checkpoint), an MLP, class-weighted cross-entropy.

``stage: dense`` (stage 2): the same MLP as 1x1 convolutions over whole tiles,
started from a pixels-stage checkpoint (``init_checkpoint``; its classes, taps,
backbone and MLP must match), the backbone frozen or fine-tuned.

Validation, the checkpoint choice (``val_miou``, not pixel accuracy) and every
command (``evaluate``, ``predict-raster``, ``experiment``) use the dense model,
whose output is at exactly the input size.
"""

import os
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..checks import read_checkpoint
from ..models import HypercolumnSegmenter
from ..models.pretrained import resolve_weights
from ..models.weights import read_state_dict
from ..models.zoomout import ZoomOutSegmenter
from ..samplers import sample_pixels_per_class
from .semi import SemiSupervisedSegmentationTask

__all__ = ('HypercolumnTask', 'inverse_frequency_weights')

#: Hyperparameters a dense stage must share with its pixels-stage checkpoint.
SHARED = (
    'backbone', 'in_channels', 'num_classes', 'taps', 'hidden', 'include_image', 'pooling',
)  # fmt: skip


def inverse_frequency_weights(counts: Tensor) -> Tensor:
    """Class weights ``N / (K n_c)`` over the K classes present (1 for absent ones).

    Args:
        counts: labelled pixels per class.

    Returns:
        The weights (a pixel's weight is 1 on average over the labelled pixels).
    """
    counts = counts.double()
    present = counts > 0
    weights = torch.ones_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights.float()


class HypercolumnTask(SemiSupervisedSegmentationTask):
    """Supervised training of a :class:`HypercolumnSegmenter`, from pixels or dense."""

    reads_unlabeled = False

    def __init__(
        self,
        backbone: str = 'vgg16',
        weights: str | os.PathLike[str] | bool | None = None,
        in_channels: int = 3,
        num_classes: int = 2,
        ignore_index: int | None = 255,
        taps: str | list[str] = 'convs',
        hidden: list[int] | None = None,
        dropout: float = 0.5,
        include_image: bool = True,
        pooling: Literal['pixel', 'superpixel'] = 'pixel',
        n_segments: int = 100,
        compactness: float = 10.0,
        stage: Literal['pixels', 'dense'] = 'pixels',
        pixels_per_class: int = 3,
        class_weights: Literal['inverse'] | Sequence[float] | None = 'inverse',
        init_checkpoint: str | os.PathLike[str] | None = None,
        stats_pixels: int = 4096,
        lr: float = 1e-3,
        patience: int = 10,
        freeze_backbone: bool = True,
        plot_batches: int = 2,
        seed: int = 0,
    ) -> None:
        """Initialize a new HypercolumnTask.

        Args:
            backbone: a timm model name (the seed: ``vgg16``).
            weights: True for timm's hub weights (online), a TorchGeo weight
                enum or its name, ``timm:<name>`` (from the local caches), a
                local weights file of the backbone, or None.
            in_channels: input bands.
            num_classes: classes.
            ignore_index: mask value of unlabelled pixels.
            taps: ``convs``, ``stages`` or layer names (:func:`tap_names`).
            hidden: MLP hidden sizes (default: the seed's 1024, 1024).
            dropout: dropout of the MLP.
            include_image: the image is part of each hypercolumn.
            pooling: ``pixel`` (a hypercolumn per pixel) or ``superpixel``
                (zoom-out: hypercolumns averaged over each SLIC superpixel, its
                neighbourhood and the tile, one prediction per superpixel:
                :class:`~torchgeo_als4gan.models.ZoomOutSegmenter`).
            n_segments: approximate superpixels per tile (``superpixel``).
            compactness: SLIC compactness (``superpixel``).
            stage: ``pixels`` (sampled pixels, MLP) or ``dense`` (whole tiles).
            pixels_per_class: pixels per class per tile in the pixels stage.
            class_weights: ``inverse`` (``N / (K n_c)`` from the labelled masks,
                measured before training), given weights, or None.
            init_checkpoint: pixels-stage checkpoint the dense stage starts from.
            stats_pixels: pixels of the first batch the z-scoring is measured on.
            lr: learning rate (AdamW, reduced on plateau as TorchGeo's tasks).
            patience: plateau patience in epochs.
            freeze_backbone: keep the backbone fixed (the seed) or fine-tune it.
            plot_batches: validation batches drawn as figures per epoch.
            seed: seed of the pixel draws.

        Raises:
            ValueError: If an argument is out of range, or ``init_checkpoint``
                was trained with other classes, taps, backbone or MLP.
        """
        if pooling not in ('pixel', 'superpixel'):
            msg = f"pooling must be 'pixel' or 'superpixel', got {pooling!r}"
            raise ValueError(msg)
        if stage not in ('pixels', 'dense'):
            msg = f"stage must be 'pixels' or 'dense', got {stage!r}"
            raise ValueError(msg)
        if not isinstance(pixels_per_class, int) or pixels_per_class < 1:
            msg = (
                f'pixels_per_class must be a positive integer, got {pixels_per_class!r}'
            )
            raise ValueError(msg)
        if isinstance(class_weights, str) and class_weights != 'inverse':
            msg = f"class_weights must be 'inverse', a list or null, got {class_weights!r}"
            raise ValueError(msg)
        if stats_pixels < 2:
            msg = f'stats_pixels must be at least 2, got {stats_pixels!r}'
            raise ValueError(msg)
        self._init_semi()
        super().__init__(
            model='hypercolumn', backbone=backbone, weights=weights,  # type: ignore[arg-type]
            in_channels=in_channels, num_classes=num_classes, ignore_index=ignore_index,
            lr=lr, patience=patience, freeze_backbone=freeze_backbone,
        )  # fmt: skip

    def configure_models(self) -> None:
        """Build the segmenter; for ``stage: dense``, load the pixels-stage weights."""
        self._fix_hparams()
        hp = self.hparams
        args = (
            hp['backbone'], hp['in_channels'], hp['num_classes'], hp['taps'],
            hp['hidden'] or (1024, 1024), hp['dropout'],
            resolve_weights(self.weights) if hp['init_checkpoint'] is None else None,
            hp['include_image'],
        )  # fmt: skip
        if hp['pooling'] == 'superpixel':
            self.model = ZoomOutSegmenter(*args, hp['n_segments'], hp['compactness'])
        else:
            self.model = HypercolumnSegmenter(*args)
        self.weights_report = self.model.weights_report
        if hp['freeze_backbone']:
            self.model.backbone.requires_grad_(False)
        self.register_buffer('stats_ready', torch.tensor(False))
        self.register_buffer('class_weight', torch.ones(hp['num_classes']))
        if hp['init_checkpoint'] is not None:
            self._load_pixels_stage(hp['init_checkpoint'])

    def _load_pixels_stage(self, path: str | os.PathLike[str]) -> None:
        checkpoint = read_checkpoint(path, 'init_checkpoint')
        saved = (
            checkpoint.get('hyper_parameters', {})
            if isinstance(checkpoint, dict)
            else {}
        )
        differ = [
            f'{key}: {saved.get(key)!r} there, {self.hparams[key]!r} here'
            for key in SHARED if saved.get(key) != self.hparams[key]
        ]  # fmt: skip
        if differ:
            msg = (
                f'init_checkpoint {os.fspath(path)!r} is not a pixels stage of this'
                f' model: {"; ".join(differ)}'
            )
            raise ValueError(msg)
        state = read_state_dict(path)
        own = {
            k: v
            for k, v in state.items()
            if k.startswith(('model.', 'stats_ready', 'class_weight'))
        }
        self.load_state_dict(own, strict=False)
        missing = [
            k for k in self.state_dict() if k.startswith('model.') and k not in own
        ]
        if missing:
            msg = f'init_checkpoint {os.fspath(path)!r} lacks {missing[:3]}'
            raise ValueError(msg)

    def configure_losses(self) -> None:
        """Unweighted cross-entropy for ``val_loss``; training weights by class."""
        self.criterion = nn.CrossEntropyLoss(ignore_index=self._ignore())

    def _ignore(self) -> int:
        ignore: int | None = self.hparams['ignore_index']
        return -100 if ignore is None else ignore

    def on_fit_start(self) -> None:
        """Check the data, then measure the class weights on the labelled masks."""
        super().on_fit_start()
        given = self.hparams['class_weights']
        if given is None or (
            self.hparams['init_checkpoint'] is not None and given == 'inverse'
        ):
            return  # none, or the pixels stage's (in its checkpoint)
        if given != 'inverse':
            self.get_buffer('class_weight').copy_(
                torch.as_tensor(given, dtype=torch.float32)
            )
            return
        counts = torch.zeros(self.hparams['num_classes'], dtype=torch.long)
        datamodule = getattr(self.trainer, 'datamodule', None)
        loader = datamodule.train_dataloader() if datamodule is not None else []
        for batch in loader:
            if isinstance(batch, tuple):  # CombinedLoader: (batch, index, loader)
                batch = batch[0]
            labeled = batch['labeled'] if 'labeled' in batch else batch
            mask = labeled['mask'].long().flatten()
            mask = mask[(mask >= 0) & (mask < len(counts))]
            counts += torch.bincount(mask, minlength=len(counts))
        self.get_buffer('class_weight').copy_(inverse_frequency_weights(counts))

    def _set_statistics(self, x: Tensor, y: Tensor) -> None:
        """z-scoring statistics from the hypercolumns of the first batch's pixels."""
        known = y != (
            self.hparams['ignore_index']
            if self.hparams['ignore_index'] is not None
            else -1
        )
        where = known.nonzero()
        with self.iteration_rng(0):
            pick = torch.randperm(len(where))[: self.hparams['stats_pixels']]
        where = where[pick.to(where.device)]
        with torch.no_grad():
            columns = self.model.hypercolumns(x, where[:, 1], where[:, 2], where[:, 0])
        self.model.get_buffer('feature_mean').copy_(columns.mean(dim=0))
        self.model.get_buffer('feature_std').copy_(columns.std(dim=0).clamp_min(1e-6))
        self.get_buffer('stats_ready').fill_(True)

    def training_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """One step of the stage on a labelled batch.

        Args:
            batch: a labelled batch (or ``{'labeled': ...}``).
            batch_idx: batch index.
            dataloader_idx: loader index.

        Returns:
            The loss.
        """
        labeled, _ = self.split_batch(batch)
        x, y = labeled['image'], labeled['mask'].long()
        if self.hparams['freeze_backbone']:
            self.model.backbone.eval()
        if not bool(self.get_buffer('stats_ready')):
            self._set_statistics(x, y)
        if self.hparams['stage'] == 'dense':
            logits = self.model(x)
            loss = F.cross_entropy(
                logits, y, weight=self.get_buffer('class_weight'),
                ignore_index=self._ignore(),
            )  # fmt: skip
            self.train_metrics(logits, y)
            self.log_dict(self.train_metrics, batch_size=x.shape[0])
        else:
            with self.iteration_rng(self.global_step):
                sample = sample_pixels_per_class(
                    y, self.hparams['pixels_per_class'], self.hparams['num_classes'],
                    self.hparams['ignore_index'],
                )  # fmt: skip
            if self.hparams['pooling'] == 'superpixel':  # the pixels' superpixels
                logits = self.model(x)[sample.batch, :, sample.rows, sample.cols]
            else:
                logits = self.model.forward_pixels(
                    x, sample.rows, sample.cols, sample.batch
                )
            loss = F.cross_entropy(
                logits, sample.labels, weight=self.get_buffer('class_weight')
            )
            assert isinstance(loss, Tensor)
            self.log('train_pixels', float(len(sample.labels)), batch_size=x.shape[0])
            self.log(
                'train_pixels_short', float(sample.short.sum()), batch_size=x.shape[0]
            )
        self.log('train_loss', loss, batch_size=x.shape[0])
        return loss
