"""The S4GAN image-level discriminator."""

import torch
from torch import Tensor, nn

__all__ = ('S4GANDiscriminator', 'rescale_to_unit')


def rescale_to_unit(image: Tensor, eps: float = 1e-6) -> Tensor:
    """Rescale each image and band of a batch to [0, 1] by its own min and max.

    Each image is rescaled with its own statistics, so the result does not depend
    on what else is in the batch (the original code used another batch's range).

    Args:
        image: images [B, C, H, W].
        eps: added to the range of constant bands.

    Returns:
        Images in [0, 1], same shape.
    """
    flat = image.flatten(2)
    low = flat.amin(dim=2)[..., None, None]
    high = flat.amax(dim=2)[..., None, None]
    return (image - low) / (high - low + eps)


class S4GANDiscriminator(nn.Module):
    """Judges whether a class-probability map matches its image.

    Input: a probability (or one-hot) map with ``num_classes`` channels
    concatenated with the image rescaled to [0, 1]. Four 4x4 stride-2
    convolutions (64-128-256-512 filters by default) with LeakyReLU(0.2), dropout
    after the first three, global average pooling to a feature vector ``f`` and a
    linear layer to one logit per image. Global pooling makes it work at any input
    size (the original was tied to 320x320 inputs).

    :meth:`forward` returns the logit rather than the sigmoid score: the losses use
    ``binary_cross_entropy_with_logits``, which is stable under mixed precision,
    and ``logit.sigmoid()`` is the score ``s``.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        width: int = 64,
        dropout: float = 0.5,
    ) -> None:
        """Initialize a new S4GANDiscriminator.

        Args:
            num_classes: channels of the probability map.
            in_channels: bands of the image.
            width: filters of the first convolution (doubled three times).
            dropout: dropout probability after the first three convolutions.
        """
        super().__init__()
        widths = [width, width * 2, width * 4, width * 8]
        layers: list[nn.Module] = []
        channels = num_classes + in_channels
        for i, out in enumerate(widths):
            layers += [
                nn.Conv2d(channels, out, kernel_size=4, stride=2, padding=1),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            if i < 3 and dropout > 0:
                layers.append(nn.Dropout2d(dropout))
            channels = out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, 1)
        self.num_classes = num_classes
        self.in_channels = in_channels
        # channels-last convolutions are about 30 % faster on CPU (and suit AMP)
        self.to(memory_format=torch.channels_last)

    @property
    def feature_dim(self) -> int:
        """Length of the pooled feature vector ``f``."""
        return self.classifier.in_features

    def forward(self, probabilities: Tensor, image: Tensor) -> tuple[Tensor, Tensor]:
        """Score a probability map against its image.

        Args:
            probabilities: [B, num_classes, H, W].
            image: [B, in_channels, H, W], already rescaled to [0, 1].

        Returns:
            Logits [B] and pooled features ``f`` [B, feature_dim].
        """
        x = torch.cat([probabilities, image.to(probabilities.dtype)], dim=1)
        x = x.contiguous(memory_format=torch.channels_last)
        feature = self.features(x).mean(dim=(2, 3))
        logit = self.classifier(feature).squeeze(1)
        return logit, feature
