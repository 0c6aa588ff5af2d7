"""A trained segmentation model ready to apply to rasters, loaded from a checkpoint."""

import inspect
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torchgeo.trainers import SemanticSegmentationTask

from ..checks import read_checkpoint
from ..datamodules.metadata import checkpoint_metadata
from ..datasets.plotting import default_colors
from ..evaluation.calibration import read_temperature
from ..models import S4GANDiscriminator, rescale_to_unit
from ..trainers import ContextTeacherTask, HypercolumnTask, S4GANTask, SelfTrainingTask

__all__ = ('SegmentationModel', 'load_segmentation_checkpoint')


def _per_band(value: float | Sequence[float] | Tensor, bands: int, name: str) -> Tensor:
    tensor = torch.as_tensor(value, dtype=torch.float32).flatten()
    if tensor.numel() == 1:
        tensor = tensor.expand(bands)
    if tensor.numel() != bands:
        msg = f'{name} has {tensor.numel()} values; the model takes {bands} bands'
        raise ValueError(msg)
    return tensor.clone()


@dataclass
class SegmentationModel:
    """A segmentation network with everything needed to apply it to raw pixels.

    Attributes:
        network: normalized images [B, bands, H, W] -> logits [B, classes, H, W].
        classes: class names, index order.
        in_channels: bands the network takes.
        mean: per-band mean subtracted from raw pixel values.
        std: per-band standard deviation raw values are divided by.
        colors: RGB colour per class (for the GeoTIFF colour map).
        discriminator: S4GAN's discriminator, when the model has one.
        source: where the model came from (for messages).
        device: where the networks run.
        bands: bands of the input rasters the model was trained on (1-based
            indexes or band descriptions; None: all bands).
        pixel_range: data type and per-band 1st/99th percentiles of the
            training imagery (None: not recorded, nothing is compared).
        temperature: the logits are divided by it before the softmax (fitted
            on val by :class:`~torchgeo_als4gan.evaluation.calibration.TemperatureCalibration`;
            1: none).
    """

    network: nn.Module
    classes: tuple[str, ...]
    in_channels: int
    mean: Tensor
    std: Tensor
    colors: tuple[tuple[int, int, int], ...] = ()
    discriminator: S4GANDiscriminator | None = None
    source: str = 'model'
    device: torch.device = field(default_factory=lambda: torch.device('cpu'))
    bands: list[int | str] | None = None
    pixel_range: dict[str, Any] | None = None
    temperature: float = 1.0

    def __post_init__(self) -> None:
        """Check the normalization and fill in colours."""
        self.mean = _per_band(self.mean, self.in_channels, 'mean')
        self.std = _per_band(self.std, self.in_channels, 'std')
        if not self.colors:
            self.colors = default_colors(len(self.classes))
        self.network.eval()
        if self.discriminator is not None:
            self.discriminator.eval()

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def to(self, device: torch.device | str) -> 'SegmentationModel':
        """Move the networks to a device.

        Args:
            device: the device.

        Returns:
            self.
        """
        self.device = torch.device(device)
        self.network.to(self.device)
        if self.discriminator is not None:
            self.discriminator.to(self.device)
        return self

    def normalize(self, image: Tensor) -> Tensor:
        """Normalize raw pixel values as in training.

        Args:
            image: [B, bands, H, W] raw values.

        Returns:
            Float images on the model's device.
        """
        image = image.to(self.device, torch.float32, non_blocking=True)
        mean = self.mean.to(self.device).view(1, -1, 1, 1)
        std = self.std.to(self.device).view(1, -1, 1, 1)
        return (image - mean) / std

    @torch.inference_mode()
    def predict(self, image: Tensor) -> tuple[Tensor, Tensor | None]:
        """Class probabilities (and D's score per image) of raw images.

        Args:
            image: [B, bands, H, W] raw pixel values.

        Returns:
            Probabilities [B, classes, H, W] and, for S4GAN models, the
            discriminator's score [B] of each (image, prediction) pair.
        """
        x = self.normalize(image)
        probs = (self.network(x).float() / self.temperature).softmax(dim=1)
        score = None
        if self.discriminator is not None:
            logit, _ = self.discriminator(probs, rescale_to_unit(x))
            score = logit.float().sigmoid().flatten()
        return probs, score


