import math

import pytest
import torch

from torchgeo_als4gan.active import pixel_entropy, pixel_margin, region_impurity


def one_hot_map(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """[B, H, W] class map -> one-hot probabilities [B, C, H, W]."""
    return torch.nn.functional.one_hot(labels, num_classes).permute(0, 3, 1, 2).float()


def test_uniform_scores_one_and_one_hot_zero() -> None:
    uniform = torch.full((2, 4, 5, 5), 0.25)
    confident = one_hot_map(torch.randint(0, 4, (2, 5, 5)), 4)
    assert torch.allclose(pixel_entropy(uniform), torch.ones(2))
    assert torch.allclose(pixel_entropy(confident), torch.zeros(2), atol=1e-6)
    assert torch.allclose(pixel_margin(uniform), torch.zeros(2))
    assert torch.allclose(pixel_margin(confident), torch.ones(2))


def test_only_valid_pixels_count() -> None:
    probs = one_hot_map(torch.zeros(1, 4, 4, dtype=torch.long), 3)
    probs[:, :, :2] = 1 / 3  # top half uniform
    valid = torch.zeros(1, 4, 4, dtype=torch.bool)
    valid[:, 2:] = True  # only the confident half counts
    assert float(pixel_entropy(probs)) == pytest.approx(0.5)
    assert float(pixel_entropy(probs, valid)) == pytest.approx(0.0, abs=1e-6)
    none = pixel_entropy(probs, torch.zeros_like(valid))
    assert math.isnan(float(none))  # no valid pixel: never chosen


def test_margin_of_a_known_pixel() -> None:
    probs = torch.tensor([0.6, 0.3, 0.1]).view(1, 3, 1, 1)
    assert float(pixel_margin(probs)) == pytest.approx(0.3)


def test_region_impurity_single_class_window_is_zero() -> None:
    # uncertain (p = 0.5 / 0.5 but argmax always class 0) and one predicted class
    probs = torch.zeros(1, 2, 6, 6)
    probs[:, 0], probs[:, 1] = 0.51, 0.49
    assert float(region_impurity(probs)) == pytest.approx(0.0, abs=1e-6)


def test_region_impurity_peaks_on_boundaries_of_uncertain_regions() -> None:
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    labels[:, :, 4:] = 1  # a vertical class boundary
    sharp = one_hot_map(labels, 2)
    soft = 0.6 * sharp + 0.4 * (1 - sharp)  # same argmax, uncertain
    # a one-hot segmenter is certain: impurity x uncertainty = 0
    assert float(region_impurity(sharp)) == pytest.approx(0.0, abs=1e-6)
    score = float(region_impurity(soft, k=1, top=0.25))
    # the top quarter are the 16 boundary pixels: 3 x 3 window with 3 / 6 split
    # (or 6 / 3) -> impurity H(1/3) in bits, uncertainty H(0.4) in bits
    h = lambda p: -(p * math.log2(p) + (1 - p) * math.log2(1 - p))  # noqa: E731
    assert score == pytest.approx(h(1 / 3) * h(0.4), rel=1e-5)
    assert float(region_impurity(soft, top=1.0)) < score


def test_bad_arguments() -> None:
    probs = torch.full((1, 2, 3, 3), 0.5)
    with pytest.raises(ValueError, match='top must be in'):
        region_impurity(probs, top=0)
    with pytest.raises(ValueError, match='k must be'):
        region_impurity(probs, k=-1)
    with pytest.raises(ValueError, match=r'\[B, C, H, W\]'):
        pixel_entropy(torch.ones(3, 3))
    with pytest.raises(ValueError, match='valid must be'):
        pixel_entropy(probs, torch.ones(1, 2, 2, dtype=torch.bool))
