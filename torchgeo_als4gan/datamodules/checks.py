"""Checks a datamodule runs in ``setup`` so that a wrong config fails at once."""

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor
from torchgeo.trainers import SemanticSegmentationTask

from .metadata import datamodule_bands, datamodule_classes, training_pixel_range

__all__ = (
    'MASKS_CHECKED',
    'check_labeled_masks',
    'check_mask_values',
    'check_model_bands',
    'check_model_classes',
    'check_model_fits',
    'check_normalization',
    'raw_mask_values',
)

#: Labelled masks read by :func:`check_labeled_masks` (the first ones).
MASKS_CHECKED = 64


def check_model_classes(datamodule: Any) -> None:
    """Refuse a segmentation model whose ``num_classes`` is not the data's.

    Only segmentation tasks attached to a trainer are checked (the datamodule
    may also feed other tasks, or be set up without a trainer).

    Args:
        datamodule: the datamodule being set up.

    Raises:
        ValueError: If the model predicts another number of classes.
    """
    trainer = getattr(datamodule, 'trainer', None)
    module = getattr(trainer, 'lightning_module', None) if trainer else None
    if not isinstance(module, SemanticSegmentationTask):
        return
    expected = module.hparams.get('num_classes')
    classes = datamodule_classes(datamodule)
    if expected is None or classes is None or int(expected) == len(classes):
        return
    msg = (
        f'model num_classes is {expected} but the data has {len(classes)} classes'
        f' {list(classes)}: set --model.init_args.num_classes={len(classes)}'
    )
    raise ValueError(msg)


def _attached_task(datamodule: Any) -> Any:
    trainer = getattr(datamodule, 'trainer', None)
    return getattr(trainer, 'lightning_module', None) if trainer else None


def check_model_bands(datamodule: Any) -> None:
    """Refuse a model whose ``in_channels`` is not the images' band count.

    Without this check the first training step fails deep inside the first
    convolution ("expected input to have 3 channels, but got 4").

    Args:
        datamodule: the datamodule being set up.

    Raises:
        ValueError: If the model reads another number of bands.
    """
    module = _attached_task(datamodule)
    hparams = getattr(module, 'hparams', None)
    expected = hparams.get('in_channels') if hparams is not None else None
    bands = datamodule_bands(datamodule)
    if expected is None or bands is None or int(expected) == bands:
        return
    msg = (
        f'model in_channels is {expected} but the images give {bands} band(s):'
        f' set --model.init_args.in_channels={bands}, or select {expected} bands'
        f' with --data.init_args.bands (1-based indexes or band descriptions,'
        f' e.g. {list(range(1, int(expected) + 1))})'
    )
    raise ValueError(msg)


def check_normalization(datamodule: Any) -> None:
    """Warn when mean/std leave the training imagery far outside unit scale.

    The defaults (mean 0, std 255) suit 8-bit imagery; 16-bit imagery with them
    trains on inputs up to 257, silently.

    Args:
        datamodule: the datamodule being set up.
    """
    stats = training_pixel_range(datamodule)
    if not stats:
        return
    mean = getattr(datamodule, 'norm_mean', 0.0)
    std = getattr(datamodule, 'norm_std', 1.0)
    bands = len(stats['high'])
    means = list(mean) if isinstance(mean, list | tuple) else [mean] * bands
    stds = list(std) if isinstance(std, list | tuple) else [std] * bands
    worst = 0.0
    for low, high, m, s in zip(stats['low'], stats['high'], means, stds, strict=False):
        if s:
            worst = max(worst, abs(high - m) / s, abs(low - m) / s)
    if worst > 10:
        warnings.warn(
            f'The training imagery ({stats["dtype"]}, 1st..99th percentiles'
            f' {stats["low"]}..{stats["high"]}) normalized with mean {mean} and'
            f" std {std} reaches {worst:.0f} standard units: give the data's own"
            ' mean and std (--data.init_args.mean / std)',
            UserWarning,
            stacklevel=2,
        )


def check_model_fits(datamodule: Any) -> None:
    """Every check of the attached model against the data (run in ``setup``).

    Args:
        datamodule: the datamodule being set up.

    Raises:
        ValueError: If the classes or bands do not match.
    """
    check_model_classes(datamodule)
    check_model_bands(datamodule)
    if _attached_task(datamodule) is not None:
        check_normalization(datamodule)


def raw_mask_values(path: str, side: int = 1024) -> Tensor:
    """The distinct values of a mask raster (read at most ``side`` a side, nearest).

    Args:
        path: the mask file.
        side: longest side of the (decimated) read.

    Returns:
        The values other than the file's nodata.
    """
    import numpy as np
    import rasterio

    with rasterio.open(path) as src:
        scale = max(1.0, max(src.height, src.width) / side)
        shape = (max(1, int(src.height / scale)), max(1, int(src.width / scale)))
        data = src.read(1, out_shape=shape)
        nodata = src.nodata
    values = np.unique(data)
    if nodata is not None:
        values = values[values != nodata]
    return torch.from_numpy(values.astype('int64'))


def check_mask_values(
    masks: Iterable[Tensor], classes: Sequence[str], ignore_index: int, source: str
) -> None:
    """Refuse raster masks whose values are not class indices 0..C-1.

    A mask stored 1-based (values 1..C for classes 0..C-1) would otherwise train
    with every class shifted by one, silently.

    Args:
        masks: decoded masks of (the first) labelled items.
        classes: class names.
        ignore_index: mask value of unlabelled pixels.
        source: what the masks are, for the message.

    Raises:
        ValueError: If a value is outside 0..C-1 (and not the ignore index).
    """
    values: set[int] = set()
    for mask in masks:
        values.update(int(v) for v in torch.unique(mask).tolist())
    values.discard(ignore_index)
    count = len(classes)
    outside = sorted(v for v in values if not 0 <= v < count)
    if not outside:
        return
    hint = ''
    if 0 not in values and max(values) == count:
        hint = (
            f' They look 1-based (1..{count}): class indices start at 0, so'
            ' subtract 1 from the masks (e.g. gdal_calc.py --calc="A-1")'
        )
    msg = (
        f'The labelled masks of {source} hold values {outside[:8]} outside the'
        f' class indices 0..{count - 1} of {list(classes)}.{hint}'
    )
    raise ValueError(msg)


def check_labeled_masks(
    masks: Iterable[Tensor],
    classes: Sequence[str],
    ignore_index: int,
    source: str,
    raw_values: Iterable[Any] = (),
) -> None:
    """Refuse a labelled set whose masks hold no labelled pixel at all.

    This happens when every mask value lies outside the classes (masks stored
    as 1..C for 0-based classes, a colour mask, the wrong ``ignore_value``):
    training would then see only ignored pixels and learn nothing, silently.

    Args:
        masks: decoded masks of (the first) labelled items.
        classes: class names.
        ignore_index: mask value of unlabelled pixels.
        source: what the masks are, for the message.
        raw_values: a few raw mask values, for the message.

    Raises:
        ValueError: If no mask holds a pixel of a class.
    """
    count = 0
    for mask in masks:
        count += 1
        valid = (mask != ignore_index) & (mask >= 0) & (mask < len(classes))
        if bool(valid.any()):
            return
    if count == 0:
        return
    seen = sorted({int(v) for v in raw_values})
    found = f' (values found: {seen[:10]})' if seen else ''
    msg = (
        f'The first {count} labelled masks of {source} hold no pixel of the'
        f' {len(classes)} classes {list(classes)}{found}: every pixel would be'
        ' ignored. Mask values must be class indices 0..'
        f'{len(classes) - 1} in the order of classes'
    )
    raise ValueError(msg)
