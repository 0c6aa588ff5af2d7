"""Pixel values the model never saw: recorded ranges, non-finite pixels and losses."""

import math
import os
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import rasterio
import rasterio.errors
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

__all__ = (
    'NonFiniteLossGuard',
    'check_pixel_range',
    'file_pixel_statistics',
    'mask_non_finite',
)

#: Percentiles recorded as a band's range (robust to a few hot pixels).
PERCENTILES = (1.0, 99.0)


def file_pixel_statistics(
    paths: Iterable[str | os.PathLike[str]],
    bands: Sequence[int] | None = None,
    max_files: int = 8,
    side: int = 256,
) -> dict[str, Any] | None:
    """Data type and per-band value range of a few image files.

    Each file is read at reduced resolution (at most ``side`` pixels a side),
    nodata and non-finite pixels left out.

    Args:
        paths: image files (the first ``max_files`` are read).
        bands: 1-based bands to read (None: all).
        max_files: files read at most.
        side: longest side of each decimated read.

    Returns:
        ``dtype`` (of the first file), ``low`` / ``high`` (per-band 1st and 99th
        percentiles), ``files`` (how many were read); None when no file was read.
    """
    values: list[np.ndarray[Any, Any]] = []
    dtype = None
    for path in list(paths)[:max_files]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', rasterio.errors.NotGeoreferencedWarning)
                with rasterio.open(path) as src:
                    scale = max(src.height, src.width) / side
                    shape = (
                        max(1, round(src.height / max(scale, 1))),
                        max(1, round(src.width / max(scale, 1))),
                    )
                    indexes = list(bands) if bands else list(range(1, src.count + 1))
                    data = src.read(
                        indexes, out_shape=(len(indexes), *shape), masked=True
                    )
                    dtype = dtype or src.dtypes[indexes[0] - 1]
        except (rasterio.errors.RasterioError, IndexError, ValueError):
            continue
        array = np.ma.filled(data.astype(np.float64), np.nan).reshape(len(indexes), -1)
        if values and array.shape[0] != values[0].shape[0]:
            continue
        values.append(array)
    if not values or dtype is None:
        return None
    joined = np.concatenate(values, axis=1)
    joined[~np.isfinite(joined)] = np.nan
    low, high = np.nanpercentile(joined, PERCENTILES, axis=1)
    return {
        'dtype': str(dtype),
        'low': [float(v) if math.isfinite(v) else 0.0 for v in low],
        'high': [float(v) if math.isfinite(v) else 0.0 for v in high],
        'files': len(values),
    }


def check_pixel_range(
    recorded: dict[str, Any] | None,
    observed: dict[str, Any] | None,
    source: str,
    allow: bool = False,
    option: str = '--allow_range',
) -> list[str]:
    """Compare the pixels of new data with those the model was trained on.

    A model trained on uint8 imagery (0..255) sees 16-bit imagery (0..65535) as
    almost white everywhere, silently: the data type and each band's
    1st..99th percentile range must match what the checkpoint recorded (a band
    may extend past the recorded range by at most that range's width).

    Args:
        recorded: the checkpoint's :func:`file_pixel_statistics` (None for
            checkpoints that recorded none: nothing to compare).
        observed: the same statistics of the new data.
        source: the new data, for the message.
        allow: warn instead of refusing.
        option: the option that allows it, for the message.

    Returns:
        The differences found (empty when the data looks like the training data).

    Raises:
        ValueError: If they differ and ``allow`` is false.
    """
    if not recorded or not observed:
        return []
    problems = []
    if recorded.get('dtype') != observed.get('dtype'):
        problems.append(
            f'data type {observed.get("dtype")} (the model was trained on'
            f' {recorded.get("dtype")})'
        )
    low, high = recorded.get('low') or [], recorded.get('high') or []
    new_low, new_high = observed.get('low') or [], observed.get('high') or []
    for band, (a, b, c, d) in enumerate(
        zip(low, high, new_low, new_high, strict=False), 1
    ):
        span = max(b - a, 1e-6)
        if d > b + span or c < a - span:
            problems.append(
                f'band {band} range {c:g}..{d:g} (trained on {a:g}..{b:g},'
                ' 1st..99th percentiles)'
            )
    if not problems:
        return []
    msg = (
        f'{source} does not look like the imagery the model was trained on: '
        + '; '.join(problems)
        + '. Convert it to the training data type and range'
    )
    if allow:
        warnings.warn(f'{msg} ({option} given: going on)', UserWarning, stacklevel=2)
        return problems
    raise ValueError(f'{msg}, or pass {option} to go on anyway')


