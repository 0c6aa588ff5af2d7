"""Throughput options on every task: bf16, channels-last and compile match fp32."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from lightning import (
    Callback,
    LightningDataModule,
    LightningModule,
    Trainer,
    seed_everything,
)
from lightning.pytorch.utilities import CombinedLoader
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchgeo.trainers import SemanticSegmentationTask

from tests.fixture_args import DATA_ARGS
from torchgeo_als4gan.inference import load_segmentation_checkpoint
from torchgeo_als4gan.main import main
from torchgeo_als4gan.trainers import (
    ActiveLearnerTask,
    ContextTeacherTask,
    HypercolumnTask,
    S4GANTask,
    SelfTrainingTask,
)
from torchgeo_als4gan.trainers.speed import TrainingSpeed, check_compile_backend

ROOT = Path(__file__).parents[2]


class Tiles(Dataset[dict[str, Tensor]]):
    """Seeded random tiles with every key a task may read."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.image = torch.randn(n, 3, 32, 32, generator=g)
        self.mask = torch.randint(0, 3, (n, 32, 32), generator=g)
        self.label = torch.randint(0, 3, (n,), generator=g)
        self.metadata = torch.rand(n, 4, generator=g) * 2 - 1

    def __len__(self) -> int:
        return len(self.image)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {
            'image': self.image[i], 'mask': self.mask[i], 'label': self.label[i],
            'metadata': self.metadata[i], 'metadata_valid': torch.tensor(True),
        }  # fmt: skip


class TilesDataModule(LightningDataModule):
    def __init__(self, semi: bool) -> None:
        super().__init__()
        self.semi = semi

    def train_dataloader(self) -> Any:
        labeled = DataLoader(Tiles(8, 0), batch_size=4)
        if not self.semi:
            return labeled
        unlabeled = DataLoader(Tiles(8, 1), batch_size=4)
        return CombinedLoader(
            {'labeled': labeled, 'unlabeled': unlabeled}, 'max_size_cycle'
        )


class FirstLoss(Callback):
    def __init__(self) -> None:
        self.loss: float | None = None

    def on_train_batch_end(self, trainer: Trainer, *args: Any) -> None:
        if self.loss is None:
            self.loss = float(trainer.callback_metrics['train_loss'])


SEG: dict[str, Any] = {'model': 'unet', 'backbone': 'resnet18', 'num_classes': 3}
SEMI: dict[str, Any] = {**SEG, 'max_iterations': 10, 'threshold': 0.0}
#: name -> (task factory, reads labelled + unlabelled batches, optimizer steps a batch)
TASKS: dict[str, tuple[Callable[[], LightningModule], bool, int]] = {
    'supervised (TorchGeo)': (lambda: SemanticSegmentationTask(**SEG), False, 1),
    's4gan': (lambda: S4GANTask(**SEG, max_iterations=10), True, 2),
    'self-training': (lambda: SelfTrainingTask(**SEMI, unsup_warmup=0), True, 1),
    'context teacher': (
        lambda: ContextTeacherTask(**SEMI, unsup_warmup=0, context_dim=4),
        True,
        1,
    ),
    'hypercolumn (dense stage)': (
        lambda: HypercolumnTask(
            backbone='resnet18', num_classes=3, hidden=[16], stage='dense'
        ),
        False,
        1,
    ),
    'active learner': (
        lambda: ActiveLearnerTask(model='resnet18', num_classes=3, mc_samples=2),
        False,
        1,
    ),
}


def first_loss(
    name: str, tmp_path: Path, callbacks: list[Callback] | None = None, **kwargs: Any
) -> tuple[float, LightningModule, Trainer]:
    make, semi, steps = TASKS[name]
    seed_everything(0, workers=True)
    task = make()
    recorder = FirstLoss()
    trainer = Trainer(
        accelerator='cpu', devices=1, logger=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path, max_steps=steps,
        enable_checkpointing=False,
        limit_val_batches=0, num_sanity_val_steps=0,
        callbacks=[recorder, *(callbacks or [])], **kwargs,
    )  # fmt: skip
    trainer.fit(task, TilesDataModule(semi))
    assert recorder.loss is not None
    return recorder.loss, task, trainer


#: option -> (the trainer's arguments, tolerance of the first loss)
OPTIONS: dict[str, tuple[Callable[[], dict[str, Any]], float]] = {
    'bf16-mixed': (lambda: {'precision': 'bf16-mixed'}, 0.05),
    # another summation order in the convolutions: equal to rounding
    'channels_last': (lambda: {'callbacks': [TrainingSpeed(channels_last=True)]}, 1e-3),
    'compile': (
        lambda: {
            'callbacks': [
                TrainingSpeed(compile_network=True, compile_backend='aot_eager')
            ]
        },
        1e-3,
    ),
}


