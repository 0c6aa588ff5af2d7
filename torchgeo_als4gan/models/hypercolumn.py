"""Hypercolumns (Hariharan et al. 2015) / zoom-out features (Mostajabi et al. 2015).

Every pixel is described by the activations of many layers of a CNN at that
place (VGG16's 13 convolutions: 3 + 2x64 + 2x128 + 3x256 + 6x512 = 4,227 values
with the image) and classified by an MLP. Memory-aware, after PixelNet
(Bansal et al. 2017):

* at chosen pixels (:meth:`HypercolumnSegmenter.forward_pixels`, training from
  a few pixels per tile) every tap is sampled with ``grid_sample`` at those
  pixels only;
* densely (:meth:`HypercolumnSegmenter.forward`), each tap is first projected
  by its slice of the MLP's first layer at its own resolution and then
  upsampled: both are linear, so this equals upsampling every tap,
  concatenating and applying the layer, without the full 4,227-channel map.

Upsampling is bilinear (``align_corners=False``) and sampling uses the same
convention (``grid_sample`` with border padding), so the two paths give the
same values at a pixel. The MLP's layers are 1x1 convolutions used by both
paths: a model trained on pixels is already the dense model. The output is at
exactly the input size, for any input size and band count.
"""

import itertools
import os
from collections.abc import Sequence
from typing import Any

import timm
import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ('HypercolumnSegmenter', 'tap_names')


def tap_names(backbone: nn.Module, taps: str | Sequence[str]) -> list[str]:
    """The module names a tap choice stands for.

    Args:
        backbone: a timm model.
        taps: ``convs`` (every convolution of the feature extractor, before its
            activation), ``stages`` (timm's ``feature_info`` outputs) or module
            names.

    Returns:
        The module names, in network order.

    Raises:
        ValueError: If a name is not a module of the backbone (the valid
            convolution names are listed) or the choice is empty.
    """
    modules = dict(backbone.named_modules())
    head = ('fc', 'classifier', 'head', 'pre_logits')
    convs = [
        name for name, module in modules.items()
        if isinstance(module, nn.Conv2d) and name.split('.')[0] not in head
    ]  # fmt: skip
    if taps == 'convs':
        names = convs
    elif taps == 'stages':
        names = [info['module'] for info in getattr(backbone, 'feature_info', [])]
    elif isinstance(taps, str):
        msg = f"taps must be 'convs', 'stages' or a list of layer names, got {taps!r}"
        raise ValueError(msg)
    else:
        names = list(taps)
        unknown = [n for n in names if n not in modules or not n]
        if unknown:
            msg = (
                f'taps {unknown} are not layers of the backbone; its convolutions'
                f' are {convs}'
            )
            raise ValueError(msg)
        order = list(modules)
        names = sorted(names, key=order.index)
    if not names:
        msg = f'taps {taps!r} select no layer of the backbone'
        raise ValueError(msg)
    return names


class _TapsDoneError(Exception):
    """Raised by the last tap's hook: the backbone's forward stops there."""


def _store(module: nn.Module, inputs: Any, output: Tensor) -> None:
    module.__dict__['_tap_output'] = output


def _store_and_stop(module: nn.Module, inputs: Any, output: Tensor) -> None:
    module.__dict__['_tap_output'] = output
    raise _TapsDoneError  # the rest of the backbone is not needed (nor computed)


