"""Tile grids and streaming blending."""

import pytest
import torch

from torchgeo_als4gan.inference import (
    StreamingBlender,
    TileGrid,
    blend_weights,
    tile_offsets,
)


def test_tile_offsets_cover_and_end_at_the_edge() -> None:
    assert tile_offsets(1000, 512, 64) == [0, 448, 488]
    assert tile_offsets(960, 512, 64) == [0, 448]
    assert tile_offsets(512, 512, 64) == [0]
    assert tile_offsets(100, 512, 64) == [0]
    assert tile_offsets(10, 4, 0) == [0, 4, 6]


@pytest.mark.parametrize(
    ('size', 'patch', 'overlap'), [(0, 4, 0), (10, 4, 4), (10, 4, -1)]
)
def test_tile_offsets_reject_bad_arguments(size: int, patch: int, overlap: int) -> None:
    with pytest.raises(ValueError, match='must be'):
        tile_offsets(size, patch, overlap)


def test_blend_weights_are_smooth_positive_and_symmetric() -> None:
    w = blend_weights(64, 16)
    assert torch.all(w > 0)
    assert torch.allclose(w, w.flip(0))
    assert torch.all(w[16:48] == 1)
    assert torch.all(w[1:16] > w[:15])  # rising ramp
    assert float((w[1:] - w[:-1]).abs().max()) < 0.11  # no step
    assert torch.all(blend_weights(64, 0) == 1)


@pytest.mark.parametrize(
    ('height', 'width', 'patch', 'overlap'),
    [
        (100, 130, 32, 8),
        (20, 50, 32, 8),
        (64, 64, 32, 0),
        (97, 33, 32, 31),
        (33, 200, 16, 5),
    ],
)
def test_streaming_blend_equals_global_weighted_mean(
    height: int, width: int, patch: int, overlap: int
) -> None:
    grid = TileGrid(height, width, patch, overlap)
    blender = StreamingBlender(grid, 2)
    generator = torch.Generator().manual_seed(0)
    numerator = torch.zeros(2, height, width)
    denominator = torch.zeros(height, width)
    out = torch.full((2, height, width), float('nan'))
    for i, j in grid.tiles():
        values = torch.rand(2, grid.tile_height, grid.tile_width, generator=generator)
        y, x = grid.rows[i], grid.cols[j]
        numerator[:, y : y + grid.tile_height, x : x + grid.tile_width] += (
            values * blender.weights
        )
        denominator[y : y + grid.tile_height, x : x + grid.tile_width] += (
            blender.weights
        )
        window = blender.add(values)
        h, w = window.values.shape[1:]
        # every pixel is finished exactly once
        assert torch.isnan(
            out[:, window.row : window.row + h, window.col : window.col + w]
        ).all()
        out[:, window.row : window.row + h, window.col : window.col + w] = window.values
    assert blender.done
    assert not torch.isnan(out).any()
    torch.testing.assert_close(out, numerator / denominator)


def test_streaming_blender_checks_shape_and_end() -> None:
    grid = TileGrid(10, 10, 8, 2)
    blender = StreamingBlender(grid, 1)
    with pytest.raises(ValueError, match='shape'):
        blender.add(torch.zeros(2, 8, 8))
    for _ in range(len(grid)):
        blender.add(torch.zeros(1, 8, 8))
    with pytest.raises(ValueError, match='already added'):
        blender.add(torch.zeros(1, 8, 8))
