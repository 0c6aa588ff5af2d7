"""Zoom-out over superpixels (Mostajabi et al. 2015): the seed's missing step.

Each tile is cut into SLIC superpixels (scikit-image). A superpixel is
described by its hypercolumns averaged at three zoom-out levels: over the
superpixel itself, over it and its adjacent superpixels (the neighbourhood),
and over the whole tile; the three means, concatenated, go through the MLP,
and the superpixel's class is painted back onto its pixels.

The means are taken after the first layer's projection (a mean of a linear map
is the linear map of the mean), so, as for the dense hypercolumns, no
4,227-channel map is built: each level's slice of the first layer projects
every tap at its own resolution, the projections are upsampled and averaged
per region.
"""

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn
from torch.nn import functional as F

from .hypercolumn import HypercolumnSegmenter

__all__ = ('ZoomOutSegmenter', 'neighbourhood_means', 'segment_means', 'slic_segments')

#: Zoom-out levels, in the order of the first layer's input blocks.
LEVELS = ('superpixel', 'neighbourhood', 'tile')


def slic_segments(
    image: Tensor, n_segments: int = 100, compactness: float = 10.0
) -> NDArray[np.int64]:
    """SLIC superpixels of one tile, labelled 0 .. S-1.

    Args:
        image: [C, H, W] (all bands are used, any band count; normalized values
            are rescaled to [0, 1] per band first).
        n_segments: approximate number of superpixels.
        compactness: SLIC's balance of colour and space.

    Returns:
        [H, W] segment labels, consecutive from 0.
    """
    from skimage.segmentation import slic

    array = image.detach().float().cpu().numpy()
    low = array.min(axis=(1, 2), keepdims=True)
    span = np.maximum(array.max(axis=(1, 2), keepdims=True) - low, 1e-6)
    scaled = (array - low) / span
    labels = slic(
        scaled, n_segments=n_segments, compactness=compactness, channel_axis=0,
        start_label=0, enforce_connectivity=True,
    )  # fmt: skip
    _, consecutive = np.unique(labels, return_inverse=True)
    return consecutive.reshape(labels.shape).astype(np.int64)


def segment_means(
    values: Tensor, segments: Tensor, count: int
) -> tuple[Tensor, Tensor]:
    """Mean of ``values`` over each segment.

    Args:
        values: [C, H, W].
        segments: [H, W] labels in 0 .. count-1.
        count: number of segments.

    Returns:
        Sums [count, C] divided by the pixel counts, and the counts [count].
    """
    flat = segments.flatten()
    sums = values.new_zeros(count, values.shape[0]).index_add_(
        0, flat, values.flatten(1).T
    )
    pixels = torch.bincount(flat, minlength=count).to(values.dtype)
    return sums / pixels.clamp_min(1)[:, None], pixels


def adjacency(segments: Tensor, count: int) -> Tensor:
    """Which segments touch (4-connectivity), each segment adjacent to itself.

    Args:
        segments: [H, W] labels.
        count: number of segments.

    Returns:
        [count, count] booleans.
    """
    touching = torch.eye(count, dtype=torch.bool, device=segments.device)
    for a, b in (
        (segments[:, :-1], segments[:, 1:]), (segments[:-1], segments[1:]),
    ):  # fmt: skip
        touching[a.flatten(), b.flatten()] = True
        touching[b.flatten(), a.flatten()] = True
    return touching


def neighbourhood_means(means: Tensor, pixels: Tensor, touching: Tensor) -> Tensor:
    """Mean over each segment and its neighbours (pixel-weighted: the union's mean).

    Args:
        means: [S, C] segment means.
        pixels: [S] pixel counts.
        touching: [S, S] adjacency (with the diagonal).

    Returns:
        [S, C].
    """
    weights = touching.to(means.dtype) * pixels[None, :]
    return (weights @ means) / weights.sum(dim=1, keepdim=True).clamp_min(1)


