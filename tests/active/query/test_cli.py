from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from tests.fixture_args import DATA_ARGS
from torchgeo_als4gan.active.query import LightningPoolLearner
from torchgeo_als4gan.datamodules import UCMercedDLRSDDataModule
from torchgeo_als4gan.main import main

ROOT = Path(__file__).parents[3]
DATA = ROOT / 'tests' / 'data'

# Overrides that point each shipped query config at the fixture data and budget.
FIXTURES = {
    'ucm_query.yaml': [*DATA_ARGS['ucm'], '--labeled_ratio=0.9', '--alpha=0.4'],
    'deepglobe_query.yaml': [
        *DATA_ARGS['deepglobe'],
        '--labeled_ratio=0.5',
        '--alpha=0.5',
    ],
    'raster_query.yaml': [*DATA_ARGS['raster'], '--labeled_ratio=0.5', '--alpha=0.5'],
    'raster_context_query.yaml': [
        *DATA_ARGS['raster'],
        f'--data.init_args.date_table={DATA / "georaster" / "dates.csv"}',
        '--labeled_ratio=0.5',
        '--alpha=0.5',
    ],
}


def query_args(config: str, output: Path, *extra: str) -> list[str]:
    return [
        'query',
        '--config',
        str(ROOT / 'configs' / config),
        *FIXTURES[config],
        '--model.init_args.model=resnet18',
        '--trainer.max_epochs=1',
        '--trainer.accelerator=cpu',
        '--trainer.enable_progress_bar=false',
        '--trainer.enable_model_summary=false',
        '--num_workers=0',
        '--batch_size=2',
        f'--output={output}',
        *extra,
    ]


def test_every_query_config_is_tested() -> None:
    assert {p.name for p in (ROOT / 'configs').glob('*_query.yaml')} == set(FIXTURES)


def test_ucm_query_outputs_and_determinism(tmp_path: Path) -> None:
    main(query_args('ucm_query.yaml', tmp_path / 'a'))
    main(query_args('ucm_query.yaml', tmp_path / 'b'))
    a = pd.read_csv(tmp_path / 'a' / 'selection.csv')
    b = pd.read_csv(tmp_path / 'b' / 'selection.csv')
    pd.testing.assert_frame_equal(a, b)
    # pool of 6 train tiles: target ceil(0.9 * 6) = 6, seed int(0.4 * 6) = 2, q = 1
    assert len(a) == 6 and a['round'].tolist() == [0, 0, 1, 2, 3, 4]
    assert list(a.columns) == [
        'rank', 'id', 'round', 'score', 'strategy', 'seed', 'cost',
    ]  # fmt: skip
    assert (a['cost'] == 1.0).all()  # the constant cost model: 1 a patch
    assert a['score'].iloc[:2].isna().all() and a['score'].iloc[2:].between(0, 1).all()
    assert (a['strategy'] == 'margin').all() and (a['seed'] == 0).all()
    ids = np.load(tmp_path / 'a' / 'selection.npy')
    assert ids.tolist() == a['id'].tolist()
    assert (tmp_path / 'a' / 'selection.png').stat().st_size > 1000
    assert not list((tmp_path / 'a').glob('.*tmp*')), 'no temporary file left'
    assert len(list((tmp_path / 'a' / 'state').glob('classifier_round*.ckpt'))) == 1

    # the .npy feeds the segmentation datamodule as its labelled set
    datamodule = UCMercedDLRSDDataModule(
        root=DATA / 'ucmerced_dlrsd', tile_size=32, split_fractions=(0.5, 0.25, 0.25),
        selection_file=tmp_path / 'a' / 'selection.npy',
    )  # fmt: skip
    datamodule.setup('fit')
    assert sorted(datamodule.labeled_ids) == sorted(ids.tolist())


def _crashing_fit(real_fit: Any, at_round: int) -> Any:
    """A LightningPoolLearner.fit that is interrupted (Ctrl-C) in one round."""

    def fit(self, round_, labeled, init, save):  # type: ignore[no-untyped-def]
        if round_ == at_round:
            raise KeyboardInterrupt
        real_fit(self, round_, labeled, init, save)

    return fit


