"""``als4gan loop`` on fixture data: rounds, interruption in every stage, bad input."""

import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import torchgeo_als4gan.active.loop.runner as runner
import torchgeo_als4gan.active.loop.workers as runner_workers
from tests.fixture_args import DATA_ARGS
from tests.html_check import read_page
from torchgeo_als4gan.active.diversity import diverse_rows
from torchgeo_als4gan.active.loop import (
    InitialWeights,
    LoopConfig,
    RoundState,
    load_loop,
)
from torchgeo_als4gan.main import main
from torchgeo_als4gan.models.weights import read_state_dict

FAST = ['--trainer.accelerator=cpu', '--trainer.enable_progress_bar=false',
        '--trainer.enable_model_summary=false', '--trainer.logger=false',
        '--trainer.max_epochs=1']  # fmt: skip


def loop_file(tmp_path: Path, name: str = 'loop', **changes: Any) -> Path:
    config: dict[str, Any] = {
        'output': str(tmp_path / name),
        'method': 'configs/ucm_self_training.yaml',
        'budgets': [0.3, 0.5, 0.8],  # 2 -> 3 -> 5 of the 6 train tiles
        'scorer': 'pixel_entropy',
        'device': 'cpu',
        'data_args': [*DATA_ARGS['ucm'], '--data.init_args.batch_size=2',
                      '--data.init_args.steps_per_epoch=2', '--data.init_args.num_workers=0'],
        'model_args': ['--model.init_args.model=fcn', '--model.init_args.unsup_warmup=1',
                       '--model.init_args.unsup_rampup=0', '--model.init_args.threshold=0.0'],
        'trainer_args': FAST,
        'bootstrap_samples': 50,
    }  # fmt: skip
    config.update(changes)
    path = tmp_path / f'{name}.yaml'
    path.write_text(yaml.safe_dump(config))
    return path


def fast_stal_file(tmp_path: Path, name: str = 'raster', **changes: Any) -> Path:
    """A shipped ``<name>_stal.yaml`` on the fixture data, two short rounds."""
    config = yaml.safe_load((ROOT / 'configs' / f'{name}_stal.yaml').read_text())
    config.update({
        'output': str(tmp_path / 'loop'), 'budgets': [0.3, 0.6], 'device': 'cpu',
        'data_args': [*DATA_ARGS[name], '--data.init_args.batch_size=2',
                      '--data.init_args.num_workers=0', '--data.init_args.steps_per_epoch=1'],
        'model_args': ['--model.init_args.model=fcn'], 'trainer_args': FAST,
        'bootstrap_samples': 20, **changes,
    })  # fmt: skip
    path = tmp_path / 'stal.yaml'
    path.write_text(yaml.safe_dump(config))
    return path


def outcome(folder: Path) -> tuple[pd.DataFrame, list[str]]:
    results = pd.read_csv(folder / 'results.csv')
    ids = pd.read_csv(folder / 'selection' / 'selection.csv', dtype={'id': str})
    return results, list(ids['id'])


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp('whole')
    main(['loop', '--config', str(loop_file(tmp_path))])
    return tmp_path / 'loop'


