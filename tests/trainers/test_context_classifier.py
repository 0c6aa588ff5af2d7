"""ContextClassifierTask: the paper's classification setting of spatiotemporal SSL."""

from typing import Any

import pytest
import torch

from torchgeo_als4gan.trainers import ContextClassifierTask


def task(**kwargs: Any) -> ContextClassifierTask:
    torch.manual_seed(0)
    options: dict[str, Any] = {
        'model': 'resnet18', 'in_channels': 3, 'num_classes': 3, 'threshold': 0.0,
        'context_dim': 8, 'context_hidden': 16, 'dropout': 0.0,
    }  # fmt: skip
    options.update(kwargs)
    return ContextClassifierTask(**options)


def batch(
    n: int, metadata: torch.Tensor | None = None, labels: int = 3
) -> dict[str, Any]:
    return {
        'image': torch.randn(n, 3, 32, 32),
        'label': torch.randint(0, labels, (n,)),
        'metadata': torch.rand(n, 4) * 2 - 1 if metadata is None else metadata,
        'metadata_valid': torch.ones(n, dtype=torch.bool),
    }


def _grads(module: torch.nn.Module) -> float:
    return sum(
        float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None
    )


@pytest.mark.parametrize('model', ['resnet18', 'vit'])
def test_the_deployed_student_never_reads_the_context(model: str) -> None:
    kwargs: dict[str, Any] = {'model': model}
    if model == 'vit':
        kwargs = {'model': 'vit_tiny_patch16_224'}
    classifier = task(**kwargs)
    if model == 'vit':  # a tiny ViT for 32 px images, built the same way
        import timm

        from torchgeo_als4gan.models import (
            ContextReadingClassifier,
            PlaceholderClassifier,
        )
        from torchgeo_als4gan.trainers.ema import frozen_copy

        net = timm.create_model(
            'vit_tiny_patch16_224', img_size=32, patch_size=8, depth=1, num_classes=3
        )
        classifier.context_model = ContextReadingClassifier(net, 'mlp', 8, 16)
        classifier.model = PlaceholderClassifier(net)
        classifier.student_ema = frozen_copy(classifier.model)
        classifier.context_ema = frozen_copy(classifier.context_model)
    classifier.eval()
    data = batch(2, torch.full((2, 4), float('nan')))
    with torch.no_grad():
        plain = classifier(data['image'])
        evaluated = classifier.evaluation_logits(data)
    assert torch.isfinite(evaluated).all()
    torch.testing.assert_close(evaluated, plain)
    # in training too: the student's logits do not change with the metadata
    classifier.train()
    outputs = []
    for metadata in (torch.zeros(2, 4), torch.ones(2, 4)):
        torch.manual_seed(1)
        labeled, unlabeled = batch(2, metadata), batch(2, metadata)
        torch.manual_seed(2)
        outputs.append(classifier.compute_losses(labeled, unlabeled, 0)['logits_l'])
    torch.testing.assert_close(outputs[0], outputs[1])


def test_teacher_and_student_get_their_intended_gradients() -> None:
    model = task(lambda_u=1.0, lambda_distill=1.0)
    model.train()
    losses = model.compute_losses(batch(2), batch(2), 0)
    assert losses['loss_distill'] > 0 and float(losses['kept_fraction']) == 1.0
    losses['loss_distill'].backward(retain_graph=True)
    # distillation: the student and its projection learn, the teacher does not
    assert _grads(model.model.network) > 0 and _grads(model.model.projection) > 0
    assert _grads(model.context_model) == 0
    model.zero_grad()
    losses['loss_teacher'].backward(retain_graph=True)
    assert _grads(model.context_model.network) > 0
    assert _grads(model.context_model.film) > 0  # the conditioning learns
    assert _grads(model.model) == 0
    model.zero_grad()
    losses['loss_student'].backward()
    assert _grads(model.model) > 0 and _grads(model.context_model) == 0
    assert all(not p.requires_grad for p in model.context_ema.parameters())
    assert all(not p.requires_grad for p in model.student_ema.parameters())