def _task_class(state: dict[str, Tensor]) -> type[SemanticSegmentationTask]:
    if any(key.startswith('discriminator.') for key in state):
        return S4GANTask
    if any(key.startswith('context_model.') for key in state):
        return ContextTeacherTask
    if any(key.startswith('model.head.') for key in state) and 'stats_ready' in state:
        return HypercolumnTask
    if any(key.startswith('teacher.') for key in state):
        return SelfTrainingTask
    return SemanticSegmentationTask


def _init_arguments(cls: type) -> set[str]:
    """Arguments of ``cls.__init__``, following ``**kwargs`` to the parents'."""
    accepted: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        parameters = inspect.signature(init).parameters
        accepted |= {
            name for name, p in parameters.items()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and name != 'self'
        }  # fmt: skip
        if not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
            break
    return accepted


def _build_task(
    path: Path, checkpoint: dict[str, Any]
) -> tuple[SemanticSegmentationTask, dict[str, Any]]:
    state = checkpoint.get('state_dict')
    hparams = checkpoint.get('hyper_parameters')
    if not isinstance(state, dict) or not isinstance(hparams, dict):
        msg = (
            f'{path} is not a Lightning checkpoint of a segmentation task'
            ' (no state_dict / hyper_parameters)'
        )
        raise ValueError(msg)
    cls = _task_class(state)
    accepted = _init_arguments(cls)
    kwargs = {k: v for k, v in hparams.items() if k in accepted}
    kwargs['weights'] = None  # the checkpoint holds all weights
    try:
        task = cls(**kwargs)
        task.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError, KeyError) as error:
        model = hparams.get('model', '?')
        msg = (
            f'{path} is not a checkpoint of a segmentation model (its model is'
            f' {model!r}; loading it as {cls.__name__} failed: {error})'
        )
        raise ValueError(msg) from error
    return task, hparams


def load_segmentation_checkpoint(
    path: str | os.PathLike[str],
    device: torch.device | str = 'cpu',
    mean: float | Sequence[float] | None = None,
    std: float | Sequence[float] | None = None,
    classes: Sequence[str] | None = None,
) -> SegmentationModel:
    """Load a segmentation task checkpoint of any kind this package trains.

    The task is told apart by the checkpoint's keys: S4GAN (a discriminator),
    the context teacher, the hypercolumn task, self-training (a teacher), or
    TorchGeo's ``SemanticSegmentationTask`` (the supervised baseline). A task
    with a teacher gives the network it was validated with (its
    ``inference_network``: the teacher or the student, as ``eval_model`` says).

    Normalization, class names and colours come from the checkpoint (saved by
    this package's datamodules), and the temperature when the run fitted one
    (:class:`~torchgeo_als4gan.evaluation.calibration.TemperatureCalibration`); ``mean``/``std``/``classes`` override them and
    are required only for checkpoints trained with other datamodules.

    Args:
        path: the ``.ckpt`` file.
        device: where to run the model.
        mean: per-band mean override.
        std: per-band standard deviation override.
        classes: class names override.

    Returns:
        The model, in eval mode on ``device``.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not a segmentation checkpoint, has no normalization
            and none is given, or its outputs do not match its classes.
    """
    path = Path(path)
    checkpoint = read_checkpoint(path, '--checkpoint')
    task, hparams = _build_task(path, checkpoint)
    meta = checkpoint_metadata(checkpoint) or {}
    if (mean is None and 'mean' not in meta) or (std is None and 'std' not in meta):
        msg = (
            f'{path} has no normalization (it was not trained with this package'
            ' datamodules); give the training mean and std'
        )
        raise ValueError(msg)
    num_classes = int(hparams['num_classes'])
    names = classes or meta.get('classes') or [f'class_{i}' for i in range(num_classes)]
    if len(names) != num_classes:
        msg = f'{path}: the model predicts {num_classes} classes but {len(names)} names were given'
        raise ValueError(msg)
    discriminator = getattr(task, 'discriminator', None)
    inference = getattr(task, 'inference_network', None)
    model = SegmentationModel(
        network=inference() if callable(inference) else task.model,
        classes=tuple(names),
        in_channels=int(hparams.get('in_channels', 3)),
        mean=torch.as_tensor(meta['mean'] if mean is None else mean),
        std=torch.as_tensor(meta['std'] if std is None else std),
        colors=tuple(tuple(c) for c in meta.get('colors') or ()),
        discriminator=discriminator,
        source=os.fspath(path),
        bands=meta.get('bands'),
        pixel_range=meta.get('pixel_range'),
        temperature=read_temperature(checkpoint),
    )
    return model.to(device)
