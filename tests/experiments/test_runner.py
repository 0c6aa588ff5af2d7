"""The experiment runner on fixture data: a 2 x 2 x 2 x 1 grid, interrupted and resumed."""

import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import torchgeo_als4gan.experiments.runner as runner
import torchgeo_als4gan.runs.fit as fit_module
from tests.fixture_args import DATA_ARGS
from tests.html_check import read_page
from torchgeo_als4gan.experiments import load_experiment, markdown_table
from torchgeo_als4gan.main import main
from torchgeo_als4gan.runs import (
    POLICY_FOLDER,
    RunPolicy,
    discard_checkpoints_after,
    resume_checkpoint,
)

FAST = ['--trainer.accelerator=cpu', '--trainer.enable_progress_bar=false',
        '--trainer.enable_model_summary=false', '--trainer.logger=false']  # fmt: skip


def experiment_file(tmp_path: Path) -> Path:
    config = {
        'output': str(tmp_path / 'experiment'),
        'ratios': [0.25, 0.5],
        'strategies': ['random', 'entropy'],
        'methods': {'supervised': 'configs/ucm_supervised.yaml', 's4gan': 'configs/ucm_s4gan.yaml'},
        'seeds': [0],
        'query_config': 'configs/ucm_query.yaml',
        'data_args': [*DATA_ARGS['ucm'], '--data.init_args.batch_size=2',
                      '--data.init_args.steps_per_epoch=1'],
        'model_args': ['--model.init_args.model=fcn'],
        'trainer_args': [*FAST, '--trainer.max_epochs=1'],
        'query_args': [*FAST, '--alpha=0.5', '--model.init_args.model=resnet18',
                       '--trainer.max_epochs=1', '--figures=false'],
        'device': 'cpu',
    }  # fmt: skip
    path = tmp_path / 'grid.yaml'
    path.write_text(yaml.safe_dump(config))
    return path


def test_grid_is_interrupted_resumed_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = experiment_file(tmp_path)
    fitted: list[str] = []
    real_fit = runner.fit_cell

    def interrupted_fit(config: Any, cell: Any, data: list[str], run: Path) -> int:
        if len(fitted) == 2:
            raise KeyboardInterrupt
        fitted.append(cell.name)
        return real_fit(config, cell, data, run)

    monkeypatch.setattr(runner, 'fit_cell', interrupted_fit)
    with pytest.raises(KeyboardInterrupt):
        main(['experiment', '--config', str(path)])
    out = tmp_path / 'experiment'
    partial = pd.read_csv(out / 'results.csv')
    assert len(partial) == 2  # the two finished cells survived

    def counting_fit(config: Any, cell: Any, data: list[str], run: Path) -> int:
        fitted.append(cell.name)
        return real_fit(config, cell, data, run)

    monkeypatch.setattr(runner, 'fit_cell', counting_fit)
    main(['experiment', '--config', str(path)])
    printed = capsys.readouterr().out
    assert len(fitted) == 8  # 2 before the interruption + the 6 unfinished cells
    assert len(set(fitted)) == 8
    results = pd.read_csv(out / 'results.csv')
    assert len(results) == 8
    assert set(results['strategy']) == {'random', 'entropy'}
    assert set(results['method']) == {'supervised', 's4gan'}
    assert results['test_miou'].between(0, 1).all()
    # the labelled count the runs trained on: ceil(ratio * 6 train tiles), the
    # same for random and queried selections and for every method
    expected = results['ratio'].map({0.25: 2, 0.5: 3})
    assert (results['labeled'] == expected).all()
    assert (out / 'selections' / 'entropy_r0.25_s0' / 'selection.npy').is_file()
    assert (out / 'label_efficiency.png').stat().st_size > 10_000
    table = (out / 'results.md').read_text()
    differences = pd.read_csv(out / 'differences.csv')
    assert table == markdown_table(results, differences)
    # every s4gan cell is compared with supervised on the same selection and seed
    assert len(differences) == 4 and (differences['reference'] == 'supervised').all()
    assert (results['test_miou_low'] <= results['test_miou']).all()
    assert (results['test_miou'] <= results['test_miou_high']).all()
    assert 'Within the noise' in table or 'Outside the noise' in table
    assert '| entropy | s4gan |' in table and '25% labelled' in table
    assert table in printed
    check_report(out / 'report.html', cells=8)
    # the per-class table names the classes the datamodule knows (DLRSD's)
    classes = json.loads(next((out / 'runs').glob('*/test_classes.json')).read_text())
    assert len(classes) == 17 and classes[0] == 'airplane'
    assert f'<th>{classes[0]}</th>' in (out / 'report.html').read_text()
    # a third run does nothing but report
    fitted.clear()
    main(['experiment', '--config', str(path)])
    assert fitted == []