class ZoomOutSegmenter(HypercolumnSegmenter):
    """Hypercolumns averaged over superpixels, neighbourhoods and the tile; MLP per superpixel."""

    def __init__(
        self,
        backbone: str = 'vgg16',
        in_channels: int = 3,
        num_classes: int = 2,
        taps: str | Sequence[str] = 'convs',
        hidden: Sequence[int] = (1024, 1024),
        dropout: float = 0.5,
        weights: str | bool | None = None,
        include_image: bool = True,
        n_segments: int = 100,
        compactness: float = 10.0,
    ) -> None:
        """Initialize a new ZoomOutSegmenter.

        Args:
            backbone: a timm model name.
            in_channels: input bands (SLIC uses all of them).
            num_classes: classes.
            taps: see :func:`~torchgeo_als4gan.models.tap_names`.
            hidden: MLP hidden sizes.
            dropout: MLP dropout.
            weights: backbone weights (see :class:`HypercolumnSegmenter`).
            include_image: the image is part of each hypercolumn.
            n_segments: approximate superpixels per tile.
            compactness: SLIC compactness.
        """
        super().__init__(
            backbone, in_channels, num_classes, taps, hidden, dropout, weights,
            include_image,
        )  # fmt: skip
        channels = self.feature_channels
        first = self.head[0]
        assert isinstance(first, nn.Conv2d)
        self.head[0] = nn.Conv2d(len(LEVELS) * channels, first.out_channels, 1)
        self.n_segments = n_segments
        self.compactness = compactness

    def _first_layer(self) -> tuple[Tensor, Tensor]:
        """Per level, the weights with the z-scoring folded in (stacked), and the bias."""
        first = self.head[0]
        assert isinstance(first, nn.Conv2d) and first.bias is not None
        mean, std = self.get_buffer('feature_mean'), self.get_buffer('feature_std')
        blocks = first.weight.flatten(1).chunk(len(LEVELS), dim=1)
        weights = [block / std for block in blocks]
        stacked = torch.stack(weights)
        bias = first.bias - (stacked @ mean).sum(dim=0)
        return stacked, bias

    def _projections(self, x: Tensor, weights: Tensor) -> Tensor:
        """Each level's projection of the hypercolumns, upsampled: [levels, B, hidden, H, W]."""
        size = x.shape[-2:]
        total: Tensor | None = None
        for feature, (start, stop) in zip(
            self.tap_features(x), self._slices(), strict=True
        ):
            levels = weights[:, :, start:stop].flatten(0, 1)[:, :, None, None]
            part = F.conv2d(feature, levels)
            if part.shape[-2:] != size:
                part = F.interpolate(
                    part, size=size, mode='bilinear', align_corners=False
                )
            total = part if total is None else total + part
        assert total is not None
        batch, _, height, width = total.shape
        shaped = total.reshape(batch, len(LEVELS), -1, height, width)
        return shaped.transpose(0, 1)

    def segments(self, x: Tensor) -> Tensor:
        """SLIC superpixels of every tile: [B, H, W] labels."""
        found = [
            torch.from_numpy(slic_segments(tile, self.n_segments, self.compactness))
            for tile in x
        ]  # fmt: skip
        return torch.stack(found).to(x.device)

    def forward(self, x: Tensor, segments: Tensor | None = None) -> Tensor:
        """Logits at the input size, constant over each superpixel.

        Args:
            x: images [B, C, H, W].
            segments: [B, H, W] superpixel labels (None: SLIC on ``x``).

        Returns:
            Logits [B, classes, H, W].
        """
        if segments is None:
            segments = self.segments(x)
        weights, bias = self._first_layer()
        projected = self._projections(x, weights)
        out = []
        for b in range(x.shape[0]):
            labels = segments[b]
            count = int(labels.max()) + 1
            own, pixels = segment_means(projected[0, b], labels, count)
            around, _ = segment_means(projected[1, b], labels, count)
            around = neighbourhood_means(around, pixels, adjacency(labels, count))
            tile = projected[2, b].mean(dim=(1, 2))
            z = self._rest(own + around + tile + bias)  # [S, classes]
            out.append(z[labels].permute(2, 0, 1))
        return torch.stack(out)
