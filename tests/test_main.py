import os
import shlex
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from torchgeo.datasets import DatasetNotFoundError
from torchgeo.main import main as torchgeo_main

from torchgeo_als4gan.command_line import lightning_args
from torchgeo_als4gan.main import COMMANDS, main, run_lightning_cli

from .fixture_args import DATA_ARGS
from .parse_only import parse_only

ROOT = Path(__file__).parents[1]
DATA = ROOT / 'tests' / 'data'

# Overrides that point each shipped training config at the fixture data.
FIXTURES = {
    f'{name}_{method}{variant}.yaml': DATA_ARGS[name]
    for name in ('ucm', 'deepglobe', 'raster')
    for method in ('supervised', 's4gan', 'self_training')
    for variant in ('', '_selection')
}
FIXTURES['tile_folder_supervised.yaml'] = DATA_ARGS['tile_folder']
FIXTURES['tile_folder_context_teacher.yaml'] = [
    *DATA_ARGS['tile_folder'],
    f'--data.init_args.context_table={DATA / "tile_folder" / "context.csv"}',
]
for _name in ('pixels', 'dense'):
    FIXTURES[f'ucm_hypercolumn_{_name}.yaml'] = DATA_ARGS['ucm']
    FIXTURES[f'raster_hypercolumn_{_name}.yaml'] = DATA_ARGS['raster']
FIXTURES['raster_buildings_hypercolumn.yaml'] = [
    *DATA_ARGS['raster'],
    '--data.init_args.label_name=landcover',
    '--data.init_args.label_map={"building": 1, "water": 0}',
]
FIXTURES['raster_context_teacher.yaml'] = [
    *DATA_ARGS['raster'],
    f'--data.init_args.date_table={DATA / "georaster" / "dates.csv"}',
]

#: Labelled ids of each fixture for the selection-file configs (ids of its train split).
SELECTED = {
    'ucm': ['agricultural01', 'beach00'],
    'deepglobe': ['100_r0_c0_p16', '100_r16_c16_p16'],
    'raster': ['scene_r0_c0', 'scene_r16_c16'],
}


def selection_args(config: str, tmp_path: Path) -> list[str]:
    if '_selection' not in config:
        return []
    name = config.split('_')[0]
    path = tmp_path / f'{name}_selection.txt'
    path.write_text('\n'.join(SELECTED[name]) + '\n')
    return [f'--data.init_args.selection_file={path}']


def args_for(config: str, tmp_path: Path) -> list[str]:
    return [
        'fit',
        '--config',
        str(ROOT / 'configs' / config),
        *FIXTURES[config],
        *selection_args(config, tmp_path),
        '--data.init_args.batch_size=2',
        '--data.init_args.num_workers=0',
        '--model.init_args.backbone=resnet18',
        '--trainer.fast_dev_run=true',
        '--trainer.accelerator=cpu',
        f'--trainer.default_root_dir={tmp_path}',
    ]