def check_report(path: Path, cells: int) -> None:
    """report.html is well formed, self-contained, and its links resolve."""
    page = read_page(path)
    assert page.tables == 3  # results, per-class IoU, runs
    assert len(page.images) == 1
    run_links = [link for link in page.links if link.startswith('runs/')]
    assert len(set(run_links)) == cells


def test_bad_experiment_configs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / 'bad.yaml'
    bad.write_text(
        yaml.safe_dump(
            {'ratios': [0.5], 'strategies': ['random'], 'methods': {}, 'colour': 1}
        )
    )
    with pytest.raises(ValueError, match=r"unknown keys \['colour'\]"):
        load_experiment(bad)
    bad.write_text(
        yaml.safe_dump(
            {
                'ratios': [1.5],
                'strategies': ['random'],
                'methods': {'a': 'configs/ucm_s4gan.yaml'},
            }
        )
    )
    with pytest.raises(ValueError, match='ratios must be'):
        load_experiment(bad)
    bad.write_text(
        yaml.safe_dump(
            {
                'ratios': [0.5],
                'strategies': ['entropy'],
                'methods': {'a': 'configs/ucm_s4gan.yaml'},
            }
        )
    )
    with pytest.raises(ValueError, match='query_config is needed'):
        load_experiment(bad)
    bad.write_text(
        yaml.safe_dump(
            {
                'ratios': [0.5],
                'strategies': ['guess'],
                'methods': {'a': 'configs/ucm_s4gan.yaml'},
            }
        )
    )
    with pytest.raises(ValueError, match="Unknown strategies entry 'guess'"):
        load_experiment(bad)
    bad.write_text(
        yaml.safe_dump(
            {'ratios': [0.5], 'strategies': ['random'], 'methods': {'a': 'nope.yaml'}}
        )
    )
    with pytest.raises(SystemExit):
        main(['experiment', '--config', str(bad)])
    assert "a: config 'nope.yaml' does not exist" in capsys.readouterr().err


def small_grid(tmp_path: Path, **changes: Any) -> Path:
    config = {
        'output': str(tmp_path / 'small'),
        'ratios': [0.5], 'strategies': ['random'],
        'methods': {'supervised': 'configs/ucm_supervised.yaml'}, 'seeds': [0],
        'data_args': [*DATA_ARGS['ucm'], '--data.init_args.batch_size=2',
                      '--data.init_args.steps_per_epoch=1'],
        'model_args': ['--model.init_args.model=fcn'],
        'trainer_args': [*FAST, '--trainer.max_epochs=1'], 'device': 'cpu',
        **changes,
    }  # fmt: skip
    path = tmp_path / 'small.yaml'
    path.write_text(yaml.safe_dump(config))
    return path


