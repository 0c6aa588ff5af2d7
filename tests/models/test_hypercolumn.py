"""HypercolumnSegmenter: taps, the 4,227 VGG16 channels, dense = concatenate-then-1x1, pixels."""

import pytest
import torch
from torch.nn import functional as F

from torchgeo_als4gan.models import HypercolumnSegmenter


@pytest.fixture(scope='module')
def vgg() -> HypercolumnSegmenter:
    torch.manual_seed(0)
    model = HypercolumnSegmenter('vgg16', 3, 4, hidden=(16, 8))
    # z-scoring that is not the identity, to check it is folded in correctly
    model.feature_mean.uniform_(-1, 1)
    model.feature_std.uniform_(0.5, 2)
    return model.eval()


def concatenated(model: HypercolumnSegmenter, x: torch.Tensor) -> torch.Tensor:
    """The naive hypercolumn map: every tap upsampled, concatenated, z-scored."""
    size = x.shape[-2:]
    maps = [
        F.interpolate(f, size=size, mode='bilinear', align_corners=False)
        for f in model.tap_features(x)
    ]
    full = torch.cat(maps, dim=1)
    return (full - model.feature_mean[:, None, None]) / model.feature_std[:, None, None]


def test_vgg16_every_convolution_gives_4227_channels(vgg: HypercolumnSegmenter) -> None:
    assert len(vgg.taps) == 13 and vgg.taps[0] == 'features.0'
    assert vgg.tap_channels == [64] * 2 + [128] * 2 + [256] * 3 + [512] * 6
    assert vgg.feature_channels == 3 + 2 * 64 + 2 * 128 + 3 * 256 + 6 * 512 == 4227
    shapes = [f.shape for f in vgg.tap_features(torch.zeros(1, 3, 64, 64))]
    assert shapes[1][-1] == 64 and shapes[-1][-1] == 4  # before VGG's last pooling


@pytest.mark.parametrize('size', [(37, 45), (32, 32), (19, 64)])
def test_dense_projection_equals_concatenate_then_1x1(
    vgg: HypercolumnSegmenter, size: tuple[int, int]
) -> None:
    torch.manual_seed(1)
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        logits = vgg(x)
        expected = vgg._rest(vgg.head[0](concatenated(vgg, x)))
    assert logits.shape == (2, 4, *size)  # stride 1: exactly the input size
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


def test_sampled_pixels_equal_the_dense_map(vgg: HypercolumnSegmenter) -> None:
    torch.manual_seed(2)
    x = torch.randn(2, 3, 37, 45)
    rows, cols = torch.tensor([0, 5, 36, 10, 20]), torch.tensor([0, 44, 3, 20, 7])
    batch = torch.tensor([0, 1, 1, 0, 1])
    with torch.no_grad():
        dense = vgg(x)[batch, :, rows, cols]
        pixels = vgg.forward_pixels(x, rows, cols, batch)
        columns = vgg.hypercolumns(x, rows, cols, batch)
        full = torch.cat(
            [F.interpolate(f, size=(37, 45), mode='bilinear', align_corners=False)
             for f in vgg.tap_features(x)], dim=1,
        )  # fmt: skip
    torch.testing.assert_close(pixels, dense, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(
        columns, full[batch, :, rows, cols], atol=1e-4, rtol=1e-4
    )


def test_taps_bands_and_bad_names() -> None:
    stages = HypercolumnSegmenter('resnet18', 5, 3, taps='stages', hidden=(8,))
    assert stages.taps == ['act1', 'layer1', 'layer2', 'layer3', 'layer4']
    assert stages.feature_channels == 5 + 64 + 64 + 128 + 256 + 512
    assert stages(torch.randn(1, 5, 33, 31)).shape == (1, 3, 33, 31)
    chosen = HypercolumnSegmenter(
        'vgg16',
        3,
        2,
        taps=['features.28', 'features.2'],
        hidden=(8,),
        include_image=False,
    )
    assert (
        chosen.taps == ['features.2', 'features.28'] and chosen.feature_channels == 576
    )
    with pytest.raises(
        ValueError,
        match=r"taps \['features.99'\] are not layers .* convolutions are \['features.0'",
    ):
        HypercolumnSegmenter('vgg16', 3, 2, taps=['features.99'])
    with pytest.raises(ValueError, match="taps must be 'convs', 'stages'"):
        HypercolumnSegmenter('vgg16', 3, 2, taps='all')


def test_memory_aware_dense_path_works_in_bands_of_rows(
    vgg: HypercolumnSegmenter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bands of rows, never the 4,227-channel map nor a full-size hidden map; same logits."""
    x = torch.randn(1, 3, 40, 40)
    with torch.no_grad():
        whole = vgg(x)  # one band: 40 rows x 40 x 16 < 16 M values
    seen: list[tuple[int, ...]] = []
    real = F.grid_sample

    def spy(
        t: torch.Tensor, grid: torch.Tensor, *args: object, **kwargs: object
    ) -> torch.Tensor:
        out = real(t, grid, *args, **kwargs)  # type: ignore[arg-type]
        seen.append(tuple(out.shape))
        return out

    monkeypatch.setattr(F, 'grid_sample', spy)
    monkeypatch.setattr(vgg, 'chunk_elements', 16 * 40 * 3)  # 3 rows per band
    with torch.no_grad():
        banded = vgg(x)
    torch.testing.assert_close(banded, whole, atol=1e-5, rtol=1e-5)
    # bands of 3 rows: of the hidden width, or one tap's own channels (<= 512)
    channels = {s[1] for s in seen}
    assert channels <= {16, *vgg.tap_channels} and max(channels) <= 512
    assert max(s[2] for s in seen) == 3