@pytest.mark.parametrize('config', sorted(FIXTURES))
@pytest.mark.parametrize('entry', [torchgeo_main, main], ids=['torchgeo', 'als4gan'])
def test_fit_configs(
    config: str, entry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    entry(args_for(config, tmp_path))


def test_s4gan_deeplabv2_generator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    main([*args_for('ucm_s4gan.yaml', tmp_path), '--model.init_args.model=deeplabv2'])


def test_every_config_is_tested() -> None:
    trained = {
        p.name
        for p in (ROOT / 'configs').glob('*.yaml')
        # tested in their own modules: query, loop, classifier, source-target, pretrain
        if not any(
            k in p.name
            for k in ('_query', '_stal', '_classifier', '_source_target', '_pretrain')
        )
    }
    assert trained == set(FIXTURES)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    main(['--version'])
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == ['torchgeo-als4gan', 'torchgeo', 'torch', 'lightning']
    assert lines[1] == f'torchgeo {version("torchgeo")}'


@pytest.mark.parametrize('args', [[], ['--help'], ['-h']])
def test_top_level_help_lists_every_command(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(args)
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.splitlines() if line.startswith('  ')]
    listed = [name for name in listed if not name.startswith('-')]
    assert listed == list(COMMANDS)
    for group in ('train:', 'choose labels:', 'results:', 'apply:', 'try it:'):
        assert f'\n{group}\n' in out


@pytest.mark.parametrize('name', sorted(COMMANDS))
def test_every_command_answers_help(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([name, '--help'])
    assert exit_info.value.code in (0, None)
    out = capsys.readouterr().out
    assert 'usage' in out.lower()
    if COMMANDS[name].target is not None:  # ours end with a runnable example
        example = ' '.join(out.split('example: ')[-1].split())
        assert example.startswith(f'als4gan {name} --')


def test_unknown_command_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(['fitt'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown command 'fitt'" in err and 'predict-raster' in err


def test_bad_config_names_argument(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r'labeled_ratio must be in \(0, 1\], got 2'):
        main(
            [
                *args_for('ucm_supervised.yaml', tmp_path),
                '--data.init_args.labeled_ratio=2',
            ]
        )


def test_input_error_is_one_line_naming_the_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, '-m', 'torchgeo_als4gan.main', 'query', '--config',
         str(ROOT / 'configs' / 'ucm_query.yaml'), *DATA_ARGS['ucm'],
         f'--output={tmp_path / "q"}', '--labeled_ratio=2'],
        capture_output=True, text=True, check=False,
        env={**os.environ, 'ALS4GAN_TRACEBACK': '0'},
    )  # fmt: skip
    assert done.returncode == 1
    assert 'Traceback' not in done.stderr
    assert (
        'als4gan query: error: labeled_ratio must be in (0, 1], got 2.0' in done.stderr
    )
    assert not (tmp_path / 'q').exists()


def test_missing_dataset_and_traceback_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [
        'fit', '--config', str(ROOT / 'configs' / 'ucm_supervised.yaml'),
        f'--data.init_args.root={tmp_path / "nothing"}',
        f'--trainer.default_root_dir={tmp_path}', '--trainer.max_epochs=1',
    ]  # fmt: skip
    monkeypatch.delenv('ALS4GAN_TRACEBACK', raising=False)
    with pytest.raises(SystemExit, match=r'als4gan fit: error: Dataset not found in'):
        main(args)
    monkeypatch.setenv('ALS4GAN_TRACEBACK', '1')
    with pytest.raises(DatasetNotFoundError, match='nothing'):
        main(args)


def test_short_class_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = args_for('tile_folder_supervised.yaml', tmp_path)
    main(
        [
            *args,
            '--data=SegmentationTileFolderDataModule',
            *FIXTURES['tile_folder_supervised.yaml'],
            '--data.init_args.classes=[a,b,c]',
        ]
    )
    assert os.path.isdir(tmp_path)


def test_reads_sys_argv(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr('sys.argv', ['als4gan', '--version'])
    main()
    assert 'torchgeo-als4gan' in capsys.readouterr().out


@pytest.mark.parametrize(
    'name', sorted(n for n, c in COMMANDS.items() if c.target is not None)
)
def test_every_help_example_is_a_valid_command_line(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit):
        main([name, '--help'])
    example = ' '.join(capsys.readouterr().out.split('example: ')[-1].split())
    words = shlex.split(example)
    assert words[:2] == ['als4gan', name]
    monkeypatch.chdir(ROOT)
    # the example's options exist and its configs load
    assert parse_only(words[1:], monkeypatch)


@pytest.mark.parametrize('name', sorted(COMMANDS))
def test_a_missing_config_file_is_one_line_in_every_command(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / 'nope.yaml'
    with pytest.raises(SystemExit) as exit_info:
        main([name, '--config', str(missing), '--output', str(tmp_path / 'out')])
    assert (
        exit_info.value.code
        == f'als4gan {name}: error: --config {str(missing)!r} does not exist'
    )
    assert capsys.readouterr().err == ''  # no usage block before it
    with pytest.raises(SystemExit, match='is a folder, not a YAML file'):
        main([name, f'--config={tmp_path}'])
    assert not (tmp_path / 'out').exists()


def test_fit_takes_the_shared_devices_and_seed_spellings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = [*args_for('ucm_supervised.yaml', tmp_path), '--devices', '1', '--seed=7']
    cli = run_lightning_cli(lightning_args(args))
    assert str(cli.config['fit']['trainer']['devices']) == '1'
    assert cli.config['fit']['seed_everything'] == 7
    assert cli.trainer.num_devices == 1
    assert lightning_args(['test', '--devices=2', '--seed', '3', '--', '--seed']) == [
        'test',
        '--trainer.devices=2',
        '--seed_everything',
        '3',
        '--',
        '--seed',
    ]
