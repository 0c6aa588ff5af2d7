"""Named pretrained weights: TorchGeo enums and timm names from the local caches."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from huggingface_hub import constants
from safetensors.torch import save_file
from torch import nn
from torchgeo.models import ResNet18_Weights

from torchgeo_als4gan.models.pretrained import hub_checkpoint_folder, resolve_weights
from torchgeo_als4gan.trainers import (
    ActiveLearnerTask,
    ContextTeacherTask,
    HypercolumnTask,
    S4GANTask,
    SelfTrainingTask,
)

ENUM = ResNet18_Weights.SENTINEL2_RGB_MOCO
ENUM_FILE = os.path.basename(ENUM.url)


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty TORCH_HOME, downloads off."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setenv('ALS4GAN_OFFLINE', '1')
    return tmp_path


def generated_resnet18() -> dict[str, torch.Tensor]:
    """A timm ResNet-18 state dict with recognisable (seeded) values."""
    torch.manual_seed(7)
    return timm.create_model('resnet18', num_classes=0).state_dict()


TASKS: dict[str, Callable[[Any], nn.Module]] = {
    'self_training': lambda w: SelfTrainingTask(
        model='unet', backbone='resnet18', num_classes=3, weights=w
    ),
    's4gan': lambda w: S4GANTask(
        model='unet', backbone='resnet18', num_classes=3, weights=w
    ),
    'context_teacher': lambda w: ContextTeacherTask(
        model='unet', backbone='resnet18', num_classes=3, weights=w
    ),
    'hypercolumn': lambda w: HypercolumnTask(
        backbone='resnet18', num_classes=3, weights=w
    ),
    'active_learner': lambda w: ActiveLearnerTask(
        model='resnet18', num_classes=3, weights=w
    ),
}


def conv1_of(task: nn.Module) -> torch.Tensor:
    for name, value in task.state_dict().items():
        if name.endswith('conv1.weight') and value.shape[1] == 3:
            return value
    raise AssertionError('no 3-band conv1 in the task')


@pytest.mark.parametrize('name', sorted(TASKS))
def test_every_task_loads_a_torchgeo_enum_from_the_hub_cache(
    offline_cache: Path, name: str
) -> None:
    state = generated_resnet18()
    folder = hub_checkpoint_folder()
    assert folder == offline_cache / 'torch' / 'hub' / 'checkpoints'
    folder.mkdir(parents=True)
    torch.save(state, folder / ENUM_FILE)
    task = TASKS[name]('ResNet18_Weights.SENTINEL2_RGB_MOCO')
    assert torch.equal(conv1_of(task), state['conv1.weight'])
    assert getattr(task, 'weights_report').loaded  # noqa: B009
    assert str(getattr(task, 'weights')) == 'ResNet18_Weights.SENTINEL2_RGB_MOCO'  # noqa: B009


def test_enum_object_and_name_resolve_to_the_same_file(offline_cache: Path) -> None:
    folder = hub_checkpoint_folder()
    folder.mkdir(parents=True)
    torch.save(generated_resnet18(), folder / ENUM_FILE)
    assert (
        resolve_weights(ENUM) == resolve_weights(str(ENUM)) == str(folder / ENUM_FILE)
    )
    for passed in (None, True, False, 'model.ckpt'):
        assert resolve_weights(passed) == passed


def test_missing_enum_names_the_file_and_the_folder(offline_cache: Path) -> None:
    with pytest.raises(FileNotFoundError) as error:
        SelfTrainingTask(
            model='unet',
            backbone='resnet18',
            weights='ResNet18_Weights.SENTINEL2_RGB_MOCO',
        )
    message = str(error.value)
    assert ENUM_FILE in message and ENUM.url in message
    assert str(hub_checkpoint_folder()) in message and 'ALS4GAN_OFFLINE' in message
    assert not hub_checkpoint_folder().exists() or not any(
        hub_checkpoint_folder().iterdir()
    )


def test_unknown_names_are_refused_with_the_accepted_forms(offline_cache: Path) -> None:
    with pytest.raises(ValueError, match='neither a file nor a TorchGeo weight name'):
        resolve_weights('ResNet18_Weights.NOT_A_WEIGHT', 'weights')
    with pytest.raises(ValueError, match="no pretrained weights named 'resnet18.nope'"):
        resolve_weights('timm:resnet18.nope')


def write_hf_cache(root: Path, repo: str, state: dict[str, torch.Tensor]) -> Path:
    """The Hugging Face hub cache layout: refs/main -> snapshots/<rev>/file."""
    folder = root / f'models--{repo.replace("/", "--")}'
    revision = 'a' * 40
    (folder / 'refs').mkdir(parents=True)
    (folder / 'refs' / 'main').write_text(revision)
    snapshot = folder / 'snapshots' / revision
    snapshot.mkdir(parents=True)
    save_file(state, snapshot / 'model.safetensors')
    return snapshot / 'model.safetensors'


def test_timm_name_from_the_hugging_face_cache(
    offline_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = offline_cache / 'hf'
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(cache))
    name = 'timm:resnet18.a1_in1k'
    with pytest.raises(FileNotFoundError) as error:
        SelfTrainingTask(model='unet', backbone='resnet18', weights=name)
    message = str(error.value)
    assert 'models--timm--resnet18.a1_in1k' in message and str(cache) in message
    assert 'resnet18_a1_0-d63eafa0.pth' in message  # or the torch hub file
    state = generated_resnet18()
    file = write_hf_cache(cache, 'timm/resnet18.a1_in1k', state)
    assert resolve_weights(name) == str(file)
    task = SelfTrainingTask(model='unet', backbone='resnet18', weights=name)
    assert torch.equal(conv1_of(task), state['conv1.weight'])