def test_interrupted_query_resumes_to_same_selection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = ['--labeled_ratio=0.9', '--alpha=0.4', '--strategy=entropy']
    main(query_args('ucm_query.yaml', tmp_path / 'full', *extra))

    real_fit = LightningPoolLearner.fit
    crash_in_round_2 = _crashing_fit(real_fit, 2)
    monkeypatch.setattr(LightningPoolLearner, 'fit', crash_in_round_2)
    with pytest.raises(KeyboardInterrupt):
        main(query_args('ucm_query.yaml', tmp_path / 'cut', *extra))
    assert not (tmp_path / 'cut' / 'selection.npy').exists()
    # rerunning without --resume must not silently start over
    with pytest.raises(SystemExit, match='already holds a selection .*--resume'):
        main(query_args('ucm_query.yaml', tmp_path / 'cut', *extra))
    monkeypatch.setattr(LightningPoolLearner, 'fit', real_fit)
    main(query_args('ucm_query.yaml', tmp_path / 'cut', *extra, '--resume=true'))
    full = pd.read_csv(tmp_path / 'full' / 'selection.csv')
    resumed = pd.read_csv(tmp_path / 'cut' / 'selection.csv')
    pd.testing.assert_frame_equal(full, resumed)


def test_existing_selection_needs_overwrite(tmp_path: Path) -> None:
    out = tmp_path / 'out'
    args = ['--strategy=random', '--labeled_ratio=0.5']
    main(query_args('ucm_query.yaml', out, *args, '--figures=false'))
    first = pd.read_csv(out / 'selection.csv')
    assert not (out / 'selection.png').exists()
    with pytest.raises(SystemExit, match=f"Output folder '{out}' already holds"):
        main(query_args('ucm_query.yaml', out, *args, '--seed=5'))
    pd.testing.assert_frame_equal(pd.read_csv(out / 'selection.csv'), first)
    main(query_args('ucm_query.yaml', out, *args, '--seed=5', '--overwrite=true'))
    second = pd.read_csv(out / 'selection.csv')
    assert len(second) == len(first) == 3 and (second['seed'] == 5).all()
    assert (out / 'selection.png').exists()


