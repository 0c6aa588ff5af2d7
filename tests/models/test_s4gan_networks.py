from pathlib import Path

import pytest
import timm
import torch

from torchgeo_als4gan.models import DeepLabV2, S4GANDiscriminator, rescale_to_unit
from torchgeo_als4gan.trainers.network import load_network_weights


@pytest.mark.parametrize('size', [(32, 32), (45, 70), (320, 320)])
def test_discriminator_any_size_and_bands(size: tuple[int, int]) -> None:
    disc = S4GANDiscriminator(num_classes=5, in_channels=4, width=8)
    logit, feature = disc(torch.rand(2, 5, *size), torch.rand(2, 4, *size))
    assert logit.shape == (2,) and feature.shape == (2, disc.feature_dim) == (2, 64)


def test_discriminator_layout() -> None:
    disc = S4GANDiscriminator(num_classes=6)
    convs = [m for m in disc.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    assert convs[0].in_channels == 6 + 3
    drops = [m for m in disc.features if isinstance(m, torch.nn.Dropout2d)]
    assert len(drops) == 3 and all(d.p == 0.5 for d in drops)
    relus = [m for m in disc.features if isinstance(m, torch.nn.LeakyReLU)]
    assert len(relus) == 4 and relus[0].negative_slope == 0.2


def test_rescale_to_unit_is_per_image() -> None:
    image = torch.stack([torch.rand(3, 4, 4) * 10 - 5, torch.rand(3, 4, 4) * 1000])
    out = rescale_to_unit(image)
    assert out.amin(dim=(2, 3)).abs().max() < 1e-6
    assert (out.amax(dim=(2, 3)) - 1).abs().max() < 1e-4
    # an image's result does not depend on the rest of the batch
    assert torch.allclose(rescale_to_unit(image[:1]), out[:1])
    assert torch.isfinite(rescale_to_unit(torch.ones(1, 2, 3, 3))).all()


def test_deeplabv2_output_stride_8_and_input_size() -> None:
    model = DeepLabV2('resnet18', in_channels=5, num_classes=4)
    assert model.encoder.feature_info.reduction()[-1] == 8
    rates = [b.dilation[0] for b in model.segmentation_head.branches]
    assert rates == [6, 12, 18, 24]
    x = torch.randn(1, 5, 41, 67)
    assert model(x).shape == (1, 4, 41, 67)
    # the head is the sum of its four branches
    features = model.encoder(x)[-1]
    summed = sum(b(features) for b in model.segmentation_head.branches)
    assert torch.allclose(model.segmentation_head(features), summed)


def test_deeplabv2_default_is_resnet101() -> None:
    model = DeepLabV2(num_classes=3)
    n_blocks = sum(1 for name, _ in model.encoder.named_children() if name == 'layer3')
    assert n_blocks == 1 and len(model.encoder.layer3) == 23  # ResNet-101


def test_backbone_weights_load_into_encoder(tmp_path: Path) -> None:
    source = timm.create_model('resnet18', num_classes=10)
    path = tmp_path / 'resnet18.pth'
    torch.save(source.state_dict(), path)
    model = DeepLabV2('resnet18', num_classes=3)
    report = load_network_weights(model, path)
    assert sorted(report.unexpected) == ['fc.bias', 'fc.weight'] and not report.missing
    assert torch.equal(model.encoder.conv1.weight, source.conv1.weight)
    torch.save({'other.weight': torch.zeros(2)}, path)
    with pytest.raises(ValueError, match='None of the 1 tensors'):
        load_network_weights(model, path)
