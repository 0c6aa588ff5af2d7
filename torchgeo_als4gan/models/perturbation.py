"""UniMatch's feature perturbation: dropout on the encoder features, then decode."""

from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ('perturbed_forward', 'supports_feature_perturbation')


def supports_feature_perturbation(model: nn.Module) -> bool:
    """Whether a model has the encoder / decoder split the perturbation needs.

    True for segmentation_models_pytorch models (TorchGeo's ``unet``,
    ``deeplabv3+``, ...: ``encoder``, ``decoder``, ``segmentation_head``) and
    for :class:`~torchgeo_als4gan.models.DeepLabV2` (``encoder``,
    ``segmentation_head``).

    Args:
        model: a segmentation network.

    Returns:
        Whether :func:`perturbed_forward` works on it.
    """
    return hasattr(model, 'encoder') and hasattr(model, 'segmentation_head')


def perturbed_forward(model: nn.Module, x: Tensor, p: float = 0.5) -> Tensor:
    """Logits of ``x`` with channel dropout (``Dropout2d(p)``) on every encoder feature.

    Args:
        model: a network for which :func:`supports_feature_perturbation` holds.
        x: images [B, C, H, W].
        p: dropout probability of whole feature channels.

    Returns:
        Logits [B, classes, H, W].

    Raises:
        ValueError: If the model has no encoder / decoder split.
    """
    if not supports_feature_perturbation(model):
        msg = (
            f'feature perturbation (lambda_fp > 0) needs a model with an encoder and'
            f' a segmentation head (smp models, deeplabv2), not {type(model).__name__}'
        )
        raise ValueError(msg)
    encoder: nn.Module = getattr(model, 'encoder')  # noqa: B009
    head: nn.Module = getattr(model, 'segmentation_head')  # noqa: B009
    features = [F.dropout2d(f, p, training=True) for f in encoder(x)]
    decoder: nn.Module | None = getattr(model, 'decoder', None)
    if decoder is None:  # DeepLab-v2: the head takes the last feature map
        logits: Tensor = head(features[-1])
        return F.interpolate(
            logits, size=x.shape[-2:], mode='bilinear', align_corners=False
        )
    out: Tensor = head(decoder(features))
    return out
