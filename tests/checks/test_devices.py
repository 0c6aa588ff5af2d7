"""Class 2: devices that are not there, through every command that takes one."""

from pathlib import Path

import pytest
import torch
import yaml

from tests.checks.conftest import FAST, RASTER_FIT, ROOT
from tests.fixture_args import DATA_ARGS
from torchgeo_als4gan.checks import check_accelerator, check_device
from torchgeo_als4gan.experiments import load_experiment
from torchgeo_als4gan.main import main

NO_CUDA = 'cuda was asked for but no CUDA device is available'


@pytest.fixture(autouse=True)
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here runs as on a CPU-only machine."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 0)


def test_the_check_names_torch_and_the_fix() -> None:
    with pytest.raises(
        ValueError,
        match=r'--device cuda was asked for .*torch .*CUDA build: (yes|no)\); use --device cpu or auto',
    ):
        check_device('cuda')
    with pytest.raises(ValueError, match='no CUDA device'):
        check_device('cuda:1', '--device')
    with pytest.raises(ValueError, match=r"--device 'gpu0' is not a device"):
        check_device('gpu0')
    assert check_device('auto') == torch.device('cpu')
    with pytest.raises(ValueError, match=r'--trainer.accelerator gpu was asked for'):
        check_accelerator('gpu', 1)
    check_accelerator('cpu', 2)
    check_accelerator('auto', 'auto')


def test_predict_raster(
    raster_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = ROOT / 'tests' / 'data' / 'georaster' / 'imagery'
    raster = sorted(image.glob('*.tif'))[0]
    for devices in ('1', '2'):
        with pytest.raises(SystemExit):
            main([
                'predict-raster', '--checkpoint', str(raster_checkpoint), '--input',
                str(raster), '--output', str(tmp_path / 'out'), '--device', 'cuda',
                '--devices', devices,
            ])  # fmt: skip
        assert NO_CUDA in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def test_fit_and_lightning_commands(tmp_path: Path) -> None:
    for accelerator in ('gpu', 'cuda'):
        with pytest.raises(
            SystemExit, match=f'--trainer.accelerator {accelerator} was asked for'
        ):
            main([*RASTER_FIT, f'--trainer.accelerator={accelerator}',
                  f'--trainer.default_root_dir={tmp_path}'])  # fmt: skip
    assert not list(tmp_path.rglob('*.ckpt'))


def test_query(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match='--trainer.accelerator gpu was asked for'):
        main([
            'query', '--config', str(ROOT / 'configs' / 'raster_query.yaml'),
            *DATA_ARGS['raster'], '--trainer.accelerator=gpu',
            f'--output={tmp_path / "q"}',
        ])  # fmt: skip
    assert not (tmp_path / 'q').exists()


def test_pretrain(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match='--trainer.accelerator gpu was asked for'):
        main([
            'pretrain', '--config', str(ROOT / 'configs' / 'raster_pretrain.yaml'),
            *DATA_ARGS['raster'], '--trainer.accelerator=gpu',
            f'--output={tmp_path / "e.pt"}',
        ])  # fmt: skip


def test_evaluate(raster_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match='--device cuda was asked for'):
        main([
            'evaluate', '--config', str(ROOT / 'configs' / 'raster_supervised.yaml'),
            *DATA_ARGS['raster'], '--model.init_args.model=fcn',
            f'--checkpoints={raster_checkpoint.parent}', '--device=cuda',
            f'--output={tmp_path / "e.json"}',
        ])  # fmt: skip


def test_experiment_and_loop_configs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = {
        'output': str(tmp_path / 'x'), 'ratios': [0.5], 'strategies': ['random'],
        'methods': {'supervised': str(ROOT / 'configs' / 'raster_supervised.yaml')},
        'device': 'cuda',
    }  # fmt: skip
    path = tmp_path / 'grid.yaml'
    path.write_text(yaml.safe_dump(grid))
    with pytest.raises(ValueError, match='device cuda was asked for'):
        load_experiment(path)
    loop = {
        'output': str(tmp_path / 'l'), 'method': str(ROOT / 'configs' / 'raster_self_training.yaml'),
        'budgets': [0.2, 0.4], 'device': 'cuda', 'trainer_args': FAST,
    }  # fmt: skip
    path = tmp_path / 'loop.yaml'
    path.write_text(yaml.safe_dump(loop))
    with pytest.raises(SystemExit):
        main(['loop', '--config', str(path)])
    assert 'device cuda was asked for' in capsys.readouterr().err
    assert not (tmp_path / 'l').exists()