class HypercolumnSegmenter(nn.Module):
    """Per-pixel MLP over upsampled activations of many backbone layers."""

    def __init__(
        self,
        backbone: str = 'vgg16',
        in_channels: int = 3,
        num_classes: int = 2,
        taps: str | Sequence[str] = 'convs',
        hidden: Sequence[int] = (1024, 1024),
        dropout: float = 0.5,
        weights: str | os.PathLike[str] | bool | None = None,
        include_image: bool = True,
    ) -> None:
        """Initialize a new HypercolumnSegmenter.

        Args:
            backbone: a timm model name.
            in_channels: input bands.
            num_classes: classes.
            taps: ``convs``, ``stages`` or a list of layer names (see
                :func:`tap_names`).
            hidden: sizes of the MLP's hidden layers (the seed: 1024, 1024).
            dropout: dropout after each hidden layer.
            weights: True for timm's hub weights (online), a local weights file
                of the backbone, or None (random initialization).
            include_image: the (normalized) image is part of the hypercolumn.

        Raises:
            ValueError: If ``hidden`` is empty or a tap is unknown.
        """
        super().__init__()
        if not hidden:
            msg = 'hidden must name at least one hidden layer size'
            raise ValueError(msg)
        self.backbone = timm.create_model(
            backbone, pretrained=weights is True, in_chans=in_channels, num_classes=0
        )
        self.weights_report: Any = None
        if isinstance(weights, str | os.PathLike):
            from .weights import load_local_weights

            self.weights_report = load_local_weights(self.backbone, weights)
        self.taps = tap_names(self.backbone, taps)
        for head in ('pre_logits', 'head', 'fc', 'classifier'):
            # never run (the forward stops at the last tap): drop their weights
            # (VGG16's pre_logits alone holds 103 M parameters)
            if isinstance(getattr(self.backbone, head, None), nn.Module) and not any(
                t.split('.')[0] == head for t in self.taps
            ):
                setattr(self.backbone, head, nn.Identity())
        self.include_image = include_image
        self.in_channels = in_channels
        modules = dict(self.backbone.named_modules())
        for name in self.taps:
            # module-level hooks that keep the output on the module: copies of
            # the model (EMA teachers) keep working hooks of their own
            last = name == self.taps[-1]
            modules[name].register_forward_hook(_store_and_stop if last else _store)
        self.tap_channels = self._probe_channels()
        widths = [*hidden, num_classes]
        first = nn.Conv2d(self.feature_channels, widths[0], 1)
        self.head = nn.ModuleList(
            [first] + [nn.Conv2d(a, b, 1) for a, b in itertools.pairwise(widths)]
        )
        self.dropout = dropout
        #: Values of the hidden width per band of the dense forward (4 M: 16 MiB
        #: in float32); taps whose projection has at most 4x as many values are
        #: projected once at their own resolution.
        self.chunk_elements = 4 * 2**20
        #: Per-channel mean and std of the hypercolumns (z-scoring; identity
        #: until set, e.g. from training pixels by the pixels stage).
        self.register_buffer('feature_mean', torch.zeros(self.feature_channels))
        self.register_buffer('feature_std', torch.ones(self.feature_channels))

    def _probe_channels(self) -> list[int]:
        training = self.backbone.training
        self.backbone.eval()
        with torch.no_grad():
            found = self.tap_features(torch.zeros(1, self.in_channels, 64, 64))
        self.backbone.train(training)
        if self.include_image:
            found = found[1:]
        return [int(f.shape[1]) for f in found]

    @property
    def feature_channels(self) -> int:
        """Length of a hypercolumn (image bands included when ``include_image``)."""
        return sum(self.tap_channels) + (self.in_channels if self.include_image else 0)

    def tap_features(self, x: Tensor) -> list[Tensor]:
        """The tapped activations (image first when ``include_image``), at their own sizes.

        Args:
            x: images [B, C, H, W].

        Returns:
            One feature map per tap.
        """
        forward_features: Any = self.backbone.forward_features
        try:
            forward_features(x)
        except _TapsDoneError:
            pass
        modules = dict(self.backbone.named_modules())
        found = []
        for name in self.taps:
            found.append(modules[name].__dict__.pop('_tap_output'))
        return [x, *found] if self.include_image else found

    def _slices(self) -> list[tuple[int, int]]:
        widths = ([self.in_channels] if self.include_image else []) + self.tap_channels
        bounds, start = [], 0
        for width in widths:
            bounds.append((start, start + width))
            start += width
        return bounds

    def _first_layer(self) -> tuple[Tensor, Tensor]:
        """The first layer's weights and bias with the z-scoring folded in."""
        first = self.head[0]
        assert isinstance(first, nn.Conv2d) and first.bias is not None
        mean, std = self.get_buffer('feature_mean'), self.get_buffer('feature_std')
        weight = first.weight.flatten(1) / std
        bias = first.bias - weight @ mean
        return weight, bias

    def _rest(self, z: Tensor) -> Tensor:
        for layer in self.head[1:]:
            assert isinstance(layer, nn.Conv2d)
            z = F.dropout(F.relu(z), self.dropout, self.training)
            if z.ndim == 2:  # pixels: the same 1x1 convolution as a linear layer
                z = F.linear(z, layer.weight.flatten(1), layer.bias)
            else:
                z = layer(z)
        return z

    def forward(self, x: Tensor) -> Tensor:
        """Dense logits at the input size, computed in bands of rows.

        Each tap is projected by its slice of the first layer (at its own
        resolution when that projection is small, else band by band); then,
        band by band (about :attr:`chunk_elements` values of the hidden width
        per band), the taps are upsampled (bilinear, by ``grid_sample`` at the
        band's pixel centres: the same values as ``interpolate``), summed and
        run through the rest of the MLP. The largest new tensor is one band of
        the hidden width, whatever the image size.

        Args:
            x: images [B, C, H, W].

        Returns:
            Logits [B, classes, H, W].
        """
        weight, bias = self._first_layer()
        batch, _, height, width = x.shape
        hidden = weight.shape[0]
        # a tap whose projection is small is projected at its own resolution,
        # once; a large one (the full-resolution taps) is sampled band by band
        # and projected there, so no full-size map of the hidden width exists
        taps: list[tuple[Tensor, Tensor | None]] = []
        for feature, (start, stop) in zip(
            self.tap_features(x), self._slices(), strict=True
        ):
            slice_ = weight[:, start:stop, None, None]
            small = batch * hidden * feature.shape[-2] * feature.shape[-1]
            if small <= 4 * self.chunk_elements:
                taps.append((F.conv2d(feature, slice_), None))
            else:
                taps.append((feature, slice_))
        rows_per_band = max(1, self.chunk_elements // max(hidden * width * batch, 1))
        gx = (
            2 * (torch.arange(width, device=x.device, dtype=x.dtype) + 0.5) / width
        ) - 1
        bands = []
        for top in range(0, height, rows_per_band):
            rows = torch.arange(top, min(top + rows_per_band, height), device=x.device)
            gy = (2 * (rows.to(x.dtype) + 0.5) / height) - 1
            grid = torch.stack(torch.meshgrid(gy, gx, indexing='ij')[::-1], dim=-1)
            total = bias[None, :, None, None].expand(batch, -1, len(rows), width)
            for part, projection in taps:
                if part.shape[-2:] == (height, width):
                    part = part[:, :, top : top + len(rows)]
                else:
                    part = F.grid_sample(
                        part, grid[None].expand(batch, -1, -1, -1).to(part.dtype),
                        mode='bilinear', padding_mode='border', align_corners=False,
                    )  # fmt: skip
                if projection is not None:
                    part = F.conv2d(part, projection)
                total = total + part
            bands.append(self._rest(total))
        return torch.cat(bands, dim=2)

    def hypercolumns(
        self, x: Tensor, rows: Tensor, cols: Tensor, batch: Tensor
    ) -> Tensor:
        """Raw hypercolumns at chosen pixels, sampled from every tap.

        Args:
            x: images [B, C, H, W].
            rows: pixel rows [N].
            cols: pixel columns [N].
            batch: image index of each pixel [N].

        Returns:
            [N, feature_channels] in fp32, equal to the upsampled taps at those
            pixels.
        """
        height, width = x.shape[-2:]
        gx = (2 * (cols.float() + 0.5) / width) - 1
        gy = (2 * (rows.float() + 0.5) / height) - 1
        columns = []
        for feature in self.tap_features(x):
            grid = torch.stack([gx, gy], dim=-1).to(feature.dtype)
            picked = []
            for b in range(x.shape[0]):  # one grid per image: its own pixels
                mine = batch == b
                if mine.any():
                    sampled = F.grid_sample(
                        feature[b : b + 1], grid[mine][None, None], mode='bilinear',
                        padding_mode='border', align_corners=False,
                    )  # fmt: skip
                    picked.append((mine.nonzero()[:, 0], sampled[0, :, 0].T))
            # fp32 whatever the autocast dtype of the tap (grid_sample is fp32
            # under autocast; the z-scoring statistics are measured on these)
            out = feature.new_zeros(len(rows), feature.shape[1], dtype=torch.float32)
            for index, values in picked:
                out[index] = values.float()
            columns.append(out)
        return torch.cat(columns, dim=1)

    def forward_pixels(
        self, x: Tensor, rows: Tensor, cols: Tensor, batch: Tensor
    ) -> Tensor:
        """Logits at chosen pixels only (no dense map).

        Args:
            x: images [B, C, H, W].
            rows: pixel rows [N].
            cols: pixel columns [N].
            batch: image index of each pixel [N].

        Returns:
            Logits [N, classes].
        """
        weight, bias = self._first_layer()
        z = F.linear(self.hypercolumns(x, rows, cols, batch), weight, bias)
        return self._rest(z)
