"""``als4gan pretrain``: weights every consumer loads, collapse guard, resume, bad input."""

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning import LightningModule, Trainer

from tests.fixture_args import DATA_ARGS
from torchgeo_als4gan.main import main
from torchgeo_als4gan.models import HypercolumnSegmenter
from torchgeo_als4gan.pretrain import (
    CollapseGuard,
    PretrainingCollapsedError,
    embedding_std,
    knn_accuracy,
)
from torchgeo_als4gan.trainers import ActiveLearnerTask, S4GANTask, SelfTrainingTask

ROOT = Path(__file__).parents[2]
TINY = [
    '--trainer.accelerator=cpu', '--trainer.enable_progress_bar=false',
    '--trainer.enable_model_summary=false', '--batch_size=4',
    '--model.init_args.size=16',
]  # fmt: skip


def pretrain(output: Path, *extra: str) -> None:
    main([
        'pretrain', '--config', str(ROOT / 'configs' / 'raster_pretrain.yaml'),
        *DATA_ARGS['raster'], *TINY, f'--output={output}', *extra,
    ])  # fmt: skip


@pytest.fixture(scope='module')
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp('pretrain') / 'encoder.pt'
    pretrain(out, '--trainer.max_epochs=2')
    return out


def test_report_and_weights_file(weights: Path) -> None:
    report = json.loads(weights.with_suffix('.json').read_text())
    assert report['kind'] == 'als4gan-pretrain'
    assert report['backbone'] == 'resnet18' and report['in_channels'] == 3
    assert report['epochs'] == 2 and len(report['history']) == 2
    assert report['pool'] > 0 and report['final_loss'] > 0
    assert report['chosen_by'] == 'knn_accuracy'
    assert 0 < report['chosen']['embedding_std'] < 1
    content = torch.load(weights, weights_only=True)
    assert content['hyper_parameters'] == {'model': 'resnet18'}
    state = content['state_dict']
    assert 'model.conv1.weight' in state
    assert all(k.startswith('model.') and 'projection' not in k for k in state)


def test_every_consumer_loads_the_encoder_without_missing_keys(weights: Path) -> None:
    learner = ActiveLearnerTask(model='resnet18', weights=str(weights), num_classes=3)
    assert learner.weights_report is not None
    assert all(k.startswith('fc.') for k in learner.weights_report.missing)
    for task_class in (S4GANTask, SelfTrainingTask):
        task = task_class(
            model='unet', backbone='resnet18', weights=str(weights), in_channels=3,
            num_classes=3,
        )  # fmt: skip
        report = task.weights_report
        assert report is not None and not report.missing and len(report.loaded) > 100
        state = torch.load(weights, weights_only=True)['state_dict']
        torch.testing.assert_close(
            task.model.encoder.conv1.weight, state['model.conv1.weight']
        )
    # TorchGeo's own tasks read the file too (the supervised baseline)
    from torchgeo.trainers import SemanticSegmentationTask

    baseline = SemanticSegmentationTask(
        model='unet', backbone='resnet18', weights=str(weights), num_classes=3
    )
    torch.testing.assert_close(
        baseline.model.encoder.conv1.weight,
        torch.load(weights, weights_only=True)['state_dict']['model.conv1.weight'],
    )
    hypercolumn = HypercolumnSegmenter(
        backbone='resnet18', in_channels=3, num_classes=3, taps='stages',
        weights=str(weights),
    )  # fmt: skip
    assert hypercolumn.weights_report is not None
    assert not hypercolumn.weights_report.missing


def test_band_and_backbone_mismatches_are_refused(weights: Path) -> None:
    with pytest.raises(ValueError, match='pretrained on 3 bands .* this model takes 4'):
        ActiveLearnerTask(
            model='resnet18', weights=str(weights), in_channels=4, num_classes=3
        )
    with pytest.raises(ValueError, match="pretrained 'resnet18' encoder, but only"):
        ActiveLearnerTask(model='efficientnet_b0', weights=str(weights), num_classes=3)


def test_resume_continues_the_interrupted_run(tmp_path: Path) -> None:
    out = tmp_path / 'encoder.pt'
    pretrain(out, '--trainer.max_epochs=1')
    first = json.loads(out.with_suffix('.json').read_text())
    with pytest.raises(SystemExit, match='pass --overwrite true or --resume true'):
        pretrain(out, '--trainer.max_epochs=2')
    pretrain(out, '--trainer.max_epochs=2', '--resume=true')
    report = json.loads(out.with_suffix('.json').read_text())
    # the resumed run trained epoch 1 only, after the saved epoch 0
    assert first['epochs'] == 1 and report['epochs'] == 2
    assert [row['epoch'] for row in report['history']] == [1.0]


def test_a_collapsing_encoder_stops_the_run(tmp_path: Path) -> None:
    z = torch.randn(10, 8)
    assert embedding_std(z[:1].expand(10, 8)) == 0.0
    assert embedding_std(z) > 0.1
    labels = torch.tensor([0] * 5 + [1] * 5)
    separated = torch.cat([torch.ones(5, 2) + 0.01 * torch.randn(5, 2),
                           -torch.ones(5, 2) + 0.01 * torch.randn(5, 2)])  # fmt: skip
    assert knn_accuracy(separated, labels, k=3) == 1.0

    class OnePoint(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:  # every image: one point
            return torch.ones(len(x), 16)

    class Collapsed(LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))
            self.backbone = OnePoint()

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            return (self.weight**2).sum() + 1

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

        def train_dataloader(self) -> Any:
            return torch.utils.data.DataLoader([torch.zeros(1)] * 4, batch_size=2)

    guard = CollapseGuard(torch.randn(6, 3, 8, 8), None)
    trainer = Trainer(
        max_epochs=3, accelerator='cpu', logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[guard],
    )  # fmt: skip
    with pytest.raises(
        PretrainingCollapsedError, match='collapsed at epoch 0: embedding std 0.0000'
    ):
        trainer.fit(Collapsed())
    # through the command: a clear message, and no weights are exported
    out = tmp_path / 'encoder.pt'
    with pytest.raises(SystemExit, match='pretraining collapsed at epoch 0'):
        pretrain(out, '--trainer.max_epochs=2', '--collapse_std=1.0')
    assert not out.exists()


def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match='fewer than one batch of 500'):
        pretrain(tmp_path / 'a.pt', '--batch_size=500')
    with pytest.raises(
        SystemExit, match='pool images have 3 bands, the model in_channels is 4'
    ):
        pretrain(tmp_path / 'b.pt', '--model.init_args.in_channels=4')


def test_every_pretrain_config_parses() -> None:
    from torchgeo_als4gan.pretrain.cli import build_parser

    found = sorted(p.name for p in (ROOT / 'configs').glob('*_pretrain.yaml'))
    assert found == [
        f'{n}_pretrain.yaml' for n in ('deepglobe', 'demo', 'raster', 'ucm')
    ]
    for name in found:
        cfg = build_parser().parse_args(['--config', str(ROOT / 'configs' / name)])
        assert cfg.model.class_path.startswith('torchgeo.trainers.')
