"""Image-level pseudo-labels: FixMatch's confidence rule and the multi-label cut-offs."""

import pytest
import torch
from torch.nn import functional as F

from torchgeo_als4gan.losses import image_pseudo_label_loss, image_pseudo_labels


def test_multiclass_keeps_confident_images() -> None:
    prob = torch.tensor([[0.96, 0.02, 0.02], [0.5, 0.4, 0.1], [0.0, 0.05, 0.95]])
    labels, weights = image_pseudo_labels(prob, multilabel=False, threshold=0.95)
    assert labels.tolist() == [0, 0, 2]
    assert weights.tolist() == [1.0, 0.0, 1.0]


def test_multilabel_cut_offs_of_the_paper() -> None:
    prob = torch.tensor([[0.04, 0.05, 0.06, 0.69, 0.7, 0.99]])
    targets, weights = image_pseudo_labels(prob, multilabel=True)
    assert targets.tolist() == [[0, 0, 0, 0, 1, 1]]
    # negatives at <= 0.05, positives at >= 0.7, the rest ignored
    assert weights.tolist() == [[1, 1, 0, 0, 1, 1]]
    with pytest.raises(ValueError, match='need 0 <= negative < positive <= 1'):
        image_pseudo_labels(prob, multilabel=True, negative=0.7, positive=0.7)


def test_loss_ignores_dropped_pseudo_labels_and_averages_over_all() -> None:
    logits = torch.randn(4, 3)
    targets = torch.tensor([0, 1, 2, 0])
    weights = torch.tensor([1.0, 0.0, 1.0, 0.0])
    loss = image_pseudo_label_loss(logits, targets, weights, multilabel=False)
    expected = F.cross_entropy(logits, targets, reduction='none')[[0, 2]].sum() / 4
    torch.testing.assert_close(loss, expected)
    changed = logits.clone()
    changed[[1, 3]] = torch.randn(2, 3) * 10
    torch.testing.assert_close(
        image_pseudo_label_loss(changed, targets, weights, multilabel=False), loss
    )
    # multi-label: per image-label pair
    logits = torch.randn(2, 3)
    targets = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    weights = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    per = F.binary_cross_entropy_with_logits(logits, targets, reduction='none')
    torch.testing.assert_close(
        image_pseudo_label_loss(logits, targets, weights, multilabel=True),
        (per * weights).sum() / 6,
    )
