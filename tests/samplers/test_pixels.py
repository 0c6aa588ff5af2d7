"""Stratified pixel sampling for the hypercolumn pixels stage."""

import pytest
import torch

from torchgeo_als4gan.samplers import sample_pixels_per_class


def test_k_pixels_of_every_class_present_per_tile() -> None:
    masks = torch.zeros(2, 6, 6, dtype=torch.long)
    masks[0, :2] = 1  # 12 pixels of class 1
    masks[0, 5, 5] = 2  # a single pixel of class 2: fewer than k
    masks[0, 4, :] = 255  # ignored
    masks[1] = 2  # tile 1: class 2 only
    sample = sample_pixels_per_class(masks, 3, 3, 255, torch.Generator().manual_seed(0))
    pairs = list(zip(sample.batch.tolist(), sample.labels.tolist(), strict=True))
    assert pairs.count((0, 0)) == 3 and pairs.count((0, 1)) == 3
    assert pairs.count((0, 2)) == 1 and pairs.count((1, 2)) == 3
    assert sample.short.tolist() == [0, 0, 2]  # took the one pixel that exists
    # every chosen pixel has the class it is labelled with, none is ignored
    values = masks[sample.batch, sample.rows, sample.cols]
    assert torch.equal(values, sample.labels)
    again = sample_pixels_per_class(masks, 3, 3, 255, torch.Generator().manual_seed(0))
    assert torch.equal(again.rows, sample.rows) and torch.equal(again.cols, sample.cols)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match='pixels_per_class must be a positive integer'):
        sample_pixels_per_class(torch.zeros(1, 2, 2, dtype=torch.long), 0, 2)
    with pytest.raises(ValueError, match=r'masks must be \[B, H, W\]'):
        sample_pixels_per_class(torch.zeros(2, 2, dtype=torch.long), 1, 2)
    empty = sample_pixels_per_class(torch.full((1, 2, 2), 255), 2, 2)
    assert len(empty.rows) == 0
