import os
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / 'data'


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def copy_data(tmp_path: Path):
    """Copy a fixture folder into tmp_path so a test may damage it."""

    def _copy(name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(DATA / name, dst, ignore=shutil.ignore_patterns('data.py'))
        return dst

    return _copy


@pytest.fixture(autouse=True)
def _quiet_gdal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('CPL_LOG', os.devnull)


class _TrainingTrainer:
    """Stands in for a Trainer in the training stage (all the hooks look at)."""

    training = True


@pytest.fixture
def training_trainer() -> _TrainingTrainer:
    return _TrainingTrainer()