@pytest.mark.parametrize('name', list(TASKS))
@pytest.mark.parametrize('option', list(OPTIONS))
def test_an_option_gives_the_fp32_loss(name: str, option: str, tmp_path: Path) -> None:
    arguments, tolerance = OPTIONS[option]
    reference, _, _ = first_loss(name, tmp_path / 'fp32')
    loss, task, trainer = first_loss(name, tmp_path / 'option', **arguments())
    assert loss == pytest.approx(reference, rel=tolerance, abs=tolerance)
    assert loss != 0.0
    speed = [c for c in trainer.callbacks if isinstance(c, TrainingSpeed)]  # type: ignore[attr-defined]
    if speed and speed[0].channels_last:
        conv = next(m for m in task.modules() if isinstance(m, torch.nn.Conv2d))
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    if speed and speed[0].compile_network:
        assert 'model' in speed[0].compiled
        assert task.model._compiled_call_impl is not None  # type: ignore[union-attr]


def test_a_checkpoint_saved_under_one_option_loads_under_another(
    tmp_path: Path,
) -> None:
    options = TrainingSpeed(
        channels_last=True, compile_network=True, compile_backend='aot_eager'
    )
    _, task, trainer = first_loss('self-training', tmp_path, [options])
    path = tmp_path / 'fast.ckpt'
    trainer.save_checkpoint(path)
    state = torch.load(path, weights_only=False)['state_dict']
    assert not any('_orig_mod' in key for key in state)  # the plain network's keys
    plain = SelfTrainingTask.load_from_checkpoint(path)
    x = torch.randn(2, 3, 32, 32)
    task.eval()
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(plain(x), task(x), rtol=1e-4, atol=1e-4)
    plain.train()
    # and the plain checkpoint trains on under channels-last + bf16
    resumed = Trainer(
        accelerator='cpu', logger=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path, max_steps=2,
        enable_checkpointing=False, precision='bf16-mixed', callbacks=[TrainingSpeed(channels_last=True)],
    )  # fmt: skip
    resumed.fit(plain, TilesDataModule(True), ckpt_path=path)
    assert plain.global_step == 2


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'channels_last': 'yes'}, 'channels_last must be true or false'),
        ({'compile_network': 1}, 'compile_network must be true or false'),
        ({'compile_mode': 'fastest'}, 'compile_mode must be one of'),
        ({'modules': 'model'}, 'modules must be a non-empty list'),
    ],
)
def test_bad_options_name_themselves(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrainingSpeed(**kwargs)


def test_a_missing_backend_is_refused_before_any_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="'nope' is not a torch.compile backend"):
        check_compile_backend('nope', torch.device('cpu'))
    monkeypatch.setenv('CXX', 'no-such-compiler')
    options = TrainingSpeed(compile_network=True)
    with pytest.raises(ValueError, match="needs a C\\+\\+ compiler on CPU \\('no-such"):
        first_loss('supervised (TorchGeo)', tmp_path, [options])


def test_a_task_without_the_named_networks_is_refused(tmp_path: Path) -> None:
    options = TrainingSpeed(
        compile_network=True, compile_backend='eager', modules=['segmenter']
    )
    with pytest.raises(ValueError, match="has none of the networks \\['segmenter'\\]"):
        first_loss('supervised (TorchGeo)', tmp_path, [options])


def test_the_options_from_a_torchgeo_style_command_line(tmp_path: Path) -> None:
    root = tmp_path / 'run'
    main(['fit', '--config', str(ROOT / 'configs' / 'raster_self_training.yaml'),
          *DATA_ARGS['raster'], '--data.init_args.batch_size=2',
          '--data.init_args.num_workers=0', '--data.init_args.steps_per_epoch=2',
          '--trainer.max_epochs=1', '--trainer.accelerator=cpu',
          '--trainer.enable_progress_bar=false', '--trainer.logger=false',
          f'--trainer.default_root_dir={root}', '--trainer.precision=bf16-mixed',
          '--trainer.callbacks+=torchgeo_als4gan.trainers.speed.TrainingSpeed',
          '--trainer.callbacks.channels_last=true'])  # fmt: skip
    (saved,) = root.rglob('config.yaml')
    config = yaml.safe_load(saved.read_text())
    assert config['trainer']['precision'] == 'bf16-mixed'
    [speed] = [
        c
        for c in config['trainer']['callbacks']
        if c['class_path'].endswith('TrainingSpeed')
    ]
    assert speed['init_args']['channels_last'] is True
    (last,) = root.rglob('last.ckpt')
    model = load_segmentation_checkpoint(last, 'cpu', mean=0.0, std=255.0)
    probs, _ = model.predict(torch.rand(1, 3, 16, 16) * 255)
    assert probs.shape == (1, 3, 16, 16)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(1, 16, 16))
