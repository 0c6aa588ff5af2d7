"""DeepLab-v2: a dilated ResNet with the summed four-branch ASPP head."""

from typing import Any

import timm
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ('DeepLabV2', 'SummedASPP')


class SummedASPP(nn.Module):
    """Atrous spatial pyramid pooling of DeepLab-v2.

    Four parallel 3x3 convolutions with dilation rates 6/12/18/24 straight to class
    logits, summed (DeepLab-v3's variant concatenates and adds image pooling).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        rates: tuple[int, ...] = (6, 12, 18, 24),
    ) -> None:
        """Initialize a new SummedASPP.

        Args:
            in_channels: channels of the backbone features.
            num_classes: output classes.
            rates: dilation rates of the branches.
        """
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Conv2d(in_channels, num_classes, 3, padding=r, dilation=r) for r in rates
        )
        for conv in self.branches:
            assert isinstance(conv, nn.Conv2d)
            nn.init.normal_(conv.weight, std=0.01)
            assert conv.bias is not None
            nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Sum the branches.

        Args:
            x: features [B, C, h, w].

        Returns:
            Logits [B, num_classes, h, w].
        """
        out: Tensor = sum(branch(x) for branch in self.branches)
        return out


class DeepLabV2(nn.Module):
    """DeepLab-v2 (Chen et al., 2017) as used by S4GAN and ALS4GAN.

    A timm ResNet (default ResNet-101) run at output stride 8 (the last two stages
    dilated instead of strided), the :class:`SummedASPP` head, and bilinear
    upsampling of the logits to exactly the input size, so that predictions stay
    aligned with the image at any input size. Attribute names follow
    segmentation_models_pytorch (``encoder``, ``segmentation_head``), so backbone
    freezing and the 10x head learning rate treat it like TorchGeo's models.
    """

    def __init__(
        self,
        backbone: str = 'resnet101',
        in_channels: int = 3,
        num_classes: int = 2,
        output_stride: int = 8,
        pretrained: bool = False,
    ) -> None:
        """Initialize a new DeepLabV2.

        Args:
            backbone: a timm model supporting ``output_stride``
                (``resnet101``, ``resnet50``, ``resnet18``, ...).
            in_channels: input bands.
            num_classes: output classes.
            output_stride: 8 (paper) or 16.
            pretrained: timm's ImageNet weights (needs a download).
        """
        super().__init__()
        self.encoder = timm.create_model(
            backbone,
            pretrained=pretrained,
            features_only=True,
            output_stride=output_stride,
            out_indices=(-1,),
            in_chans=in_channels,
        )
        info: Any = self.encoder.feature_info
        channels = int(info.channels()[-1])
        self.segmentation_head = SummedASPP(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Predict class logits.

        Args:
            x: images [B, C, H, W].

        Returns:
            Logits [B, num_classes, H, W].
        """
        features = self.encoder(x)[-1]
        logits = self.segmentation_head(features)
        return F.interpolate(
            logits, size=x.shape[-2:], mode='bilinear', align_corners=False
        )