def test_rounds_add_the_most_uncertain_items(uninterrupted: Path) -> None:
    results, ids = outcome(uninterrupted)
    assert results['round'].tolist() == [0, 1, 2]
    assert results['labeled'].tolist() == [2, 3, 5]
    assert results['test_miou'].between(0, 1).all()
    assert (results['strategy'] == 'pixel_entropy').all()
    assert 'iou_airplane' in results.columns  # per-class IoU named by class
    assert len(ids) == len(set(ids)) == 5
    # every increment is the top of the previous round's pool scores
    for round_ in (0, 1):
        scores = pd.read_csv(uninterrupted / f'round_{round_:02d}' / 'scores.csv')
        state = RoundState.load(
            uninterrupted / f'round_{round_ + 1:02d}' / 'state.json'
        )
        added = [i for i, r in zip(state.selected, state.rounds, strict=True)
                 if r == round_ + 1]  # fmt: skip
        k = len(added)
        top = scores.sort_values('score', ascending=False)['id'].head(k).tolist()
        pool_ids = np.load(uninterrupted / f'round_{round_ + 1:02d}' / 'selection.npy')
        assert set(top) <= set(pool_ids.tolist())
        assert scores['score'].between(0, 1).all()
    assert (uninterrupted / 'results.md').read_text().startswith('| round | labelled')
    assert (uninterrupted / 'label_efficiency.png').stat().st_size > 5_000
    selection = np.load(uninterrupted / 'selection' / 'selection.npy')
    assert selection.tolist() == ids  # feeds selection_file
    page = read_page(uninterrupted / 'report.html')
    assert page.tables == 1 and len(page.images) == 1  # rounds, plot (no map)
    assert 'selection/selection.csv' in page.links