def test_changed_settings_are_refused_or_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fitted: list[str] = []
    real_fit = runner.fit_cell

    def counting_fit(config: Any, cell: Any, data: list[str], run: Path) -> int:
        fitted.append(cell.name)
        return real_fit(config, cell, data, run)

    monkeypatch.setattr(runner, 'fit_cell', counting_fit)
    main(['experiment', '--config', str(small_grid(tmp_path))])
    first = pd.read_csv(tmp_path / 'small' / 'results.csv')
    assert fitted == ['supervised_random_r0.5_s0'] and first['labeled'].tolist() == [3]
    assert '"trainer_args":' in first['settings'].iloc[0]
    capsys.readouterr()
    changed = small_grid(tmp_path, trainer_args=[*FAST, '--trainer.max_epochs=2'])
    # used to say "done, skipped" and keep the 1-epoch result
    with pytest.raises(SystemExit):
        main(['experiment', '--config', str(changed)])
    err = capsys.readouterr().err
    assert (
        'supervised_random_r0.5_s0 (trainer_args)' in err and '--rerun_changed' in err
    )
    assert fitted == [] or fitted == ['supervised_random_r0.5_s0']
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / 'small' / 'results.csv'), first
    )
    main(['experiment', '--config', str(changed), '--rerun_changed'])
    assert fitted == ['supervised_random_r0.5_s0'] * 2
    rerun = pd.read_csv(tmp_path / 'small' / 'results.csv')
    assert len(rerun) == 1 and '--trainer.max_epochs=2' in rerun['settings'].iloc[0]
    assert 'settings changed, rerunning' in capsys.readouterr().out
    # editing the method config itself changes the settings too
    config = tmp_path / 'supervised.yaml'
    text = Path('configs/ucm_supervised.yaml').read_text()
    config.write_text('# a comment does not count\n' + text)
    same = small_grid(tmp_path, methods={'supervised': str(config)},
                      trainer_args=[*FAST, '--trainer.max_epochs=2'])  # fmt: skip
    main(['experiment', '--config', str(same)])
    assert fitted == ['supervised_random_r0.5_s0'] * 2
    config.write_text(text.replace('lr: 0.001', 'lr: 0.002'))
    edited = small_grid(tmp_path, methods={'supervised': str(config)},
                        trainer_args=[*FAST, '--trainer.max_epochs=2'])  # fmt: skip
    with pytest.raises(SystemExit):
        main(['experiment', '--config', str(edited)])
    assert '(method_config)' in capsys.readouterr().err


def test_query_config_as_method_is_refused(tmp_path: Path) -> None:
    path = small_grid(tmp_path, methods={'supervised': 'configs/ucm_query.yaml'})
    with pytest.raises(
        ValueError,
        match=r"methods.supervised: 'configs/ucm_query.yaml' is not a segmentation fit config",
    ):
        load_experiment(path)


def test_unwritable_output_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with pytest.raises(SystemExit):
        main(['experiment', '--config', str(small_grid(tmp_path)), '--output',
              str(blocker / 'out')])  # fmt: skip
    assert 'is not a writable folder' in capsys.readouterr().err


