"""A segmenter whose deepest encoder features are conditioned on the context (FiLM).

Works on every network with an encoder / decoder split (TorchGeo's
segmentation_models_pytorch models such as ``unet`` or ``deeplabv3+``, and
:class:`~torchgeo_als4gan.models.DeepLabV2`): the encoder's last feature map is
scaled and shifted per channel from the context embedding, then decoded as
usual. :func:`split_forward` gives any such network's logits together with that
deepest feature map, which the image-only student regresses on the
context-conditioned one (distillation).
"""

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .context import ContextFiLM, build_context_encoder
from .perturbation import supports_feature_perturbation

__all__ = ('ContextConditionedSegmenter', 'deepest_channels', 'split_forward')


def split_forward(
    model: nn.Module, x: Tensor, condition: Callable[[Tensor], Tensor] | None = None
) -> tuple[Tensor, Tensor]:
    """Logits and deepest encoder features, the latter optionally transformed first.

    Args:
        model: a network with an encoder / decoder split.
        x: images [B, C, H, W].
        condition: applied to the deepest feature map before decoding.

    Returns:
        Logits [B, classes, H, W] and the (conditioned) deepest features.

    Raises:
        ValueError: If the model has no encoder / decoder split.
    """
    if not supports_feature_perturbation(model):
        msg = (
            'context conditioning needs a model with an encoder and a segmentation'
            f' head (smp models such as unet or deeplabv3+, deeplabv2), not'
            f' {type(model).__name__}'
        )
        raise ValueError(msg)
    encoder: nn.Module = getattr(model, 'encoder')  # noqa: B009
    head: nn.Module = getattr(model, 'segmentation_head')  # noqa: B009
    features = list(encoder(x))
    if condition is not None:
        features[-1] = condition(features[-1])
    decoder: nn.Module | None = getattr(model, 'decoder', None)
    if decoder is None:  # DeepLab-v2: the head takes the last feature map
        logits: Tensor = head(features[-1])
        logits = F.interpolate(
            logits, size=x.shape[-2:], mode='bilinear', align_corners=False
        )
    else:
        logits = head(decoder(features))
    return logits, features[-1]


def deepest_channels(model: nn.Module, in_channels: int) -> int:
    """Channels of a network's deepest encoder feature map.

    Args:
        model: a network with an encoder / decoder split.
        in_channels: its input bands.

    Returns:
        The channel count (smp's ``out_channels``, or measured on a small input).
    """
    encoder = getattr(model, 'encoder', None)
    channels = getattr(encoder, 'out_channels', None)
    if channels:
        return int(channels[-1])
    parameter = next(model.parameters())
    probe = torch.zeros(1, in_channels, 64, 64, device=parameter.device)
    training = model.training
    model.eval()
    with torch.no_grad():
        _, deepest = split_forward(model, probe)
    model.train(training)
    return int(deepest.shape[1])


class ContextConditionedSegmenter(nn.Module):
    """A segmenter that reads the context: FiLM on its deepest encoder features."""

    def __init__(
        self,
        network: nn.Module,
        in_channels: int,
        encoder: str = 'mlp',
        dim: int = 128,
        hidden: int = 384,
    ) -> None:
        """Initialize a new ContextConditionedSegmenter.

        Args:
            network: the segmentation network (encoder / decoder split).
            in_channels: its input bands.
            encoder: context encoder name (``mlp``, ``fourier``,
                ``spherical_harmonics``).
            dim: context embedding size.
            hidden: hidden size of the encoder's MLP.
        """
        super().__init__()
        self.network = network
        self.context_encoder = build_context_encoder(encoder, dim=dim, hidden=hidden)
        self.film = ContextFiLM(deepest_channels(network, in_channels), dim)

    def forward_split(
        self, x: Tensor, metadata: Tensor, valid: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Logits and the conditioned deepest features.

        Args:
            x: images [B, C, H, W].
            metadata: context vectors [B, 4].
            valid: [B] booleans (None: all valid).

        Returns:
            Logits and conditioned features.
        """
        embedding = self.context_encoder(metadata.to(x.dtype))
        return split_forward(self.network, x, lambda f: self.film(f, embedding, valid))

    def forward(
        self, x: Tensor, metadata: Tensor, valid: Tensor | None = None
    ) -> Tensor:
        """Logits.

        Args:
            x: images [B, C, H, W].
            metadata: context vectors [B, 4].
            valid: [B] booleans (None: all valid).

        Returns:
            Logits [B, classes, H, W].
        """
        return self.forward_split(x, metadata, valid)[0]
