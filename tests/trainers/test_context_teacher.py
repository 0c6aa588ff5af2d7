"""ContextTeacherTask: the student never reads the context, gradients go where intended."""

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import rasterio
import torch
import yaml

from torchgeo_als4gan.main import main
from torchgeo_als4gan.trainers import ContextTeacherTask


def task(**kwargs: Any) -> ContextTeacherTask:
    torch.manual_seed(0)
    options: dict[str, Any] = {
        'model': 'unet', 'backbone': 'resnet18', 'in_channels': 3, 'num_classes': 3,
        'threshold': 0.0, 'context_dim': 8, 'context_hidden': 16,
    }  # fmt: skip
    options.update(kwargs)
    return ContextTeacherTask(**options)


def batch(n: int, metadata: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    out = {
        'image': torch.randn(n, 3, 32, 32),
        'mask': torch.randint(0, 3, (n, 32, 32)),
        'metadata': torch.rand(n, 4) * 2 - 1 if metadata is None else metadata,
        'metadata_valid': torch.ones(n, dtype=torch.bool),
    }
    return out


def test_the_deployed_student_never_reads_the_context() -> None:
    model = task()
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    poisoned = {'image': x, 'metadata': torch.full((2, 4), float('nan'))}
    with torch.no_grad():
        plain = model(x)
        logits = model(poisoned['image'])
    assert torch.isfinite(logits).all()
    torch.testing.assert_close(logits, plain)
    # the evaluation step ignores metadata too: NaN context changes nothing
    model.val_metrics.reset()
    with torch.no_grad():
        evaluated = model._evaluation_step(
            {**batch(2, torch.full((2, 4), float('nan'))), 'image': x}, 'val'
        )
    torch.testing.assert_close(evaluated, plain)
    # while the context network does read it
    with torch.no_grad():
        a = model.context_model(x, torch.zeros(2, 4))
        torch.nn.init.normal_(model.context_model.film.to_scale_shift.weight)
        b = model.context_model(x, torch.ones(2, 4))
        c = model.context_model(x, -torch.ones(2, 4))
    torch.testing.assert_close(
        a, model.context_model.network(x)
    )  # FiLM starts as identity
    assert not torch.allclose(b, c)


def _grads(module: torch.nn.Module) -> float:
    return sum(
        float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None
    )


def test_teacher_and_student_get_their_intended_gradients() -> None:
    model = task(lambda_u=1.0, lambda_distill=1.0)
    model.train()
    labeled, unlabeled = batch(2), batch(2)
    losses = model.compute_losses(labeled, unlabeled, iteration=0)
    assert losses['loss_distill'] > 0
    losses['loss_distill'].backward(retain_graph=True)
    # distillation: the student and its projection learn, the context network does not
    assert _grads(model.model) > 0 and _grads(model.distill_projection) > 0
    assert _grads(model.context_model) == 0
    model.zero_grad()
    losses['loss_teacher'].backward(retain_graph=True)
    assert _grads(model.context_model.network) > 0
    assert _grads(model.context_model.film) > 0  # the conditioning learns
    assert _grads(model.model) == 0 and _grads(model.distill_projection) == 0
    model.zero_grad()
    losses['loss_student'].backward()
    assert _grads(model.model) > 0 and _grads(model.context_model) == 0
    # the EMAs are not trained directly
    assert all(not p.requires_grad for p in model.context_teacher.parameters())


def test_metadata_input_baseline_evaluates_the_context_network() -> None:
    model = task(deploy='context')
    model.eval()
    data = batch(2)
    with torch.no_grad():
        logits = model._evaluation_step(data, 'val')
        expected = model.context_teacher(
            data['image'], data['metadata'], data['metadata_valid']
        )
    torch.testing.assert_close(logits, expected)
    with pytest.raises(
        ValueError, match='deploy: context is the metadata-as-input baseline'
    ):
        model(data['image'])
    # the student is not trained in the baseline
    losses = model.compute_losses(batch(2), batch(2), 0)
    assert float(losses['loss_student']) == 0 and float(losses['loss_distill']) == 0


def test_bad_arguments_and_batches_without_metadata() -> None:
    with pytest.raises(ValueError, match="deploy must be 'student' or 'context'"):
        task(deploy='teacher')
    with pytest.raises(ValueError, match='lambda_distill must not be negative'):
        task(lambda_distill=-1.0)
    with pytest.raises(ValueError, match='calibrate_teacher is not supported'):
        task(calibrate_teacher=True)
    with pytest.raises(
        ValueError, match='context conditioning needs a model with an encoder'
    ):
        task(model='fcn')
    model = task()
    without = batch(2)
    del without['metadata']
    with pytest.raises(ValueError, match='needs batches with metadata .*context: true'):
        model.compute_losses(without, batch(2), 0)


def test_demo_metadata_experiment_runs_with_an_ood_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`als4gan demo-context` + the shipped experiment config, tiny: ID and OOD scores."""
    monkeypatch.chdir(tmp_path)
    main(
        [
            'demo-context',
            '--size',
            '192',
            '--epochs',
            '1',
            '--steps',
            '2',
            '--ratio',
            '0.1',
        ]
    )
    shipped = (
        Path(__file__).parents[2] / 'configs' / 'experiments' / 'demo_metadata.yaml'
    )
    config = yaml.safe_load(shipped.read_text())
    config['methods'] = {
        k: config['methods'][k] for k in ('self_training', 'context_teacher')
    }
    config['bootstrap_samples'] = 20
    path = tmp_path / 'experiment.yaml'
    path.write_text(yaml.safe_dump(config))
    main(['experiment', '--config', str(path)])
    results = pd.read_csv(
        tmp_path / 'demo_output' / 'context' / 'experiment' / 'results.csv'
    )
    assert sorted(results['method']) == ['context_teacher', 'self_training']
    assert results['test_miou'].between(0, 1).all()
    assert results['test_miou_ood'].between(0, 1).all()
    # every patch of the 2 held-out scenes (36 each in their own UTM zone, more
    # once warped to the first scene's CRS) is an OOD test item, for every method
    assert results['test_items_ood'].nunique() == 1
    assert results['test_items_ood'].iloc[0] >= 72
    assert (results['test_items'] < results['test_items_ood']).all()
    table = (
        tmp_path / 'demo_output' / 'context' / 'experiment' / 'results.md'
    ).read_text()
    assert 'Test set `ood` (extra_tests)' in table
    # the deployed student needs no metadata: predict-raster on a held-out scene
    checkpoint = results.loc[results['method'] == 'context_teacher', 'checkpoint'].iloc[
        0
    ]
    data = tmp_path / 'demo_output' / 'context' / 'data' / 'ood' / 'imagery'
    main(['predict-raster', '--checkpoint', checkpoint, '--input', str(data / 'dry_summer.tif'),
          '--output', str(tmp_path / 'predicted'), '--patch_size', '32', '--overlap', '8'])  # fmt: skip
    written = sorted((tmp_path / 'predicted').glob('dry_summer*.tif'))
    assert written, 'predict-raster wrote no GeoTIFF'
    with (
        rasterio.open(written[0]) as src,
        rasterio.open(data / 'dry_summer.tif') as ref,
    ):
        assert src.crs == ref.crs and src.shape == ref.shape
