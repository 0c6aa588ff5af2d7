"""Class 7: numbers and files in configs and options, checked before any work."""

from pathlib import Path

import pytest
import yaml

from tests.checks.conftest import ROOT, tree_digest
from tests.fixture_args import DATA_ARGS
from torchgeo_als4gan.checks import read_yaml
from torchgeo_als4gan.main import main

BROKEN = 'ratios: [0.1\nstrategies: [random]\n'


def test_read_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / 'broken.yaml'
    path.write_text(BROKEN)
    with pytest.raises(
        ValueError,
        match=r"--config '.*broken\.yaml' is not valid YAML, line \d+, column \d+",
    ):
        read_yaml(path)
    path.write_text('- a\n- b\n')
    with pytest.raises(ValueError, match='must hold `key: value` settings, got a list'):
        read_yaml(path)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        read_yaml(tmp_path / 'missing.yaml')


@pytest.mark.parametrize('command', ['experiment', 'loop'])
def test_broken_yaml_in_every_grid_command(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / 'broken.yaml'
    path.write_text(BROKEN)
    with pytest.raises(SystemExit) as caught:
        main([command, '--config', str(path)])
    text = str(caught.value) + capsys.readouterr().err
    assert 'broken.yaml' in text and 'line 2' in text


def test_broken_method_config_is_named(tmp_path: Path) -> None:
    method = tmp_path / 'method.yaml'
    method.write_text('model: {class_path: x\n')
    grid = tmp_path / 'grid.yaml'
    grid.write_text(yaml.safe_dump({
        'output': str(tmp_path / 'x'), 'ratios': [0.5], 'strategies': ['random'],
        'methods': {'supervised': str(method)}, 'device': 'cpu',
    }))  # fmt: skip
    with pytest.raises(SystemExit) as caught:
        main(['experiment', '--config', str(grid)])
    assert 'method.yaml' in str(caught.value) or caught.type is SystemExit


def test_pretrain_numbers_and_output(tmp_path: Path) -> None:
    base = ['pretrain', '--config', str(ROOT / 'configs' / 'raster_pretrain.yaml'),
            *DATA_ARGS['raster'], '--trainer.accelerator=cpu']  # fmt: skip
    with pytest.raises(
        SystemExit, match='--batch_size must be a positive integer, got 0'
    ):
        main([*base, '--batch_size=0', f'--output={tmp_path / "a.pt"}'])
    user = tmp_path / 'mine'
    user.mkdir()
    (user / 'notes.txt').write_text('keep me')
    before = tree_digest(user)
    with pytest.raises(SystemExit, match=r"--output '.*mine' is a folder"):
        main([*base, f'--output={user}', '--overwrite=true'])
    assert tree_digest(user) == before


def test_predict_raster_min_area(
    raster_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raster = sorted((ROOT / 'tests' / 'data' / 'georaster' / 'imagery').glob('*.tif'))[
        0
    ]
    args = ['predict-raster', '--checkpoint', str(raster_checkpoint), '--input',
            str(raster), '--output', str(tmp_path / 'out'), '--no_progress',
            '--device', 'cpu']  # fmt: skip
    with pytest.raises(SystemExit):
        main([*args, '--min_area', '-3', '--vector', str(tmp_path / 'p.gpkg')])
    assert '--min_area must be a non-negative number, got -3' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()
    with pytest.warns(
        UserWarning, match=r'--min_area 1e\+12 drops every one of the \d+ polygons'
    ):
        main([*args, '--min_area', '1e12', '--vector', str(tmp_path / 'p.gpkg')])


def test_evaluate_unwritable_output_fails_before_scoring(
    raster_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torchgeo_als4gan.evaluation.cli as cli

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError('scored before checking --output')

    monkeypatch.setattr(cli, 'evaluate_checkpoints', never)
    folder = tmp_path / 'ro'
    folder.mkdir()
    monkeypatch.setattr(
        cli, 'check_output_folder',
        lambda f, name: (_ for _ in ()).throw(OSError(f'{name} {f!s} is not a writable folder')),
    )  # fmt: skip
    with pytest.raises(SystemExit, match='is not a writable folder'):
        main([
            'evaluate', '--config', str(ROOT / 'configs' / 'raster_supervised.yaml'),
            *DATA_ARGS['raster'], '--model.init_args.model=fcn', '--device=cpu',
            f'--checkpoints={raster_checkpoint.parent}', f'--output={folder / "e.json"}',
        ])  # fmt: skip


@pytest.mark.parametrize('option', ['--steps', '--epochs'])
def test_demo_context_counts(
    option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(['demo-context', '--output', str(tmp_path / 'c'), option, '0'])
    assert f'{option} must be at least 1, got 0' in capsys.readouterr().err
    assert not (tmp_path / 'c').exists()
