import math

import pytest
import torch
from torch.nn import functional as F

from torchgeo_als4gan.losses import (
    discriminator_loss,
    feature_matching_loss,
    one_hot_mask,
    self_training_loss,
)


def test_self_training_zero_when_no_score_exceeds_threshold() -> None:
    logits = torch.randn(3, 4, 5, 6, requires_grad=True)
    loss, fraction = self_training_loss(logits, torch.tensor([0.2, 0.6, 0.59]), 0.6)
    assert loss.item() == 0.0 and fraction.item() == 0.0
    loss.backward()  # still part of the graph
    assert logits.grad is not None and logits.grad.abs().sum() == 0


def test_self_training_equals_plain_ce_on_selected_images() -> None:
    torch.manual_seed(0)
    logits = torch.randn(4, 3, 5, 7)
    scores = torch.tensor([0.9, 0.1, 0.95, 0.5])
    loss, fraction = self_training_loss(logits, scores, 0.6)
    chosen = logits[[0, 2]]
    expected = F.cross_entropy(chosen, chosen.argmax(dim=1))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert fraction.item() == 0.5
    # pseudo-labels are the argmax: confident logits give a small loss
    assert self_training_loss(logits * 100, scores, 0.6)[0] < loss / 10


def test_self_training_gradient_only_through_selected_images() -> None:
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    loss, _ = self_training_loss(logits, torch.tensor([0.1, 0.8]), 0.5)
    loss.backward()
    assert logits.grad is not None
    assert logits.grad[0].abs().sum() == 0 and logits.grad[1].abs().sum() > 0


def test_feature_matching() -> None:
    features = torch.randn(5, 8)
    assert feature_matching_loss(features, features.clone()).item() == 0.0
    # same batch mean, different samples: still zero
    shuffled = features[torch.tensor([4, 3, 2, 1, 0])]
    assert feature_matching_loss(features, shuffled).item() == pytest.approx(
        0, abs=1e-6
    )
    real = torch.zeros(2, 4)
    fake = torch.tensor([[1.0, -2.0, 0.0, 4.0], [1.0, 2.0, 0.0, 0.0]])
    # batch means: [1, 0, 0, 2] -> mean |diff| = 3 / 4
    assert feature_matching_loss(real, fake).item() == pytest.approx(0.75)


def test_one_hot_ignore_pixels_are_all_zero() -> None:
    mask = torch.tensor([[[0, 2], [255, 1]]])
    one_hot = one_hot_mask(mask, 3)
    assert one_hot.shape == (1, 3, 2, 2)
    assert one_hot[0, :, 1, 0].tolist() == [0, 0, 0]
    assert one_hot[0, :, 0, 1].tolist() == [0, 0, 1]
    assert one_hot.sum(dim=1).tolist() == [[[1, 1], [0, 1]]]


def test_discriminator_loss_is_half_bce() -> None:
    zero = torch.zeros(4)
    assert discriminator_loss(zero, zero).item() == pytest.approx(math.log(2))
    good = discriminator_loss(torch.full((3,), 20.0), torch.full((2,), -20.0))
    bad = discriminator_loss(torch.full((3,), -20.0), torch.full((2,), 20.0))
    assert good.item() < 1e-6 and bad.item() == pytest.approx(20.0, rel=1e-3)