@pytest.mark.parametrize(
    ('extra', 'error', 'match'),
    [
        (['--alpha=0'], SystemExit, r'alpha must be in \(0, 1\], got 0'),
        (['--beta=1.5'], SystemExit, r'beta must be in \(0, 1\], got 1.5'),
        (
            ['--labeled_ratio=0'],
            SystemExit,
            r'labeled_ratio must be in \(0, 1\], got 0',
        ),
        (
            ['--strategy=coreset'],
            SystemExit,
            "Unknown strategy 'coreset'; valid: random",
        ),
        (['--uncertainty=foo'], SystemExit, "Unknown uncertainty 'foo'"),
        (
            ['--label_key=mask'],
            SystemExit,
            "label_key must be 'label' or 'label_multi'",
        ),
        (
            ['--labeled_ratio=1e-13'],
            SystemExit,
            'minimum ratio for this pool is 0.166667',
        ),
        (
            ['--model.init_args.num_classes=5'],
            SystemExit,
            'num_classes=5 but the pool has 21',
        ),
        (
            ['--strategy=bald', '--model.init_args.dropout=0'],
            SystemExit,
            'needs model dropout',
        ),
        (['--min_distance_m=-5'], SystemExit, 'min_distance_m must be a distance >= 0'),
        (
            ['--min_distance_m=50', '--strategy=random'],
            SystemExit,
            "strategy 'random' does not rank by uncertainty",
        ),
        (
            ['--min_distance_m=50', '--stratify_by=scene'],
            SystemExit,
            'min_distance_m and stratify_by cannot be combined',
        ),
        (  # UC Merced tiles have no footprints
            ['--min_distance_m=50', '--strategy=entropy'],
            SystemExit,
            'min_distance_m needs a georeferenced pool',
        ),
    ],
)
def test_bad_arguments_fail_before_training(
    tmp_path: Path, extra: list[str], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        main(query_args('ucm_query.yaml', tmp_path / 'out', *extra))
    assert not (tmp_path / 'out' / 'state').exists()


def test_resume_without_state_starts_fresh(tmp_path: Path) -> None:
    main(query_args('ucm_query.yaml', tmp_path, '--strategy=random', '--resume=true'))
    assert len(np.load(tmp_path / 'selection.npy')) == 6


def test_raster_query_writes_geopackage_and_map(tmp_path: Path) -> None:
    main(
        query_args(
            'raster_query.yaml',
            tmp_path,
            '--strategy=diversity',
            '--uncertainty=entropy',
        )
    )
    frame = gpd.read_file(tmp_path / 'selection.gpkg')
    table = pd.read_csv(tmp_path / 'selection.csv')
    assert frame.crs.to_epsg() == 32618
    assert frame['id'].tolist() == table['id'].tolist()
    assert frame['rank'].tolist() == list(range(1, len(frame) + 1))
    assert {'score', 'round', 'file'} <= set(frame.columns)
    # every footprint is a 16 x 16 pixel square (10 m pixels)
    bounds = frame.geometry.bounds
    assert np.allclose(bounds['maxx'] - bounds['minx'], 160)
    assert np.allclose(bounds['maxy'] - bounds['miny'], 160)
    assert (tmp_path / 'selection_map.png').stat().st_size > 1000
    assert (tmp_path / 'state' / 'embeddings_round001.npy').exists()


def test_deepglobe_multilabel_bald(tmp_path: Path) -> None:
    main(query_args('deepglobe_query.yaml', tmp_path, '--strategy=bald'))
    table = pd.read_csv(tmp_path / 'selection.csv')
    assert table['score'].dropna().ge(0).all()
    assert table['id'].str.match(r'.+_r\d+_c\d+_p16$').all()


def test_ddp_two_cpu_processes(tmp_path: Path) -> None:
    """Scoring and training split across 2 processes give one complete selection."""
    import subprocess
    import sys

    args = query_args(
        'ucm_query.yaml', tmp_path, '--strategy=diversity', '--uncertainty=entropy',
        '--trainer.devices=2', '--trainer.strategy=ddp', '--figures=false',
    )  # fmt: skip
    # Lightning's DDP launcher re-runs the command line, so run the real script
    script = Path(sys.executable).with_name('als4gan')
    done = subprocess.run(
        [str(script), *args], capture_output=True, text=True,
        timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count('wrote') == 2, 'only rank 0 writes (npy + csv)'
    table = pd.read_csv(tmp_path / 'selection.csv')
    assert len(table) == 6 and table['id'].is_unique
    # every pool item was embedded and scored, though each process saw only half
    scores = np.load(tmp_path / 'state' / 'scores_round001.npy')
    assert np.isfinite(scores).all() and scores.shape == (6,)
    embeddings = np.load(tmp_path / 'state' / 'embeddings_round001.npy')
    assert embeddings.shape == (6, 512) and (np.abs(embeddings).sum(1) > 0).all()


def test_raster_selection_names_rasters_by_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(DATA / 'georaster')
    main(
        query_args(
            'raster_query.yaml', tmp_path / 'out', '--strategy=random', '--figures=false',
            '--data.init_args.image_paths=imagery',
        )
    )  # fmt: skip
    monkeypatch.chdir(tmp_path)
    frame = gpd.read_file(tmp_path / 'out' / 'selection.gpkg')
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in frame['path'])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob('*'))
        if p.is_file()
    }


