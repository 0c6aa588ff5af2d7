"""Segmenter embeddings: BADGE equals the autograd gradient, pooling skips nodata."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from torchgeo_als4gan.active.embeddings import (
    ClassifierInput,
    badge_embedding,
    pooled_features,
    projection,
)


def test_badge_embedding_is_the_last_layer_gradient_with_predicted_labels() -> None:
    torch.manual_seed(0)
    head = nn.Conv2d(4, 3, 1)
    features = torch.randn(2, 4, 5, 6)
    valid = torch.rand(2, 5, 6) > 0.3
    logits = head(features)
    embedding = badge_embedding(logits.detach(), features, valid)
    for b in range(2):
        head.zero_grad()
        out = head(features[b : b + 1])
        target = out.argmax(dim=1).detach()
        loss = F.cross_entropy(out, target, reduction='none')[0][valid[b]].mean()
        loss.backward()
        assert head.weight.grad is not None
        expected = head.weight.grad[:, :, 0, 0].flatten()
        torch.testing.assert_close(embedding[b], expected, atol=1e-5, rtol=1e-4)


def test_confident_patches_embed_near_zero_and_uncertain_ones_far() -> None:
    features = torch.ones(2, 2, 3, 3)
    logits = torch.zeros(2, 3, 3, 3)
    logits[0, 1] = 30.0  # one-hot: nothing to learn
    norms = badge_embedding(logits, features).norm(dim=1)
    assert norms[0] < 1e-6 < norms[1]


def test_pooled_features_average_valid_pixels_at_the_features_resolution() -> None:
    features = torch.arange(16.0).reshape(1, 1, 4, 4)
    valid = torch.zeros(1, 8, 8, dtype=torch.bool)
    valid[0, :4, :4] = True  # the top-left quarter: features 0, 1, 4, 5
    assert pooled_features(features, valid).item() == pytest.approx(2.5)
    assert pooled_features(features).item() == pytest.approx(7.5)
    assert pooled_features(features, torch.zeros(1, 4, 4, dtype=torch.bool)).item() == 0


def test_projection_keeps_distances_roughly_and_is_seeded() -> None:
    torch.manual_seed(1)
    points = torch.randn(20, 512)
    matrix = projection(512, 256)
    assert torch.equal(matrix, projection(512, 256))
    before = torch.cdist(points, points)
    after = torch.cdist(points @ matrix, points @ matrix)
    off = ~torch.eye(20, dtype=torch.bool)
    ratio = after[off] / before[off]
    assert 0.75 < ratio.min() and ratio.max() < 1.25
    assert torch.equal(projection(6, 8), torch.eye(6))


def test_classifier_input_records_the_head_that_ran() -> None:
    student = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 4, 1))
    teacher = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.Conv2d(5, 4, 1))
    both = nn.ModuleDict({'student': student, 'teacher': teacher})
    image = torch.randn(1, 3, 6, 6)
    with ClassifierInput(both, 4) as hook:
        out = teacher(image)
    assert hook.features is not None and hook.features.shape == (1, 5, 6, 6)
    assert hook.logits is not None and torch.equal(hook.logits, out)
    student(image)  # hooks removed on exit: nothing recorded any more
    assert hook.features.shape[1] == 5
    with pytest.raises(ValueError, match='Sequential has no Conv2d with 7 output'):
        ClassifierInput(student, 7)