@pytest.mark.parametrize('stage', ['train', 'evaluate', 'score', 'next_round'])
def test_interrupted_in_each_stage_resumes_identically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uninterrupted: Path, stage: str
) -> None:
    path = loop_file(tmp_path)
    real = getattr(runner._Loop, stage)
    calls: list[int] = []

    def interrupted(self: Any, state: RoundState) -> Any:
        calls.append(state.round)
        if len(calls) == 2:  # the second call of that stage (round 1)
            raise KeyboardInterrupt
        return real(self, state)

    monkeypatch.setattr(runner._Loop, stage, interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(['loop', '--config', str(path)])
    monkeypatch.setattr(runner._Loop, stage, real)
    with pytest.raises(SystemExit):  # without --resume an existing run is refused
        main(['loop', '--config', str(path)])
    main(['loop', '--config', str(path), '--resume'])
    got, got_ids = outcome(tmp_path / 'loop')
    expected, expected_ids = outcome(uninterrupted)
    assert got_ids == expected_ids
    columns = ['round', 'labeled', 'val_miou', 'test_miou', 'test_miou_low']
    pd.testing.assert_frame_equal(got[columns], expected[columns])


def test_resume_with_other_settings_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = loop_file(tmp_path, budgets=[0.3])
    main(['loop', '--config', str(path)])
    changed = loop_file(tmp_path, budgets=[0.3], scorer='pixel_margin', seed=1)
    with pytest.raises(SystemExit):
        main(['loop', '--config', str(changed), '--resume'])
    assert 'scorer, seed differ' in capsys.readouterr().err


def test_warm_start_and_random_scorer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[tuple[str, float]] = []
    real = InitialWeights.on_fit_start

    def spy(self: InitialWeights, trainer: Any, module: Any) -> None:
        real(self, trainer, module)
        weight = next(iter(module.state_dict().values()))
        loaded.append((self.checkpoint, float(weight.float().sum())))

    monkeypatch.setattr(InitialWeights, 'on_fit_start', spy)
    path = loop_file(tmp_path, budgets=[0.3, 0.5], scorer='random', warm_start=True)
    main(['loop', '--config', str(path)])
    results, _ = outcome(tmp_path / 'loop')
    assert results['labeled'].tolist() == [2, 3]
    state = RoundState.load(tmp_path / 'loop' / 'round_01' / 'state.json')
    assert np.isnan(state.scores[-1])  # random picks carry no score
    # round 1 started from round 0's chosen checkpoint, round 0 from scratch
    first = RoundState.load(tmp_path / 'loop' / 'round_00' / 'state.json')
    assert first.result is not None
    assert [c for c, _ in loaded] == [first.result['checkpoint']]
    expected = next(iter(read_state_dict(first.result['checkpoint']).values()))
    assert loaded[0][1] == pytest.approx(float(expected.float().sum()))


@pytest.mark.parametrize(('changes', 'message'), [
    ({'budgets': [0.5, 0.3]}, 'strictly increasing'),
    ({'budgets': [0.0, 0.5]}, r'fractions in \(0, 1\]'),
    ({'budgets': [0.5, 1.5]}, r'fractions in \(0, 1\]'),
    ({'budgets': []}, 'non-empty'),
    ({'scorer': 'entropy'}, 'scorer must be one of'),
    ({'stratify_by': 'city'}, 'stratify_by must be one of'),
    ({'region_top': 0}, r'region_top must be in \(0, 1\]'),
    ({'method': 'configs/ucm_query.yaml'}, 'not a segmentation fit config'),
    ({'method': 'configs/missing.yaml'}, 'does not exist'),
    ({'budgets': 0.5}, r'budgets must be a list \(\[a, b\] or - a lines\), got 0.5'),
    ({'slurm': ['nodes']}, r'slurm must be a mapping \(key: value\), got a list'),
    ({'data_args': '--data.init_args.root=x'}, "data_args must be a list"),
    ({'seed': [1, 2]}, 'seed must be one value, got a list'),
    ({'extra_tests': {'b': '--x'}}, r"extra_tests.b must be a list .*, got '--x'"),
])  # fmt: skip
def test_bad_configs_name_the_option(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_loop(loop_file(tmp_path, **changes))


def test_budgets_smaller_than_one_item_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = loop_file(tmp_path, budgets=[0.3, 0.31])  # 2 -> 2 of 6 items
    with pytest.raises(SystemExit):
        main(['loop', '--config', str(path)])
    assert 'every round must add at least one item' in capsys.readouterr().err


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    path = loop_file(tmp_path, budget=[0.5])
    with pytest.raises(ValueError, match=r"unknown keys \['budget'\]"):
        load_loop(path)
    assert isinstance(load_loop(loop_file(tmp_path)), LoopConfig)


ROOT = Path(__file__).parents[3]


def test_every_stal_config_is_tested() -> None:
    shipped = {p.name for p in (ROOT / 'configs').glob('*_stal.yaml')}
    assert shipped == {f'{name}_stal.yaml' for name in ('ucm', 'deepglobe', 'raster')}


@pytest.mark.parametrize('name', ['ucm', 'deepglobe', 'raster'])
def test_shipped_stal_configs_run(tmp_path: Path, name: str) -> None:
    main(['loop', '--config', str(fast_stal_file(tmp_path, name))])
    results, ids = outcome(tmp_path / 'loop')
    assert results['round'].tolist() == [0, 1]
    assert len(ids) == results['labeled'].iloc[-1] > results['labeled'].iloc[0]
    page = read_page(tmp_path / 'loop' / 'report.html')
    if name == 'raster':  # georeferenced pools also get the footprints, drawn
        assert (tmp_path / 'loop' / 'selection' / 'selection.gpkg').is_file()
        assert len(page.images) == 2  # the plot and the map of the rounds
    else:
        assert len(page.images) == 1


def test_a_loop_that_cannot_start_leaves_nothing_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = loop_file(tmp_path, budgets=[0.3], stratify_by='region')
    with pytest.raises(SystemExit):
        main(['loop', '--config', str(bad)])
    assert "stratify_by 'region' needs a georeferenced pool" in capsys.readouterr().err
    missing = loop_file(
        tmp_path, budgets=[0.3], data_args=['--data.init_args.root=/nonexistent']
    )
    with pytest.raises(SystemExit):
        main(['loop', '--config', str(missing)])
    assert 'Dataset not found' in capsys.readouterr().err
    # the same output starts afresh (no --resume needed): nothing was recorded
    main(['loop', '--config', str(loop_file(tmp_path, budgets=[0.3]))])
    assert (tmp_path / 'loop' / 'results.csv').is_file()


def test_scoring_in_two_processes_gives_the_same_scores(
    tmp_path: Path, uninterrupted: Path
) -> None:
    """DDP pool scoring (2 CPU processes, a child command line) = one process."""
    path = loop_file(tmp_path, budgets=[0.3, 0.5], score_devices=2)
    main(['loop', '--config', str(path)])
    got = pd.read_csv(tmp_path / 'loop' / 'round_00' / 'scores.csv')
    expected = pd.read_csv(uninterrupted / 'round_00' / 'scores.csv')
    assert got['id'].tolist() == expected['id'].tolist()
    np.testing.assert_allclose(got['score'], expected['score'], rtol=1e-5)
    # each process scored a share; the gathered table covers the whole pool
    assert len(got) == 4 and got['score'].notna().all()
    assert (tmp_path / 'loop' / 'round_00' / 'scoring_job.json').is_file()
    _, ids = outcome(tmp_path / 'loop')
    _, expected_ids = outcome(uninterrupted)
    assert ids == expected_ids[:3]


def test_a_ddp_method_trains_each_round_as_its_own_fit_process(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    method = tmp_path / 'ddp.yaml'
    config = yaml.safe_load((ROOT / 'configs' / 'ucm_self_training.yaml').read_text())
    config['trainer'].update(devices=2, strategy='ddp', accelerator='cpu')
    method.write_text(yaml.safe_dump(config))
    path = loop_file(tmp_path, budgets=[0.3, 0.5], method=str(method))
    main(['loop', '--config', str(path)])
    results, ids = outcome(tmp_path / 'loop')
    assert results['round'].tolist() == [0, 1] and len(ids) == 3
    assert results['test_miou'].between(0, 1).all()
    out = capfd.readouterr()
    text = out.out + out.err
    assert text.count('as its own multi-process `als4gan fit`') == 2
    assert 'MEMBER: 2/2' in text and 'distributed_backend=gloo' in text  # two ranks


def test_rounds_fitted_as_jobs_give_the_in_process_results(
    tmp_path: Path, uninterrupted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = loop_file(tmp_path, budgets=[0.3, 0.5], executor='slurm',
                     slurm={'cluster': 'local'})  # fmt: skip
    main(['loop', '--config', str(path)])
    results, ids = outcome(tmp_path / 'loop')
    expected, expected_ids = outcome(uninterrupted)
    assert ids == expected_ids[:3]
    np.testing.assert_allclose(results['test_miou'], expected['test_miou'][:2])
    # round 0's pool scoring ran as a job too, with the in-process scores
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / 'loop' / 'round_00' / 'scores.csv'),
        pd.read_csv(uninterrupted / 'round_00' / 'scores.csv'),
    )
    out = capsys.readouterr().out
    assert out.count('submitted as job') == 3
    assert 'round 0 pool scoring: submitted as job' in out
    assert (tmp_path / 'loop' / 'round_01' / 'claim.json').is_file()
    assert (tmp_path / 'loop' / 'round_00' / 'scoring' / 'claim.json').is_file()


def test_a_job_that_finished_after_the_loop_died_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    path = loop_file(tmp_path, budgets=[0.3, 0.5], executor='slurm',
                     slurm={'cluster': 'local'})  # fmt: skip
    main(['loop', '--config', str(path)])
    expected, _ = outcome(tmp_path / 'loop')
    # the loop died while it waited for round 1's job, which went on and ended
    round_1 = tmp_path / 'loop' / 'round_01'
    state = json.loads((round_1 / 'state.json').read_text())
    state.update(stage='selected', result=None, seconds={})
    (round_1 / 'state.json').write_text(json.dumps(state))
    fitted = {p: p.stat().st_mtime_ns for p in (round_1 / 'run').rglob('*.ckpt')}
    assert fitted
    capsys.readouterr()
    main(['loop', '--config', str(path), '--resume'])
    out = capsys.readouterr().out
    job = json.loads((round_1 / 'claim.json').read_text())['job_id']
    assert f'round 1: its fit finished as job {job}; kept' in out
    assert 'submitted as job' not in out  # nothing fitted again
    assert {
        p: p.stat().st_mtime_ns for p in (round_1 / 'run').rglob('*.ckpt')
    } == fitted
    results, _ = outcome(tmp_path / 'loop')
    np.testing.assert_allclose(results['test_miou'], expected['test_miou'])
    # a job that failed leaves nothing to keep: the round is fitted again
    result_file = next((tmp_path / 'loop' / 'slurm').glob(f'{job}_0_result.pkl'))
    result_file.unlink()
    (round_1 / 'state.json').write_text(json.dumps(state))
    main(['loop', '--config', str(path), '--resume'])
    assert 'round 1: submitted as job' in capsys.readouterr().out


def test_a_round_claimed_by_a_running_job_is_not_fitted_again(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    path = loop_file(tmp_path, budgets=[0.3, 0.5], executor='slurm',
                     slurm={'cluster': 'local'})  # fmt: skip
    alive = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        round_0 = tmp_path / 'loop' / 'round_00'
        round_0.mkdir(parents=True)
        (round_0 / 'claim.json').write_text(
            json.dumps({'job_id': str(alive.pid), 'cluster': 'local', 'claimed_at': 0})
        )
        with pytest.raises(
            SystemExit, match=f'round 0: its fit is still running as job {alive.pid}'
        ):
            main(['loop', '--config', str(path)])
    finally:
        alive.kill()
        alive.wait()
    with pytest.raises(ValueError, match='slurm: options need executor: slurm'):
        load_loop(loop_file(tmp_path, 'b', slurm={'nodes': 2}))
    with pytest.raises(ValueError, match=r"slurm: unknown keys \['array'\]"):
        load_loop(loop_file(tmp_path, 'c', executor='slurm', slurm={'array': True}))
    with pytest.raises(ValueError, match="executor must be 'inprocess' or 'slurm'"):
        load_loop(loop_file(tmp_path, 'd', executor='local'))


def test_a_labelled_source_joins_every_round_and_only_the_target_is_scored(
    tmp_path: Path,
) -> None:
    georaster = ROOT / 'tests' / 'data' / 'georaster'
    source = {
        'class_path': 'torchgeo_als4gan.datamodules.GeoSegmentationDataModule',
        'init_args': {
            'image_paths': str(georaster / 'imagery'),
            'label_paths': str(georaster / 'masks'),
            'classes': ['water', 'building', 'background'], 'patch_size': 16,
            'split_block': 1, 'split_fractions': [1.0, 0.0, 0.0], 'num_workers': 0,
        },
    }  # fmt: skip
    path = fast_stal_file(
        tmp_path, source=source, source_ratio=0.5, class_map={'water': 'water'}
    )
    main(['loop', '--config', str(path)])
    results, ids = outcome(tmp_path / 'loop')
    assert results['round'].tolist() == [0, 1]
    # the fits read the joined datamodule: the round's selection on the target side
    saved = yaml.safe_load(
        (tmp_path / 'loop' / 'round_01' / 'run' / 'config.yaml').read_text()
    )
    data = saved['data']
    assert data['class_path'].endswith('SourceTargetDataModule')
    assert data['init_args']['source_ratio'] == 0.5
    target = data['init_args']['target']['init_args']
    assert target['selection_file'].endswith('round_01/selection.npy')
    assert target['labeled_ratio'] is None
    # the pool is the target's train patches only (the source's would double it)
    from torchgeo_als4gan.datamodules import GeoSegmentationDataModule

    target_dm = GeoSegmentationDataModule(
        image_paths=str(georaster / 'imagery'),
        label_paths=str(georaster / 'vectors' / 'labels.geojson'),
        label_name='landcover', classes=['background', 'building', 'water'],
        patch_size=16, split_block=1,
    )  # fmt: skip
    pool = set(target_dm.query_pool().ids)
    scores = pd.read_csv(tmp_path / 'loop' / 'round_00' / 'scores.csv')
    first = int(results['labeled'].iloc[0])
    assert len(scores) + first == len(pool) and set(scores['id']) <= pool
    assert set(ids) <= pool
    with pytest.raises(ValueError, match='source must be a datamodule with class_path'):
        LoopConfig(**{**load_loop(path).__dict__, 'source': {'init_args': {}}})


def test_spaced_rounds_keep_their_patches_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(['loop', '--config', str(fast_stal_file(tmp_path, min_distance_m=200.0))])
    printed = capsys.readouterr().out
    selection = gpd.read_file(tmp_path / 'loop' / 'selection' / 'selection.gpkg')
    centres = np.column_stack([selection.centroid.x, selection.centroid.y])
    first = selection['round'].to_numpy() == 0
    added = np.flatnonzero(~first)
    assert len(added) >= 2  # 16 px patches of 10 m: centres 160 m apart
    filled = 0
    match = re.search(r'only (\d+) of (\d+) patches are 200 m apart', printed)
    if match:
        filled = int(match[2]) - int(match[1])
    spaced = added[np.argsort(selection['rank'].to_numpy()[added])][
        : len(added) - filled
    ]
    for i in spaced:  # apart from every earlier patch and every other spaced one
        others = [j for j in [*np.flatnonzero(first), *spaced] if j != i]
        assert np.linalg.norm(centres[others] - centres[i], axis=1).min() >= 200.0
    with pytest.raises(ValueError, match='min_distance_m must be a distance >= 0'):
        load_loop(loop_file(tmp_path, 'bad', min_distance_m=-1))


def test_rounds_spend_an_area_budget_and_report_it(tmp_path: Path) -> None:
    # 16 px patches of 10 m: 0.0256 km² each where the raster has data
    path = fast_stal_file(tmp_path, budget_unit='area_km2', budgets=[0.06, 0.13])
    main(['loop', '--config', str(path)])
    results, _ = outcome(tmp_path / 'loop')
    selection = pd.read_csv(tmp_path / 'loop' / 'selection' / 'selection.csv')
    assert {'valid_pixels', 'area_km2', 'cost'} <= set(selection.columns)
    assert (selection['area_km2'] > 0).all()  # nothing without data is bought
    assert selection['area_km2'].max() <= 0.0256 + 1e-9
    for r, budget in enumerate([0.06, 0.13]):
        row = results.iloc[r]
        assert row['budget_unit'] == 'area_km2' and row['budget'] == budget
        bought = selection[selection['round'] <= r]
        assert row['spent_area_km2'] == pytest.approx(bought['area_km2'].sum())
        assert row['spent_items'] == len(bought) == row['labeled']
        assert row['spent_pixels'] == pytest.approx(bought['valid_pixels'].sum())
        # within the budget, and no cheaper item left that would still fit
        assert row['spent_area_km2'] <= budget
        assert budget - row['spent_area_km2'] < 0.0256
    assert 'km²' in (tmp_path / 'loop' / 'results.md').read_text()


@pytest.mark.parametrize(
    ('changes', 'message'),
    [
        ({'budget_unit': 'hectares'}, 'budget unit must be one of'),
        ({'budget_unit': 'items', 'budgets': [2, 3.5]}, 'whole numbers of items'),
        ({'cost_model': 'file'}, 'cost_file is given with cost_model: file'),
        ({'cost_model': 'file', 'cost_file': 'nowhere.csv'}, "'nowhere.csv' does not"),
        ({'cost_model': 'minutes'}, 'cost_model must be one of'),
    ],
)
def test_bad_budget_units_and_cost_models_are_refused(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_loop(loop_file(tmp_path, **changes))


def test_area_budgets_on_a_pool_without_footprints_are_refused_before_a_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = loop_file(tmp_path, budget_unit='area_km2', budgets=[1.0, 2.0])
    with pytest.raises(SystemExit):
        main(['loop', '--config', str(path)])
    assert (
        "budgets in ['area_km2'] need a georeferenced pool" in capsys.readouterr().err
    )
    assert not list((tmp_path / 'loop').glob('round_*'))


def test_calibrated_rounds_score_the_pool_at_the_fitted_temperature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[float] = []
    original = runner_workers.score_pool

    def spy(*args: Any, **kwargs: Any) -> Any:
        used.append(kwargs['temperature'])
        return original(*args, **kwargs)

    monkeypatch.setattr(runner_workers, 'score_pool', spy)
    main(['loop', '--config', str(fast_stal_file(tmp_path, calibrate='temperature'))])
    state = RoundState.load(tmp_path / 'loop' / 'round_00' / 'state.json')
    assert state.result is not None
    stored = torch.load(state.result['checkpoint'], weights_only=False)['calibration']
    assert stored['temperature'] > 0 and stored['pixels'] > 0
    assert used == [pytest.approx(stored['temperature'])]  # round 0 scored the pool
    with pytest.raises(ValueError, match="calibrate must be 'temperature' or null"):
        load_loop(loop_file(tmp_path, 'bad', calibrate='platt'))


@pytest.mark.parametrize('diversity', ['feature', 'badge'])
def test_diverse_rounds_choose_from_the_segmenters_embeddings(
    tmp_path: Path, diversity: str
) -> None:
    path = fast_stal_file(tmp_path, diversity=diversity, diversity_candidates=2)
    main(['loop', '--config', str(path)])
    config = load_loop(path)
    folder = tmp_path / 'loop' / 'round_00'
    embeddings = np.load(folder / 'embeddings_pool.npy')
    first = RoundState.load(folder / 'state.json')
    second = RoundState.load(tmp_path / 'loop' / 'round_01' / 'state.json')
    ids = list(pd.read_csv(folder / 'scores.csv', dtype={'id': str})['id'])
    assert embeddings.shape[0] == len(ids) + len(first.selected)
    if diversity == 'badge':  # classes x features of the fcn's last layer (3 x 3)
        assert embeddings.shape[1] == 9
    scored = np.setdiff1d(np.arange(len(embeddings)), first.selected)
    assert np.abs(embeddings[scored]).sum(axis=1).min() > 0  # every item embedded
    if diversity == 'feature':  # the labelled items' features are the first centres
        assert np.abs(embeddings[first.selected]).sum(axis=1).min() > 0
    # the round's picks are the pure function's choice from the saved arrays
    table = pd.read_csv(folder / 'scores.csv', dtype={'id': str})
    position = {pid: i for i, pid in enumerate(runner._Loop(config, print).ids)}
    items = np.asarray([position[i] for i in table['id']])
    added = second.selected[len(first.selected) :]
    labelled = embeddings[np.sort(first.selected)] if diversity == 'feature' else None
    rows = diverse_rows(
        diversity, embeddings[items], table['score'].to_numpy(), items, len(added),
        True, [config.seed, 1], None, 2, labelled,
    )  # fmt: skip
    assert items[rows].tolist() == added
    with pytest.raises(ValueError, match=f'{diversity} and min_distance_m cannot'):
        load_loop(fast_stal_file(tmp_path, diversity=diversity, min_distance_m=50.0))


def test_seed_option_overrides_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = loop_file(tmp_path)
    assert load_loop(path).seed == 0
    assert load_loop(path, (), {'seed': 5}).seed == 5
    with pytest.raises(SystemExit) as exit_info:
        main(['loop', '--config', str(path), '--seed', '-3'])
    assert exit_info.value.code == 2
    assert 'seed must be an integer in [0, 4294967295], got -3' in (
        capsys.readouterr().err
    )
    assert not (tmp_path / 'loop').exists()


def test_device_options_override_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = loop_file(tmp_path, device='cpu')
    config = load_loop(path, (), {'device': 'auto', 'score_devices': 2})
    assert (config.device, config.score_devices) == ('auto', 2)
    for bad, match in ((['--device', 'tpu:0']), "device 'tpu:0' is not a device"), (
                       ['--devices', '0'], '--devices must be a positive integer'):  # fmt: skip
        with pytest.raises(SystemExit) as exit_info:
            main(['loop', '--config', str(path), *bad])
        assert re.search(match, f'{exit_info.value} {capsys.readouterr().err}')
    assert not (tmp_path / 'loop').exists()
