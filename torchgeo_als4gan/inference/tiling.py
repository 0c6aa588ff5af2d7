"""Streaming blending of overlapping tile outputs into finished windows."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..samplers.tiles import TileGrid

__all__ = ('BlendedWindow', 'StreamingBlender', 'blend_weights', 'crop_tiles')


def blend_weights(length: int, overlap: int) -> Tensor:
    """1-D blending weights: a sine-squared ramp over ``overlap`` pixels at each end.

    Weights are 1 in the middle and fall smoothly towards the tile edges without
    reaching 0, so a pixel seen by a single tile (e.g. at the raster border)
    keeps its prediction and neighbouring tiles fade into each other without a
    step. With no overlap every weight is 1.

    Args:
        length: tile side in pixels.
        overlap: ramp length in pixels.

    Returns:
        Float tensor [length].
    """
    weights = torch.ones(length, dtype=torch.float64)
    ramp = min(overlap, length // 2)
    if ramp > 0:
        t = (torch.arange(ramp, dtype=torch.float64) + 0.5) / ramp
        up = torch.sin(t * math.pi / 2) ** 2
        weights[:ramp] = up
        weights[length - ramp :] = up.flip(0)
    return weights.float()


@dataclass(frozen=True)
class BlendedWindow:
    """A finished part of the raster: blended values of every pixel in it.

    Attributes:
        row: top row in the raster.
        col: left column in the raster.
        values: weighted means [K, h, w] of the channels given to the blender.
    """

    row: int
    col: int
    values: Tensor


class StreamingBlender:
    """Blend overlapping tile outputs into finished windows, in bounded memory.

    Tiles must be added in row-major order (as :meth:`TileGrid.tiles`). Since
    tiles extend right and down from their offsets, once tile (i, j) is added
    the window from its top-left corner to the next tile's offsets is covered
    by no later tile: it is returned at once, normalized by the sum of weights.
    What a tile contributes beyond that window is carried: to the right until
    the next tile, and downwards (one overlap-high strip across the raster
    width) until the next tile row. Memory is therefore one tile plus one
    overlap strip, independent of the raster height.
    """

    def __init__(
        self, grid: TileGrid, channels: int, device: torch.device | str = 'cpu'
    ) -> None:
        """Initialize a new StreamingBlender.

        Args:
            grid: the tile grid.
            channels: channels of each tile output (e.g. class probabilities).
            device: where blending runs (the model's device).
        """
        self.grid = grid
        self.channels = channels
        self.device = torch.device(device)
        self.rows, self.cols = grid.rows, grid.cols
        self.height, self.width = grid.tile_height, grid.tile_width
        ramp_y = grid.overlap if len(self.rows) > 1 else 0
        ramp_x = grid.overlap if len(self.cols) > 1 else 0
        self.weights = torch.outer(
            blend_weights(self.height, ramp_y), blend_weights(self.width, ramp_x)
        ).to(self.device)
        self._next = (0, 0)
        self._right: Tensor | None = None
        self._down: Tensor | None = None
        self._next_down: Tensor | None = None
        self._taken = 0

    @property
    def done(self) -> bool:
        """Whether every tile has been added."""
        return self._next[0] == len(self.rows)

    def add(self, values: Tensor) -> BlendedWindow:
        """Add the output of the next tile.

        Args:
            values: [channels, tile_height, tile_width] output of the tile at
                the next position in row-major order (cropped to the raster).

        Returns:
            The window this tile finishes.

        Raises:
            ValueError: If the shape is wrong or all tiles were already added.
        """
        k = self.channels
        expected = (k, self.height, self.width)
        if tuple(values.shape) != expected:
            msg = f'tile output must have shape {expected}, got {tuple(values.shape)}'
            raise ValueError(msg)
        if self.done:
            msg = 'all tiles of the grid were already added'
            raise ValueError(msg)
        i, j = self._next
        y, x = self.rows[i], self.cols[j]
        acc = torch.empty(k + 1, self.height, self.width, device=self.device)
        acc[:k] = values.to(self.device, torch.float32) * self.weights
        acc[k] = self.weights
        if j == 0:
            self._taken = 0
            if i + 1 < len(self.rows):
                below = self.height - (self.rows[i + 1] - y)
                self._next_down = acc.new_zeros(k + 1, below, self.grid.width)
        if self._right is not None:
            acc[:, :, : self._right.shape[2]] += self._right
        if self._down is not None:
            start, stop = max(self._taken, x), x + self.width
            acc[:, : self._down.shape[1], start - x :] += self._down[:, :, start:stop]
            self._taken = stop
        finished_rows = self.rows[i + 1] - y if i + 1 < len(self.rows) else self.height
        finished_cols = self.cols[j + 1] - x if j + 1 < len(self.cols) else self.width
        self._right = acc[:, :, finished_cols:] if j + 1 < len(self.cols) else None
        if self._next_down is not None and i + 1 < len(self.rows):
            self._next_down[:, :, x : x + finished_cols] = acc[
                :, finished_rows:, :finished_cols
            ]
        out = acc[:, :finished_rows, :finished_cols]
        window = BlendedWindow(y, x, out[:k] / out[k])
        if j + 1 < len(self.cols):
            self._next = (i, j + 1)
        else:
            self._next = (i + 1, 0)
            self._down, self._next_down = self._next_down, None
            self._right = None
        return window


def crop_tiles(batch: Tensor, grid: TileGrid) -> Sequence[Tensor]:
    """Crop model outputs of padded tiles to the part inside the raster.

    Args:
        batch: [B, K, patch, patch] outputs.
        grid: the grid.

    Returns:
        B tensors [K, tile_height, tile_width].
    """
    return list(batch[:, :, : grid.tile_height, : grid.tile_width].unbind(0))