def test_overwrite_keeps_the_old_selection_until_the_new_one_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / 'out'
    args = [
        '--strategy=entropy',
        '--labeled_ratio=0.9',
        '--alpha=0.4',
        '--figures=false',
    ]
    main(query_args('ucm_query.yaml', out, *args))
    before = _snapshot(out)
    assert 'selection.npy' in before and 'state/state.json' in before
    # a typo in the data root and a wrong num_classes fail the checks: nothing lost
    with pytest.raises(SystemExit):
        main(query_args('ucm_query.yaml', out, *args, '--overwrite=true',
                        '--data.init_args.root=/no/such/folder'))  # fmt: skip
    assert _snapshot(out) == before
    with pytest.raises(SystemExit, match='num_classes=5'):
        main(query_args('ucm_query.yaml', out, *args, '--overwrite=true',
                        '--model.init_args.num_classes=5'))  # fmt: skip
    assert _snapshot(out) == before
    # a new run that fails in round 2 restores the previous state
    real_fit = LightningPoolLearner.fit
    crash_in_round_2 = _crashing_fit(real_fit, 2)
    monkeypatch.setattr(LightningPoolLearner, 'fit', crash_in_round_2)
    with pytest.raises(KeyboardInterrupt):
        main(query_args('ucm_query.yaml', out, *args, '--overwrite=true', '--seed=3'))
    assert _snapshot(out) == before
    monkeypatch.setattr(LightningPoolLearner, 'fit', real_fit)
    main(query_args('ucm_query.yaml', out, *args, '--overwrite=true', '--seed=3'))
    assert (pd.read_csv(out / 'selection.csv')['seed'] == 3).all()
    assert not (out / '.state.previous').exists()


def test_resume_with_other_settings_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / 'cut'
    extra = ['--labeled_ratio=0.9', '--alpha=0.4', '--strategy=entropy']
    real_fit = LightningPoolLearner.fit
    crash_in_round_2 = _crashing_fit(real_fit, 2)
    monkeypatch.setattr(LightningPoolLearner, 'fit', crash_in_round_2)
    with pytest.raises(KeyboardInterrupt):
        main(query_args('ucm_query.yaml', out, *extra))
    monkeypatch.setattr(LightningPoolLearner, 'fit', real_fit)
    state = (out / 'state' / 'state.json').read_bytes()
    with pytest.raises(
        SystemExit, match=r'settings differ \(trainer: max_epochs saved 1, now 2\)'
    ):
        main(query_args('ucm_query.yaml', out, *extra, '--resume=true',
                        '--trainer.max_epochs=2'))  # fmt: skip
    with pytest.raises(
        SystemExit, match=r"model: init_args.model saved 'resnet18', now 'resnet34'"
    ):
        main(query_args('ucm_query.yaml', out, *extra, '--resume=true',
                        '--model.init_args.model=resnet34'))  # fmt: skip
    assert (out / 'state' / 'state.json').read_bytes() == state
    # run-time options (devices, progress bar) may change
    main(query_args('ucm_query.yaml', out, *extra, '--resume=true',
                    '--trainer.enable_progress_bar=true'))  # fmt: skip
    assert len(np.load(out / 'selection.npy')) == 6


def test_unwritable_output_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / 'file.txt'
    blocker.write_text('x')
    with pytest.raises(
        SystemExit, match=r"--output '.*file\.txt/out' is not a writable folder"
    ):
        main(query_args('ucm_query.yaml', blocker / 'out', '--strategy=random'))


def test_stratified_query_per_scene(tmp_path: Path) -> None:
    extra = ['--labeled_ratio=0.9', '--alpha=0.4', '--strategy=entropy']
    main(query_args('ucm_query.yaml', tmp_path / 'a', *extra, '--stratify_by=scene'))
    chosen = pd.read_csv(tmp_path / 'a' / 'selection.csv')
    assert len(chosen) == 6  # every train tile, in an order set by the quotas
    with pytest.raises(SystemExit, match="stratify_by 'file' does not apply"):
        main(query_args('ucm_query.yaml', tmp_path / 'b', *extra, '--stratify_by=file'))


