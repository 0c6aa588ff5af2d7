import math

import pytest
import torch

from torchgeo_als4gan.losses import (
    adaptive_thresholds,
    confidence_statistics,
    entropy_drop_share,
    entropy_filter,
    pixel_entropy,
    pseudo_labels,
    ramp,
    weighted_cross_entropy,
)


def probabilities(*pixels: list[float]) -> torch.Tensor:
    """[1, C, 1, N] from N pixels' class distributions."""
    return torch.tensor(pixels).T[None, :, None, :]


def test_per_class_thresholds_apply_to_the_pseudo_label() -> None:
    prob = probabilities([0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.97, 0.03])
    _, weights = pseudo_labels(prob, 'threshold', threshold=torch.tensor([0.95, 0.65]))
    assert weights.flatten().tolist() == [0.0, 0.0, 1.0, 1.0]


def test_confidence_statistics_are_moving_averages_over_valid_pixels() -> None:
    prob = probabilities([0.8, 0.2], [0.4, 0.6], [0.0, 1.0])
    valid = torch.tensor([[[True, True, False]]])
    mean, per_class = confidence_statistics(
        prob, valid, torch.tensor(0.5), torch.tensor([0.5, 0.5]), momentum=0.75
    )
    # batch: mean max p = (0.8 + 0.6) / 2 = 0.7; class means (0.6, 0.4)
    torch.testing.assert_close(mean, torch.tensor(0.75 * 0.5 + 0.25 * 0.7))
    torch.testing.assert_close(per_class, torch.tensor([0.525, 0.475]))
    none = torch.zeros_like(valid)
    same, same_class = confidence_statistics(prob, none, mean, per_class, momentum=0.75)
    assert torch.equal(same, mean) and torch.equal(same_class, per_class)


def test_adaptive_thresholds_lower_the_rare_classes() -> None:
    thresholds = adaptive_thresholds(torch.tensor(0.8), torch.tensor([0.6, 0.3, 0.1]))
    torch.testing.assert_close(thresholds, torch.tensor([0.8, 0.4, 0.8 / 6]))
    capped = adaptive_thresholds(torch.tensor(0.99), torch.tensor([0.5, 0.5]), 0.9)
    assert capped.tolist() == pytest.approx([0.9, 0.9])


def test_threshold_and_soft_weights() -> None:
    prob = probabilities([0.96, 0.04], [0.3, 0.7], [0.5, 0.5], [0.05, 0.95])
    labels, weights = pseudo_labels(prob, 'threshold', threshold=0.95)
    assert labels.flatten().tolist() == [0, 1, 0, 1]
    assert weights.flatten().tolist() == [1.0, 0.0, 0.0, 1.0]  # >= threshold kept
    _, soft = pseudo_labels(prob, 'soft', gamma=2.0)
    torch.testing.assert_close(
        soft.flatten(), torch.tensor([0.96, 0.7, 0.5, 0.95]) ** 2
    )


def test_entropy_filter_drops_exactly_the_intended_share() -> None:
    torch.manual_seed(0)
    prob = torch.rand(2, 4, 10, 10).softmax(dim=1)
    valid = torch.ones(2, 10, 10, dtype=torch.bool)
    valid[0, :5] = False  # 150 valid pixels
    keep = entropy_filter(prob, valid, 0.2)
    assert int(keep.sum()) == 150 - 30 and not (keep & ~valid).any()
    entropy = pixel_entropy(prob)
    # every dropped valid pixel is more uncertain than every kept one
    assert entropy[valid & ~keep].min() >= entropy[keep].max()
    assert torch.equal(entropy_filter(prob, valid, 0.0), valid)


def test_entropy_share_decays_linearly_to_zero() -> None:
    assert entropy_drop_share(0, 100) == pytest.approx(0.2)
    assert entropy_drop_share(50, 100) == pytest.approx(0.1)
    assert entropy_drop_share(100, 100) == 0.0 and entropy_drop_share(150, 100) == 0.0


def test_pixel_entropy_bounds() -> None:
    uniform = torch.full((1, 5, 2, 2), 0.2)
    assert torch.allclose(pixel_entropy(uniform), torch.full((1, 2, 2), math.log(5)))
    one_hot = torch.zeros(1, 5, 2, 2)
    one_hot[:, 2] = 1
    assert torch.allclose(pixel_entropy(one_hot), torch.zeros(1, 2, 2), atol=1e-6)


def test_weighted_cross_entropy_means_over_valid_pixels() -> None:
    logits = torch.zeros(1, 2, 1, 4)  # CE = log 2 everywhere
    labels = torch.zeros(1, 1, 4, dtype=torch.long)
    weights = torch.tensor([[[1.0, 0.0, 0.5, 1.0]]])
    valid = torch.tensor([[[True, True, True, False]]])
    loss = weighted_cross_entropy(logits, labels, weights, valid)
    assert float(loss) == pytest.approx(math.log(2) * 1.5 / 3)


def test_ramp() -> None:
    assert [ramp(i, 2, 4) for i in range(8)] == [0, 0, 0.25, 0.5, 0.75, 1, 1, 1]
    assert ramp(0, 0, 0) == 1.0


def test_images_are_the_one_by_one_case_of_pixels() -> None:
    prob = torch.tensor([[0.97, 0.03], [0.6, 0.4], [0.1, 0.9]])
    labels, weights = pseudo_labels(prob, 'threshold', threshold=0.95)
    pixels, pixel_weights = pseudo_labels(prob[:, :, None, None], 'threshold', 0.95)
    assert labels.tolist() == [0, 0, 1] and weights.tolist() == [1.0, 0.0, 0.0]
    assert pixels[:, 0, 0].tolist() == labels.tolist()
    assert pixel_weights[:, 0, 0].tolist() == weights.tolist()


def test_gate_weighs_whole_images() -> None:
    prob = torch.full((3, 2, 2, 2), 0.5)
    prob[:, 0] = 0.99
    prob[:, 1] = 0.01
    _, weights = pseudo_labels(
        prob, 'threshold', 0.95, gate=torch.tensor([1, 0, 1]) > 0
    )
    assert weights.sum(dim=(1, 2)).tolist() == [4.0, 0.0, 4.0]
    _, soft = pseudo_labels(prob, 'soft', gamma=1.0, gate=torch.tensor([0.5, 1.0, 0.0]))
    torch.testing.assert_close(soft[:, 0, 0], torch.tensor([0.495, 0.99, 0.0]))
