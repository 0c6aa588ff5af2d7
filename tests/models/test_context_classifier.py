"""Context-reading classifiers: the ViT metadata token and the CNN FiLM, and their students."""

import timm
import torch

from torchgeo_als4gan.models import (
    ContextReadingClassifier,
    PlaceholderClassifier,
    is_vision_transformer,
    vit_tokens_with_extra,
)


def tiny_vit() -> torch.nn.Module:
    torch.manual_seed(0)
    return timm.create_model(
        'vit_tiny_patch16_224', img_size=32, patch_size=8, depth=2, num_classes=4
    ).eval()


def tiny_cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return timm.create_model('resnet18', num_classes=4).eval()


def test_the_extra_token_leaves_the_vit_layout_as_is() -> None:
    vit = tiny_vit()
    assert is_vision_transformer(vit) and not is_vision_transformer(tiny_cnn())
    x = torch.randn(2, 3, 32, 32)
    token = torch.randn(2, vit.embed_dim)
    tokens, extra = vit_tokens_with_extra(vit, x, token)
    plain = vit.forward_features(x)
    assert tokens.shape == plain.shape and extra.shape == (2, vit.embed_dim)
    # the token acts through attention: the image tokens change with it
    other, _ = vit_tokens_with_extra(vit, x, -token)
    assert not torch.allclose(tokens, other)


def test_vit_teacher_reads_the_metadata_token() -> None:
    teacher = ContextReadingClassifier(tiny_vit(), 'mlp', dim=16, hidden=16).eval()
    x = torch.randn(2, 3, 32, 32)
    a = teacher(x, torch.ones(2, 4))
    b = teacher(x, -torch.ones(2, 4))
    assert a.shape == (2, 4) and not torch.allclose(a, b)
    # an invalid context is the learned "missing" token, whatever the values
    invalid = torch.zeros(2, dtype=torch.bool)
    torch.testing.assert_close(
        teacher(x, torch.ones(2, 4), invalid), teacher(x, -torch.ones(2, 4), invalid)
    )
    _, extra = teacher.forward_split(x, torch.ones(2, 4))
    assert extra.shape == (2, 192)


def test_cnn_teacher_starts_as_its_network_and_reads_the_context_through_film() -> None:
    network = tiny_cnn()
    teacher = ContextReadingClassifier(network, 'fourier', dim=8, hidden=16).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(teacher(x, torch.rand(2, 4)), network(x))
        torch.nn.init.normal_(teacher.film.to_scale_shift.weight)
        assert not torch.allclose(
            teacher(x, torch.ones(2, 4)), teacher(x, -torch.ones(2, 4))
        )


def test_students_take_no_metadata_and_keep_the_timm_interface() -> None:
    for network in (tiny_vit(), tiny_cnn()):
        student = PlaceholderClassifier(network).eval()
        x = torch.randn(2, 3, 32, 32)
        features = student.forward_features(x)
        embedding = student.forward_head(features, pre_logits=True)
        logits = student.get_classifier()(embedding)
        torch.testing.assert_close(student(x), logits)
        pooled, distill = student.forward_split(x)
        torch.testing.assert_close(pooled, embedding)
        assert distill.shape[1] in (192, 512)
    # the ViT student reads its learned placeholder, not a context
    vit_student = PlaceholderClassifier(tiny_vit()).eval()
    before = vit_student(x)
    with torch.no_grad():
        vit_student.placeholder.add_(torch.randn(192))  # a constant: gone in LayerNorm
    assert not torch.allclose(vit_student(x), before)