def mask_non_finite(
    image: Tensor, mask: Tensor | None = None, ignore_index: int = 255
) -> tuple[Tensor, Tensor | None, int]:
    """Make NaN / inf pixels nodata: image 0 there, mask the ignore index.

    A single NaN pixel spreads through every convolution of a tile (and through
    the weights once trained on), so non-finite pixels are treated as nodata
    everywhere: zero in the image, ignored in the loss.

    Args:
        image: [B, C, H, W] (or [C, H, W]).
        mask: the matching [B, H, W] (or [H, W]) class mask, if any.
        ignore_index: mask value of ignored pixels.

    Returns:
        The image, the mask and the number of pixels masked (the inputs are
        returned unchanged when every pixel is finite).
    """
    if not image.is_floating_point():
        return image, mask, 0
    bad = ~torch.isfinite(image)
    if not bool(bad.any()):
        return image, mask, 0
    pixels = bad.any(dim=-3)
    image = torch.where(bad, torch.zeros_like(image), image)
    if mask is not None and mask.shape[-2:] == pixels.shape[-2:]:
        mask = mask.masked_fill(pixels.reshape(mask.shape), ignore_index)
    return image, mask, int(pixels.sum())


def _batch_ids(batch: Any) -> list[str]:
    if isinstance(batch, dict):
        ids = batch.get('id')
        if isinstance(ids, list | tuple):
            return [str(i) for i in ids]
        found: list[str] = []
        for value in batch.values():
            found += _batch_ids(value)
        return found
    if isinstance(batch, list | tuple):
        return [i for value in batch for i in _batch_ids(value)]
    return []


def _loss_of(outputs: Any, trainer: Trainer) -> Tensor | None:
    if isinstance(outputs, Tensor):
        return outputs
    if isinstance(outputs, dict) and isinstance(outputs.get('loss'), Tensor):
        loss: Tensor = outputs['loss']
        return loss
    for key, value in trainer.callback_metrics.items():
        if key.startswith('train') and 'loss' in key and isinstance(value, Tensor):
            return value
    return None


class NonFiniteLossGuard(Callback):
    """Stop training at the first NaN / inf loss, saying where and why.

    Added to every trainer the ``als4gan`` commands build. Without it a NaN
    loss trains on silently and leaves NaN in the weights.
    """

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Check the step's loss.

        Args:
            trainer: the trainer.
            pl_module: the task.
            outputs: what the training step returned.
            batch: the batch.
            batch_idx: its index in the epoch.

        Raises:
            FloatingPointError: If the loss is not finite.
        """
        loss = _loss_of(outputs, trainer)
        if loss is None or bool(torch.isfinite(loss.detach()).all()):
            return
        ids = _batch_ids(batch)
        shown = ', '.join(ids[:8]) + (' ...' if len(ids) > 8 else '')
        lr = getattr(pl_module, 'hparams', {}).get('lr')
        msg = (
            f'The training loss became {float(loss.detach().float().mean())} at'
            f' step {trainer.global_step} (epoch {trainer.current_epoch}, batch'
            f' {batch_idx}); batch items: {shown or "(no ids)"}. Non-finite'
            ' pixels are masked as nodata, so the likely causes are a learning'
            f' rate too high for this data (lr={lr}) or a normalization (mean/'
            "std) that does not fit the imagery's values; training was stopped"
            ' so that no NaN reaches the weights'
        )
        raise FloatingPointError(msg)
