"""Zoom-out over superpixels: region means on known segments, equal to the naive pooling."""

import torch
from torch.nn import functional as F

from torchgeo_als4gan.models.zoomout import (
    ZoomOutSegmenter,
    adjacency,
    neighbourhood_means,
    segment_means,
    slic_segments,
)


def known_segments() -> torch.Tensor:
    """Three vertical bands of a 4 x 6 tile: columns 0-1, 2-3 (touching both), 4-5."""
    return torch.tensor([[0, 0, 1, 1, 2, 2]] * 4)


def test_means_over_segments_and_neighbourhoods() -> None:
    values = torch.arange(24, dtype=torch.float32).reshape(1, 4, 6)
    means, pixels = segment_means(values, known_segments(), 3)
    # column means 9..14 -> band means 9.5, 11.5, 13.5
    torch.testing.assert_close(means[:, 0], torch.tensor([9.5, 11.5, 13.5]))
    assert pixels.tolist() == [8, 8, 8]
    touching = adjacency(known_segments(), 3)
    assert touching.tolist() == [
        [True, True, False],
        [True, True, True],
        [False, True, True],
    ]
    around = neighbourhood_means(means, pixels, touching)
    # band 0 with band 1: 10.5; band 1 with both: 11.5; band 2 with band 1: 12.5
    torch.testing.assert_close(around[:, 0], torch.tensor([10.5, 11.5, 12.5]))


def test_slic_finds_a_two_colour_split_on_any_band_count() -> None:
    image = torch.zeros(5, 32, 32)
    image[:, :, 16:] = 1.0  # two flat halves, 5 bands
    labels = slic_segments(image, n_segments=4, compactness=0.1)
    left, right = set(labels[:, :16].ravel()), set(labels[:, 16:].ravel())
    assert left and right and not left & right  # no superpixel crosses the edge
    assert sorted(left | right) == list(range(len(left | right)))  # labels 0 .. S-1


def test_pooled_logits_equal_the_mlp_on_concatenated_zoom_out_features() -> None:
    torch.manual_seed(0)
    model = ZoomOutSegmenter('resnet18', 3, 4, taps='stages', hidden=(8,)).eval()
    model.feature_mean.uniform_(-1, 1)
    model.feature_std.uniform_(0.5, 2)
    x = torch.randn(1, 3, 4, 6)
    segments = known_segments()[None]
    with torch.no_grad():
        logits = model(x, segments)
        full = torch.cat([
            F.interpolate(f, size=(4, 6), mode='bilinear', align_corners=False)
            for f in model.tap_features(x)
        ], dim=1)[0]  # fmt: skip
        z = (full - model.feature_mean[:, None, None]) / model.feature_std[
            :, None, None
        ]
        own, pixels = segment_means(z, segments[0], 3)
        around = neighbourhood_means(own, pixels, adjacency(segments[0], 3))
        tile = z.mean(dim=(1, 2)).expand(3, -1)
        features = torch.cat([own, around, tile], dim=1)
        first = model.head[0]
        expected = model._rest(F.linear(features, first.weight.flatten(1), first.bias))
    assert logits.shape == (1, 4, 4, 6)
    for segment in range(3):  # one prediction per superpixel, painted on its pixels
        where = segments[0] == segment
        torch.testing.assert_close(
            logits[0][:, where], expected[segment][:, None].expand(-1, int(where.sum())),
            atol=1e-4, rtol=1e-4,
        )  # fmt: skip
