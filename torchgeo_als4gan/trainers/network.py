"""Helpers of the segmentation trainers: local weights, dataset classes, plotting."""

import os
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..models.weights import WeightsReport, load_local_weights

__all__ = ('NetworkName', 'denormalize', 'is_local_weights', 'load_network_weights')

#: The segmentation networks a task can train: TorchGeo's models, ``deeplabv2``
#: (S4GAN's generator) and ``hypercolumn`` (the zoom-out segmenter).
NetworkName = Literal[
    'unet', 'deeplabv3+', 'deeplabv2', 'hypercolumn', 'fcn', 'upernet', 'segformer',
    'dpt',
]  # fmt: skip


def is_local_weights(weights: object) -> bool:
    """Whether ``weights`` names a local file rather than a TorchGeo weight enum.

    Args:
        weights: the ``weights`` argument of a task.

    Returns:
        True for an existing file or a path ending in ``.pt``/``.pth``/``.ckpt``
        /``.safetensors``.
    """
    return isinstance(weights, str | os.PathLike) and (
        os.path.isfile(weights)
        or str(weights).endswith(('.pt', '.pth', '.ckpt', '.safetensors'))
    )


def load_network_weights(
    model: nn.Module, path: str | os.PathLike[str]
) -> WeightsReport:
    """Load local weights into a segmentation model, or else into its encoder.

    A checkpoint of a whole segmentation model matches the model; a classification
    backbone (e.g. an ImageNet ResNet state dict) matches only ``model.encoder``.

    Args:
        model: the segmentation model.
        path: a ``.pt``/``.pth`` state dict or a Lightning ``.ckpt``.

    Returns:
        The report of loaded / missing / unexpected / mismatched keys.

    Raises:
        ValueError: If nothing in the file matches the model or its encoder.
    """
    try:
        return load_local_weights(model, path)
    except ValueError:
        encoder = getattr(model, 'encoder', None)
        if not isinstance(encoder, nn.Module):
            raise
        return load_local_weights(encoder, path)


def denormalize(image: Tensor, datamodule: Any) -> Tensor:
    """Undo a datamodule's normalization for plotting.

    Args:
        image: normalized images [B, C, H, W].
        datamodule: our datamodules keep ``norm_mean``/``norm_std``; TorchGeo's
            have ``mean``/``std``.

    Returns:
        Images in the original value range.
    """
    mean: Sequence[float] | float | Tensor = getattr(
        datamodule, 'norm_mean', getattr(datamodule, 'mean', 0.0)
    )
    std: Sequence[float] | float | Tensor = getattr(
        datamodule, 'norm_std', getattr(datamodule, 'std', 1.0)
    )
    m = torch.as_tensor(mean, dtype=image.dtype, device=image.device)
    s = torch.as_tensor(std, dtype=image.dtype, device=image.device)
    if m.ndim == 1:
        m = m.view(1, -1, 1, 1)
    if s.ndim == 1:
        s = s.view(1, -1, 1, 1)
    return image * s + m