def test_context_classifier_learns_from_the_pool_with_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torchgeo_als4gan.trainers import ContextClassifierTask

    seen: list[tuple[bool, bool]] = []
    original = ContextClassifierTask.compute_losses

    def recording(self: Any, labeled: Any, unlabeled: Any, iteration: int) -> Any:
        seen.append((unlabeled is not None, 'metadata' in labeled))
        return original(self, labeled, unlabeled, iteration)

    monkeypatch.setattr(ContextClassifierTask, 'compute_losses', recording)
    main(query_args('raster_context_query.yaml', tmp_path, '--figures=false'))
    table = pd.read_csv(tmp_path / 'selection.csv')
    assert len(table) == len(set(table['id'])) > 0
    # every training step had an unlabelled sub-batch (the unselected pool) and metadata
    assert seen and all(u and m for u, m in seen)
    # without metadata in the pool, the run is refused before training
    with pytest.raises(SystemExit, match='reads metadata, but the pool of .* has none'):
        main(
            query_args(
                'raster_context_query.yaml',
                tmp_path / 'b',
                '--data.init_args.context=false',
            )
        )


def test_spaced_query_rounds(tmp_path: Path) -> None:
    # 16 px patches of 10 m: grid neighbours are 160 m apart, diagonals 226 m
    main(query_args('raster_query.yaml', tmp_path, '--strategy=entropy',
                    '--min_distance_m=200', '--figures=false'))  # fmt: skip
    frame = gpd.read_file(tmp_path / 'selection.gpkg')
    centres = np.column_stack([frame.centroid.x, frame.centroid.y])
    queried = np.flatnonzero(frame['round'].to_numpy() > 0)
    assert len(queried) >= 1
    for i in queried:  # each pick keeps 200 m from the items labelled before it
        earlier = np.flatnonzero(frame['rank'].to_numpy() < frame['rank'].iloc[i])
        assert np.linalg.norm(centres[earlier] - centres[i], axis=1).min() >= 200


def test_area_budget_in_km2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 16 px patches of 10 m: a full patch is 0.0256 km²; edge patches hold less
    main(query_args('raster_query.yaml', tmp_path, '--strategy=entropy',
                    '--labeled_ratio=null', '--budget=0.12', '--budget_unit=area_km2',
                    '--figures=false'))  # fmt: skip
    table = pd.read_csv(tmp_path / 'selection.csv')
    frame = gpd.read_file(tmp_path / 'selection.gpkg')
    assert {'valid_pixels', 'area_km2', 'cost'} <= set(table.columns)
    assert table['area_km2'].sum() <= 0.12 + 1e-9 and (table['area_km2'] > 0).all()
    # km² = valid pixels x 100 m² (10 m pixels)
    np.testing.assert_allclose(table['area_km2'], table['valid_pixels'] * 1e-4)
    # the rounds stop only when what is left buys no other patch
    assert (table['round'] > 0).any()
    out = capsys.readouterr().out
    assert '0.12 km² from' in out
    assert f'spent {len(table)} items' in out and 'km²' in out
    assert frame['area_km2'].tolist() == pytest.approx(table['area_km2'].tolist())


def test_fraction_budget_equals_labeled_ratio(tmp_path: Path) -> None:
    main(query_args('ucm_query.yaml', tmp_path / 'a', '--strategy=entropy'))
    main(query_args('ucm_query.yaml', tmp_path / 'b', '--strategy=entropy',
                    '--labeled_ratio=null', '--budget=0.9'))  # fmt: skip
    a = pd.read_csv(tmp_path / 'a' / 'selection.csv')
    b = pd.read_csv(tmp_path / 'b' / 'selection.csv')
    assert a['id'].tolist() == b['id'].tolist()