def test_experiment_output_is_quiet(tmp_path: Path) -> None:
    """A real `als4gan experiment` process: our lines and the table, no known noise."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, '-c', 'from torchgeo_als4gan.main import main; main()',
         'experiment', '--config', str(small_grid(tmp_path))],
        capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert '[1/1] supervised_random_r0.5_s0: running' in output
    assert '| random | supervised |' in output
    for noise in ("LightningCLI's args", 'LeafSpec', 'NotGeoreferencedWarning',
                  'no geotransform', 'litlogger', 'GPU available'):  # fmt: skip
        assert noise not in output, noise


def test_every_method_gets_the_same_checkpoint_policy(tmp_path: Path) -> None:
    import torch

    path = small_grid(
        tmp_path, methods={'supervised': 'configs/ucm_supervised.yaml',
                           's4gan': 'configs/ucm_s4gan.yaml'},
        trainer_args=[*FAST, '--trainer.max_epochs=3'], checkpoint_top_k=2,
    )  # fmt: skip
    main(['experiment', '--config', str(path)])
    out = tmp_path / 'small'
    results = pd.read_csv(out / 'results.csv')
    assert results['checkpoint_policy'].unique().tolist() == [
        'best 2 by val_miou, validated every epoch'
    ]
    for method in ('supervised', 's4gan'):
        run = out / 'runs' / f'{method}_random_r0.5_s0'
        policy = sorted((run / POLICY_FOLDER).glob('*.ckpt'))
        # 3 validations, the best 2 kept; and no other checkpoint (S4GAN's own
        # top-3 + last, TorchGeo's last-epoch default) is written or scored
        assert len(policy) == 2, method
        assert sorted(run.rglob('*.ckpt')) == policy, method
        state = torch.load(policy[0], map_location='cpu', weights_only=False)
        assert 'state_dict' in state and 'optimizer_states' not in state
        [saved] = run.rglob('config.yaml')
        callbacks = yaml.safe_load(saved.read_text())['trainer']['callbacks']
        [policy_callback] = [c['init_args'] for c in callbacks
                             if c['class_path'].endswith('ModelCheckpoint')]  # fmt: skip
        assert policy_callback['monitor'] == 'val_miou'
        assert policy_callback['save_top_k'] == 2
        assert results.loc[results['method'] == method, 'checkpoint'].iloc[0] in map(
            str, policy
        )


def test_stal_cells_end_with_the_same_budget(tmp_path: Path) -> None:
    path = small_grid(
        tmp_path, strategies=['random', 'stal', 'stal_feature'],
        loop_fractions=[0.5, 1.0],
        loop_variants={'stal_feature': {'diversity': 'feature', 'diversity_candidates': 2}},
        extra_tests={'again': ['--data.init_args.num_workers=0']},  # the same test
    )  # fmt: skip
    main(['experiment', '--config', str(path)])
    out = tmp_path / 'small'
    results = pd.read_csv(out / 'results.csv').set_index('strategy')
    # the loop labels 2 then 3 of the 6 train tiles: as many as the random cell
    assert results.loc['stal', 'labeled'] == results.loc['random', 'labeled'] == 3
    assert results.loc['stal_feature', 'labeled'] == 3
    # the variant's rounds spread over the segmenter's features; plain stal's do not
    variant = out / 'loops' / 'supervised_stal_feature_r0.5_s0'
    plain = out / 'loops' / 'supervised_stal_r0.5_s0'
    assert np.load(variant / 'round_00' / 'embeddings_pool.npy').shape[0] == 6
    assert not list(plain.rglob('embeddings_pool.npy'))
    settings = json.loads(results.loc['stal_feature', 'settings'])
    assert settings['loop_variant'] == {
        'diversity': 'feature',
        'diversity_candidates': 2,
    }
    assert 'loop_variant' not in json.loads(results.loc['stal', 'settings'])
    assert '| stal_feature | supervised |' in (out / 'results.md').read_text()
    # extra test sets score the loops' last rounds too (here: the test split again)
    np.testing.assert_allclose(results['test_miou_again'], results['test_miou'])
    assert (results['test_items_again'] == results['test_items']).all()
    assert 'test_miou_again' in pd.read_csv(plain / 'results.csv').columns
    loop = pd.read_csv(out / 'loops' / 'supervised_stal_r0.5_s0' / 'results.csv')
    assert loop['labeled'].tolist() == [2, 3]
    assert results.loc['stal', 'test_miou'] == pytest.approx(loop['test_miou'].iloc[-1])
    kept = np.load(out / 'runs' / 'supervised_stal_r0.5_s0' / 'test_confusion.npy')
    assert kept.sum() > 0  # the last round's per-item confusions, for comparisons
    assert '| stal | supervised |' in (out / 'results.md').read_text()
    with pytest.raises(ValueError, match='loop_fractions must increase'):
        load_experiment(small_grid(tmp_path, strategies=['stal'], loop_fractions=[0.5]))


@pytest.mark.parametrize(
    ('variants', 'strategies', 'error'),
    [
        ({'entropy': {}}, ['entropy'], "'entropy' is a query strategy"),
        ({'stal': {}}, ['stal'], 'identifier other than'),
        ({'stal_b': {}}, ['stal'], "add 'stal_b' to strategies"),
        ({'stal_b': {'budgets': [1]}}, ['stal_b'], r"unknown options \['budgets'\]"),
        ({'stal_b': {'diversity': 'clusters'}}, ['stal_b'],
         r'loop_variants.stal_b \(methods.supervised\): diversity must be'),
        ({'stal_b': {'diversity': 'feature', 'min_distance_m': 50}}, ['stal_b'],
         'feature and min_distance_m cannot'),
        ({'stal_b': [1]}, ['stal_b'], r'loop_variants.stal_b must be a mapping \(key: value\), got a list'),
    ],
)  # fmt: skip
def test_loop_variants_are_checked_before_any_fit(
    tmp_path: Path, variants: dict[str, Any], strategies: list[str], error: str
) -> None:
    path = small_grid(tmp_path, strategies=strategies, loop_variants=variants)
    with pytest.raises(ValueError, match=error):
        load_experiment(path)
    assert not (tmp_path / 'small').exists()


@pytest.mark.parametrize('name', ['ucm_als4gan.yaml', 'deepglobe_als4gan.yaml'])
def test_shipped_grids_load(name: str) -> None:
    config = load_experiment(Path('configs/experiments') / name)
    assert len(config.seeds) >= 3 and config.ceiling
    assert {'supervised', 's4gan', 'self_training'} <= set(config.methods)


def test_multi_process_fits_are_refused(tmp_path: Path) -> None:
    """Fits run in-process: DDP would rerun the whole experiment per rank."""
    with pytest.raises(
        ValueError, match=r"trainer_args '--trainer.devices=2'.* use devices: 1"
    ):
        load_experiment(small_grid(tmp_path, trainer_args=['--trainer.devices=2']))
    with pytest.raises(
        ValueError, match='strategy .ddp_spawn. would start several processes'
    ):
        load_experiment(
            small_grid(tmp_path, trainer_args=['--trainer.strategy=ddp_spawn'])
        )
    method = tmp_path / 'ddp.yaml'
    config = yaml.safe_load(Path('configs/ucm_supervised.yaml').read_text())
    config['trainer']['devices'] = [0, 1]
    method.write_text(yaml.safe_dump(config))
    with pytest.raises(
        ValueError, match=r"methods.supervised: .*ddp.yaml'.*devices \[0, 1\]"
    ):
        load_experiment(small_grid(tmp_path, methods={'supervised': str(method)}))
    assert load_experiment(small_grid(tmp_path, trainer_args=['--trainer.devices=1']))


def test_an_init_axis_runs_every_method_per_initialisation(tmp_path: Path) -> None:
    import timm
    import torch

    weights = tmp_path / 'encoder.pt'
    state = timm.create_model('resnet18', num_classes=0).state_dict()
    torch.save(  # the layout als4gan pretrain writes (TorchGeo's tasks read it)
        {'state_dict': {f'model.{k}': v for k, v in state.items()},
         'hyper_parameters': {'model': 'resnet18'}},
        weights,
    )  # fmt: skip
    path = small_grid(
        tmp_path, inits={'random': None, 'pretrained': str(weights)},
        model_args=['--model.init_args.model=unet', '--model.init_args.backbone=resnet18'],
    )  # fmt: skip
    config = load_experiment(path)
    assert set(config.methods) == {'supervised_random', 'supervised_pretrained'}
    assert config.reference == 'supervised_random'
    main(['experiment', '--config', str(path)])
    results = pd.read_csv(tmp_path / 'small' / 'results.csv')
    assert sorted(results['method']) == ['supervised_pretrained', 'supervised_random']
    for method, expected in (('random', None), ('pretrained', str(weights))):
        run = tmp_path / 'small' / 'runs' / f'supervised_{method}_random_r0.5_s0'
        [saved] = run.rglob('config.yaml')
        assert (
            yaml.safe_load(saved.read_text())['model']['init_args']['weights']
            == expected
        )
    missing = small_grid(tmp_path, inits={'pretrained': str(tmp_path / 'none.pt')})
    with pytest.raises(
        ValueError, match=r'inits.pretrained: weights file .* does not exist'
    ):
        load_experiment(missing)


def small_grid_file(tmp_path: Path) -> Path:
    path = experiment_file(tmp_path)
    config = yaml.safe_load(path.read_text())
    config.update(ratios=[0.5], strategies=['random'])
    path.write_text(yaml.safe_dump(config))
    return path


def test_keep_going_records_a_failed_cell_and_status_reports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = small_grid_file(tmp_path)
    out = tmp_path / 'experiment'
    real_fit = runner.fit_cell

    def failing_fit(config: Any, cell: Any, data: list[str], run: Path) -> int:
        if cell.method == 's4gan':
            msg = 'out of memory in the generator'
            raise RuntimeError(msg)
        return real_fit(config, cell, data, run)

    monkeypatch.setattr(runner, 'fit_cell', failing_fit)
    # without --keep_going the error is recorded and raised
    with pytest.raises(RuntimeError, match='out of memory'):
        main(['experiment', '--config', str(path)])
    failures = json.loads((out / 'failures.json').read_text())
    assert list(failures) == ['s4gan_random_r0.5_s0']
    capsys.readouterr()
    main(['experiment', '--config', str(path), '--status'])
    lines = capsys.readouterr().out.splitlines()
    # s4gan runs first (the grid's order) and stopped the grid
    assert lines[0].split()[:2] == ['failed', 's4gan_random_r0.5_s0']
    assert 'RuntimeError: out of memory in the generator' in lines[0]
    assert lines[1].split() == ['pending', 'supervised_random_r0.5_s0']
    assert lines[-1] == '2 cells: 1 failed, 1 pending'
    # with --keep_going the grid finishes its other cells and exits with 1
    with pytest.raises(SystemExit) as exit_info:
        main(['experiment', '--config', str(path), '--keep_going'])
    assert exit_info.value.code == 1
    assert '1 cell(s) failed: s4gan_random_r0.5_s0' in capsys.readouterr().out
    assert len(pd.read_csv(out / 'results.csv')) == 1
    main(['experiment', '--config', str(path), '--status'])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith('done') and 'supervised_random_r0.5_s0' in lines[1]
    assert 'test mIoU' in lines[1] and lines[0].startswith('failed')
    # fixed: the next run retries the failed cell and forgets the failure
    monkeypatch.setattr(runner, 'fit_cell', real_fit)
    main(['experiment', '--config', str(path), '--keep_going'])
    assert json.loads((out / 'failures.json').read_text()) == {}
    assert len(pd.read_csv(out / 'results.csv')) == 2
    main(['experiment', '--config', str(path), '--status'])
    assert capsys.readouterr().out.splitlines()[-1] == '2 cells: 2 done'


def test_status_tells_interrupted_from_pending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = small_grid_file(tmp_path)
    out = tmp_path / 'experiment'
    (out / 'runs' / 'supervised_random_r0.5_s0').mkdir(parents=True)
    main(['experiment', '--config', str(path), '--status'])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ['pending', 's4gan_random_r0.5_s0']
    assert lines[1].split() == ['interrupted', 'supervised_random_r0.5_s0']
    assert not (out / 'results.csv').exists()  # nothing was started
    # a live process holds the folder: its cell is running, not interrupted
    (out / '.lock').write_text(f'{os.getpid()}\n')
    main(['experiment', '--config', str(path), '--status'])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ['running', 'supervised_random_r0.5_s0']


def test_seed_option_runs_the_grid_at_other_seeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = small_grid_file(tmp_path)
    main(['experiment', '--config', str(path), '--status', '--seed', '3', '7'])
    lines = capsys.readouterr().out.splitlines()
    names = sorted(line.split()[1] for line in lines[:-1])
    assert names == [
        f'{method}_random_r0.5_s{seed}'
        for method in ('s4gan', 'supervised')
        for seed in (3, 7)
    ]
    assert lines[-1] == '4 cells: 4 pending'
    for bad, match in (
        (['-1'], r'seeds entry must be an integer in \[0, 4294967295\], got -1'),
        (['2', '2'], r'seeds must not repeat, got \[2, 2\]'),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(['experiment', '--config', str(path), '--status', '--seed', *bad])
        assert exit_info.value.code == 2
        assert re.search(match, capsys.readouterr().err)
    with pytest.raises(SystemExit):
        main(['experiment', '--config', str(path), '--status', '--device', 'tpu'])
    assert "device 'tpu' is not a device" in capsys.readouterr().err


def test_interrupted_cell_continues_its_fit_from_the_full_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = small_grid_file(tmp_path)
    config = yaml.safe_load(path.read_text())
    config['methods'] = {'supervised': config['methods']['supervised']}
    config['trainer_args'] = [*FAST, '--trainer.max_epochs=4']
    config['resume_every'] = 1
    path.write_text(yaml.safe_dump(config))
    run = tmp_path / 'experiment' / 'runs' / 'supervised_random_r0.5_s0'
    last = run / 'resume' / 'last.ckpt'
    real_fit = runner.fit_run

    def killed_after_two_steps(*args: Any, **kwargs: Any) -> int:
        real_fit(*args, **kwargs, extra=['--trainer.max_steps=2'])
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, 'fit_run', killed_after_two_steps)
    with pytest.raises(KeyboardInterrupt):
        main(['experiment', '--config', str(path)])
    state = torch.load(last, map_location='cpu', weights_only=False)
    assert state['global_step'] == 2 and state['optimizer_states']
    policy = run / 'policy_checkpoints'
    before = {p.name: p.stat().st_mtime_ns for p in policy.glob('*.ckpt')}
    assert before
    monkeypatch.setattr(runner, 'fit_run', real_fit)
    seen: list[list[str]] = []
    real_cli = fit_module.run_lightning_cli

    def recording_cli(args: list[str]) -> Any:
        seen.append(list(args))
        return real_cli(args)

    monkeypatch.setattr(fit_module, 'run_lightning_cli', recording_cli)
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        main(['experiment', '--config', str(path)])
    # continuing into its own checkpoint folder is expected, not warned about
    assert not [w for w in caught if 'Checkpoint directory' in str(w.message)]
    assert f'its fit continues from {last}' in capsys.readouterr().out
    assert f'--ckpt_path={last}' in seen[0]
    assert torch.load(last, map_location='cpu', weights_only=False)['global_step'] == 4
    results = pd.read_csv(tmp_path / 'experiment' / 'results.csv')
    assert len(results) == 1 and results['test_miou'].between(0, 1).all()
    # the steps before the interruption are not trained again: their
    # checkpoints are neither rewritten nor saved a second time
    after = {p.name: p.stat().st_mtime_ns for p in policy.glob('*.ckpt')}
    for name, mtime in after.items():
        step = int(name.split('-')[1])
        assert step > 2 or before.get(name) == mtime, name
    assert max(int(name.split('-')[1]) for name in after) == 4


def test_checkpoints_after_the_resume_step_are_discarded(tmp_path: Path) -> None:
    run = tmp_path / 'run'
    (run / 'policy_checkpoints').mkdir(parents=True)
    (run / 'resume').mkdir()
    names = ['0-3-0.5000.ckpt', '1-6-0.6000.ckpt', '2-9-0.4000.ckpt', 'notes.ckpt']
    for name in names:
        (run / 'policy_checkpoints' / name).write_bytes(b'x')
    resume = run / 'resume' / 'last.ckpt'
    torch.save({'global_step': 6}, resume)
    assert resume_checkpoint(RunPolicy(), run) is None  # the policy keeps none
    assert resume_checkpoint(RunPolicy(resume_every=3), run) == resume
    deleted = discard_checkpoints_after(run, resume)
    assert [p.name for p in deleted] == ['2-9-0.4000.ckpt']
    left = sorted(p.name for p in (run / 'policy_checkpoints').iterdir())
    assert left == ['0-3-0.5000.ckpt', '1-6-0.6000.ckpt', 'notes.ckpt']


def test_a_grid_in_square_kilometres(tmp_path: Path) -> None:
    # 16 px patches of 10 m: a full patch is 0.0256 km²
    config = {
        'output': str(tmp_path / 'km2'), 'ratios': [0.08], 'budget_unit': 'area_km2',
        'strategies': ['random', 'entropy'],
        'methods': {'supervised': 'configs/raster_supervised.yaml'}, 'seeds': [0],
        'query_config': 'configs/raster_query.yaml',
        'data_args': [*DATA_ARGS['raster'], '--data.init_args.batch_size=2',
                      '--data.init_args.steps_per_epoch=1'],
        'model_args': ['--model.init_args.model=fcn'],
        'trainer_args': [*FAST, '--trainer.max_epochs=1'],
        'query_args': [*FAST, '--alpha=0.5', '--model.init_args.model=resnet18',
                       '--trainer.max_epochs=1', '--figures=false', '--batch_size=2'],
        'device': 'cpu', 'bootstrap_samples': 20,
    }  # fmt: skip
    path = tmp_path / 'km2.yaml'
    path.write_text(yaml.safe_dump(config))
    main(['experiment', '--config', str(path)])
    out = tmp_path / 'km2'
    results = pd.read_csv(out / 'results.csv')
    for strategy in ('random', 'entropy'):
        table = pd.read_csv(
            out / 'selections' / f'{strategy}_r0.08_s0' / 'selection.csv'
        )
        assert 0 < table['area_km2'].sum() <= 0.08 + 1e-9
        row = results[results['strategy'] == strategy].iloc[0]
        assert row['labeled'] == len(table) and row['ratio'] == 0.08
    text = (out / 'results.md').read_text()
    assert '| selection | method | 0.08 km² labelled |' in text
    assert '"budget":["area_km2","constant",null]' in results['settings'].iloc[0]
    for changes, match in (
        ({'query_config': None, 'strategies': ['random']}, 'budget_unit area_km2 needs query_config'),
        ({'ratios': [1.0], 'ceiling': True}, 'shares its column with the ceiling'),
        ({'budget_unit': 'acres'}, 'budget_unit must be one of'),
        ({'budget_unit': 'items', 'ratios': [2.5]}, 'whole numbers of items'),
    ):  # fmt: skip
        path.write_text(yaml.safe_dump({**config, **changes}))
        with pytest.raises(ValueError, match=match):
            load_experiment(path)


@pytest.mark.parametrize(
    ('key', 'value', 'message'),
    [
        ('method_args', ['--model.init_args.st_warmup=500'],
         'method_args must be a mapping (key: value), got a list'),
        ('method_args', {'a': '--model.init_args.lr=0.1'},
         "method_args.a must be a list ([a, b] or - a lines), got '--model.init_args.lr=0.1'"),
        ('strategies', 'random', "strategies must be a list ([a, b] or - a lines), got 'random'"),
        ('ceiling', [True], 'ceiling must be one value, got a list'),
    ],
)  # fmt: skip
def test_a_value_of_the_wrong_shape_is_one_line_naming_file_and_key(
    tmp_path: Path,
    key: str,
    value: object,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = {
        'ratios': [0.5],
        'strategies': ['random'],
        'seeds': [0],
        'methods': {'a': 'configs/ucm_s4gan.yaml'},
        'output': str(tmp_path / 'o'),
    }
    config[key] = value  # fmt: skip
    bad = tmp_path / 'bad.yaml'
    bad.write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit):
        main(['experiment', '--config', str(bad)])
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == f'als4gan experiment: error: {bad}: {message}'
    assert not (tmp_path / 'o').exists()
