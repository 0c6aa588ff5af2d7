from pathlib import Path

import pytest
import torch

from torchgeo_als4gan.active import get_strategy
from torchgeo_als4gan.trainers import ActiveLearnerTask


def task(**kwargs) -> ActiveLearnerTask:  # type: ignore[no-untyped-def]
    args = {'model': 'resnet18', 'num_classes': 4, 'mc_samples': 5}
    args.update(kwargs)
    return ActiveLearnerTask(**args)  # type: ignore[arg-type]


def test_local_weights_loaded_with_report(tmp_path: Path) -> None:
    source = task(num_classes=10)
    path = tmp_path / 'pretrained.ckpt'
    torch.save({'state_dict': source.state_dict()}, path)
    model = task(weights=str(path))
    report = model.weights_report
    assert report is not None
    assert sorted(report.mismatched) == ['fc.bias', 'fc.weight']  # 10 -> 4 classes
    assert len(report.loaded) > 50 and not report.unexpected
    assert torch.equal(model.model.conv1.weight, source.model.conv1.weight)
    assert model.weights == str(path)


def test_missing_weights_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='does not exist'):
        task(weights=str(tmp_path / 'nope.pth'))


def test_dropout_only_while_training() -> None:
    torch.manual_seed(0)
    model = task(dropout=0.5)
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    assert torch.equal(model(x), model(x))
    emb = model.embed(x)
    assert emb.shape == (2, 512)
    assert not torch.equal(model.head(emb, dropout=True), model.head(emb, dropout=True))


def test_score_batch_per_strategy() -> None:
    torch.manual_seed(0)
    model = task(dropout=0.3).eval()
    x = torch.randn(3, 3, 32, 32)
    index = torch.tensor([4, 5, 6])
    with torch.no_grad():
        probs = model.predict_step({'image': x}, 0)
        assert torch.allclose(probs.sum(1), torch.ones(3))
        model.query_strategy = get_strategy('entropy')
        out = model.predict_step({'image': x, 'index': index}, 0)
        expected = -(probs * probs.log()).sum(1)
        assert torch.allclose(out['score'], expected, atol=1e-5)
        assert torch.equal(out['index'], index) and 'embedding' not in out
        # BALD: seeded dropout masks, so the scores repeat exactly
        model.query_strategy = get_strategy('bald')
        first = model.predict_step({'image': x, 'index': index}, 0)['score']
        second = model.predict_step({'image': x, 'index': index}, 0)['score']
        assert torch.equal(first, second) and (first >= -1e-6).all()
        model.query_strategy = get_strategy('diversity')
        out = model.predict_step({'image': x, 'index': index}, 0)
        assert out['embedding'].shape == (3, 512) and 'score' not in out
        model.query_uncertainty = get_strategy('margin')
        assert 'score' in model.predict_step({'image': x, 'index': index}, 0)


def test_multilabel_scores_and_bad_arguments() -> None:
    model = task(task='multilabel', num_classes=None, num_labels=3, loss='bce').eval()
    assert model.multilabel
    model.query_strategy = get_strategy('margin')
    with torch.no_grad():
        out = model.score_batch(torch.randn(2, 3, 32, 32), torch.tensor([0, 1]))
    assert out['score'].shape == (2,) and (out['score'] <= 1).all()
    with pytest.raises(ValueError, match=r'dropout must be in \[0, 1\), got 1.0'):
        task(dropout=1.0)
    with pytest.raises(ValueError, match='mc_samples must be at least 2, got 1'):
        task(mc_samples=1)
    no_dropout = task(dropout=0.0)
    with pytest.raises(ValueError, match='BALD needs dropout > 0'):
        no_dropout.mc_probabilities(torch.zeros(1, 512), 0)