@pytest.mark.parametrize(
    ('extra', 'match'),
    [
        (['--budget=0.5'], 'give --labeled_ratio .* or --budget .*, not both'),
        (['--labeled_ratio=null'], r'give --labeled_ratio \(a fraction of the pool\)'),
        (['--budget_unit=area_km2'], 'with --budget_unit area_km2 give the amount as --budget'),
        (['--labeled_ratio=null', '--budget=2', '--budget_unit=hours'],
         'budget_unit must be one of'),
        (['--labeled_ratio=null', '--budget=2.5', '--budget_unit=items'],
         'whole numbers of items'),
        (['--labeled_ratio=null', '--budget=2', '--budget_unit=cost', '--cost_model=file'],
         'cost_file is given with cost_model: file, and only then'),
        (['--labeled_ratio=null', '--budget=5', '--budget_unit=items',
          '--seed_in_selection=false'], '--seed_in_selection false needs a fraction budget'),
        # UC Merced tiles have no footprints: an area cannot be measured
        (['--labeled_ratio=null', '--budget=1', '--budget_unit=area_km2'], 'area_km2'),
        (['--labeled_ratio=null', '--budget=1', '--budget_unit=items', '--alpha=0.5'],
         r'the seed pool .* buys no pool item'),
    ],
)  # fmt: skip
def test_bad_budgets_fail_before_training(
    tmp_path: Path, extra: list[str], match: str
) -> None:
    with pytest.raises(SystemExit, match=match):
        main(query_args('ucm_query.yaml', tmp_path / 'out', *extra))
    assert not (tmp_path / 'out' / 'state').exists()


@pytest.mark.parametrize(
    'config', ['ucm_query.yaml', 'deepglobe_query.yaml', 'raster_query.yaml']
)
def test_calibrated_rounds_fit_a_temperature_on_the_val_items(
    tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    out = tmp_path / 'calibrated'
    # the fixtures' val splits hold a few items: the temperature is called loose
    with pytest.warns(UserWarning, match=r'fitted on only \d+ val items \(bootstrap'):
        main(query_args(config, out, '--strategy=entropy', '--calibrate=temperature'))
    reports = sorted((out / 'state').glob('calibration_round*.json'))
    table = pd.read_csv(out / 'selection.csv')
    scored_rounds = sorted(set(table['round']) - {0})
    assert [int(p.stem[-3:]) for p in reports] == scored_rounds  # one per scoring
    for report in reports:
        fit = json.loads(report.read_text())
        assert 0.01 <= fit['temperature'] <= 100 and fit['val_items'] > 0
        # the temperature minimises the val NLL (T = 1 was a candidate)
        assert fit['nll_after'] <= fit['nll_before'] + 1e-6
        assert fit['temperature_low'] <= fit['temperature_high']
    assert 'temperature' in capsys.readouterr().out
    plain = tmp_path / 'plain'
    main(query_args(config, plain, '--strategy=entropy'))
    assert not list((plain / 'state').glob('calibration_round*.json'))
    # the seeded random seed pool is the same; the scored rounds read logits / T
    assert (
        table['id'].iloc[: table['round'].eq(0).sum()].tolist()
        == (
            pd.read_csv(plain / 'selection.csv')['id'].iloc[
                : table['round'].eq(0).sum()
            ]
        ).tolist()
    )
    # a resume must keep the calibration
    with pytest.raises(SystemExit, match='settings differ'):
        main(query_args(config, plain, '--strategy=entropy', '--resume=true',
                        '--calibrate=temperature'))  # fmt: skip


@pytest.mark.parametrize(
    ('extra', 'match'),
    [
        (['--calibrate=platt'], "calibrate must be 'temperature' or null, got 'platt'"),
        (  # no val split to fit on
            ['--calibrate=temperature',
             '--data.init_args.split_fractions=[1.0, 0.0, 0.0]'],
            'fits on the val split, but it has no items',
        ),
    ],
)  # fmt: skip
def test_bad_calibration_fails_before_training(
    tmp_path: Path, extra: list[str], match: str
) -> None:
    with pytest.raises(SystemExit, match=match):
        main(query_args('ucm_query.yaml', tmp_path / 'out', *extra))
    assert not (tmp_path / 'out' / 'state').exists()