def test_pseudo_labels_come_from_the_teacher_with_the_metadata() -> None:
    model = task(threshold=0.9)
    model.train()
    with torch.no_grad():
        torch.nn.init.normal_(model.context_model.film.to_scale_shift.weight, std=5.0)
    torch.manual_seed(3)
    labeled, unlabeled = batch(4), batch(4)
    with torch.no_grad():
        embedding = model.context_model.forward_split(
            unlabeled['image'], unlabeled['metadata'], unlabeled['metadata_valid']
        )[0]
        prob = model.context_model.get_classifier()(embedding).softmax(dim=-1)
    losses = model.compute_losses(labeled, unlabeled, 0)
    expected = (prob.max(dim=-1).values >= 0.9).float().mean()
    torch.testing.assert_close(losses['kept_fraction'], expected)
    hits = (prob.argmax(-1) == unlabeled['label']) & (prob.max(-1).values >= 0.9)
    accuracy = hits.sum() / max(int(expected * 4), 1)
    torch.testing.assert_close(losses['pseudo_label_accuracy'], accuracy.float())


def test_multilabel_uses_the_cut_offs() -> None:
    model = task(
        task='multilabel', num_classes=None, num_labels=3, loss='bce',
        negative_threshold=0.05, positive_threshold=0.7,
    )  # fmt: skip
    model.train()
    labeled = batch(2)
    labeled['label'] = torch.tensor([[1, 0, 1], [0, 1, 0]])
    unlabeled = batch(2)
    del unlabeled['label']
    losses = model.compute_losses(labeled, unlabeled, 0)
    # an untrained sigmoid sits near 0.5: nothing passes either cut-off
    assert float(losses['kept_fraction']) == 0.0
    assert 'pseudo_label_accuracy' not in losses
    assert torch.isfinite(losses['loss'])


def test_metadata_input_baseline_evaluates_the_teacher() -> None:
    model = task(deploy='context')
    model.eval()
    data = batch(2)
    with torch.no_grad():
        logits = model.evaluation_logits(data)
        expected = model.context_ema(
            data['image'], data['metadata'], data['metadata_valid']
        )
    torch.testing.assert_close(logits, expected)
    with pytest.raises(ValueError, match='deploy: context is the metadata-as-input'):
        model(data['image'])
    model.train()
    losses = model.compute_losses(batch(2), batch(2), 0)
    assert float(losses['loss_student']) == 0 and float(losses['loss_distill']) == 0


def test_bad_arguments_and_batches_without_metadata() -> None:
    with pytest.raises(ValueError, match="deploy must be 'student' or 'context'"):
        task(deploy='teacher')
    with pytest.raises(ValueError, match='lambda_distill must not be negative'):
        task(lambda_distill=-1.0)
    with pytest.raises(ValueError, match='need 0 <= negative_threshold'):
        task(negative_threshold=0.8, positive_threshold=0.7)
    with pytest.raises(ValueError, match='ema_decay must be in'):
        task(ema_decay=1.0)
    model = task()
    without = batch(2)
    del without['metadata']
    with pytest.raises(
        ValueError, match='ContextClassifierTask needs batches with metadata'
    ):
        model.compute_losses(without, None, 0)


def test_ema_follows_after_each_optimizer_step() -> None:
    model = task(ema_decay=0.5)
    model.train()
    with torch.no_grad():
        for p in model.model.parameters():
            p.add_(1.0)
    # the shared hook: outside a trainer no update came before, so the first
    # update makes a copy
    assert model.ema_updates == 0
    model.update_teachers()
    for ema, net in zip(
        model.student_ema.parameters(), model.model.parameters(), strict=True
    ):
        torch.testing.assert_close(ema, net)
    assert {id(a) for a, _ in model.ema_pairs()} == {
        id(model.student_ema),
        id(model.context_ema),
    }
