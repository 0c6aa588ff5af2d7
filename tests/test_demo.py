from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio

from tests.experiments.test_runner import check_report
from torchgeo_als4gan.demo import CLASSES, make_scene
from torchgeo_als4gan.experiments import load_experiment, markdown_table
from torchgeo_als4gan.main import main

REPO = Path(__file__).parents[1]


def test_make_scene(tmp_path: Path) -> None:
    image, mask = make_scene(tmp_path, size=256, seed=1)
    with rasterio.open(image) as src, rasterio.open(mask) as msk:
        assert src.crs.to_epsg() == 32618 and src.count == 3 and src.nodata == 0
        assert src.transform == msk.transform
        labels = msk.read(1)
        pixels = src.read()
    share = np.bincount(labels.ravel(), minlength=len(CLASSES)) / labels.size
    assert (share > 0).all()  # every class is present
    assert share.argmax() == CLASSES.index('field')
    for rare in ('building', 'road', 'water'):
        assert share[CLASSES.index(rare)] < 0.1
    # textures differ: fields are striped, forest rough, water smooth
    roughness = [np.abs(np.diff(pixels[1].astype(float), axis=1))[labels[:, 1:] == c].mean()
                 for c in range(len(CLASSES))]  # fmt: skip
    assert roughness[CLASSES.index('forest')] > 2 * roughness[CLASSES.index('water')]
    again, _ = make_scene(tmp_path / 'again', size=256, seed=1)
    assert again.read_bytes() == image.read_bytes()
    other, _ = make_scene(tmp_path / 'other', size=256, seed=2)
    assert other.read_bytes() != image.read_bytes()


def test_scene_variation_changes_appearance_not_labels(tmp_path: Path) -> None:
    image, mask = make_scene(tmp_path / 'plain', size=256, seed=3)
    varied, varied_mask = make_scene(
        tmp_path / 'varied', size=256, seed=3, variation=1.0
    )
    assert varied_mask.read_bytes() == mask.read_bytes()
    with (
        rasterio.open(image) as a,
        rasterio.open(varied) as b,
        rasterio.open(mask) as m,
    ):
        plain, changed, labels = (
            a.read().astype(float),
            b.read().astype(float),
            m.read(1),
        )
    field = labels == CLASSES.index('field')

    def spread(pixels: np.ndarray) -> float:
        # spread of the field colour between 32 px blocks of the scene
        means = [pixels[:, y:y + 32, x:x + 32][:, field[y:y + 32, x:x + 32]].mean(axis=1)
                 for y in range(0, 256, 32) for x in range(0, 256, 32)
                 if field[y:y + 32, x:x + 32].sum() > 100]  # fmt: skip
        return float(np.std(means, axis=0).mean())

    assert spread(changed) > 3 * spread(plain)  # the look of a class drifts across
    again, _ = make_scene(tmp_path / 'again', size=256, seed=3, variation=1.0)
    assert again.read_bytes() == varied.read_bytes()
    with pytest.raises(ValueError, match=r'variation must be in \[0, 1\], got 1.5'):
        make_scene(tmp_path / 'bad', size=256, variation=1.5)


def test_demo_runs_the_pipeline_and_refuses_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / 'demo_output'
    args = [
        'demo',
        '--output',
        str(out),
        '--size',
        '192',
        '--epochs',
        '1',
        '--steps',
        '2',
        '--methods',
        'supervised',
        's4gan',
        'self_training',
    ]
    main(args)
    printed = capsys.readouterr().out
    results = pd.read_csv(out / 'experiment' / 'results.csv')
    assert sorted(zip(results['strategy'], results['method'], strict=True)) == [
        ('all', 'supervised'),  # the ceiling: every training patch labelled
        ('entropy', 's4gan'), ('entropy', 'self_training'), ('entropy', 'supervised'),
        ('random', 's4gan'), ('random', 'self_training'), ('random', 'supervised'),
    ]  # fmt: skip
    few = results[results['strategy'] != 'all']
    assert few['labeled'].nunique() == 1
    assert int(results.loc[results['strategy'] == 'all', 'labeled'].iloc[0]) > 3 * int(
        few['labeled'].iloc[0]
    )
    differences = pd.read_csv(out / 'experiment' / 'differences.csv')
    # the table comes from the real runs, with intervals and the noise sentence
    table = markdown_table(results, differences)
    assert table in printed and '[' in table and 'the noise' in table
    assert 'best on val) on the unseen scene' in printed
    assert 'Ceiling (supervised on every training item)' in table
    prediction = out / 'prediction' / 'new_scene_classes.tif'
    with (
        rasterio.open(prediction) as p,
        rasterio.open(out / 'new' / 'imagery' / 'new_scene.tif') as s,
    ):
        assert (p.crs, p.transform, p.shape) == (s.crs, s.transform, s.shape)
    assert (out / 'experiment' / 'label_efficiency.png').is_file()
    check_report(out / 'experiment' / 'report.html', cells=len(results))
    with pytest.raises(SystemExit):
        main(args)
    assert 'pass --overwrite' in capsys.readouterr().err
    # the shipped grids over the demo's output read what the demo wrote
    monkeypatch.chdir(tmp_path)
    for name in ('demo.yaml', 'demo_seeds.yaml'):
        grid = load_experiment(REPO / 'configs' / 'experiments' / name)
        assert grid.seeds == [0, 1, 2] and grid.ceiling
        assert all(path.is_file() for path in grid.methods.values())
    diverse = load_experiment(REPO / 'configs' / 'experiments' / 'demo_diversity.yaml')
    [variant] = [c for c in diverse.cells() if c.strategy == 'stal_spatial'][:1]
    spaced = diverse.loop_config(variant)  # the loop it runs, as built for the grid
    assert (spaced.diversity, spaced.min_distance_m) == ('spatial', 64)
    assert spaced.budget_unit == 'area_km2' and spaced.budgets[-1] == 0.022
    assert spaced.extra_tests == diverse.extra_tests  # the unseen scene, every round
    seeds = load_experiment(REPO / 'configs' / 'experiments' / 'demo_seeds.yaml')
    assert seeds.ratios == [0.1]
    assert set(seeds.methods) == {'supervised', 'self_training'}
    assert len(seeds.cells()) == 3 * 2 * 2 + 3  # + the ceiling per seed
    unseen = seeds.extra_tests['unseen']
    assert '--data.init_args.image_paths=demo_output/new/imagery' in unseen
    assert Path('demo_output/new/imagery/new_scene.tif').is_file()
    # one seed of it, end to end: the unseen scene is scored for queried
    # selections too (their selection file names patches of the demo scene)
    grid_text = (REPO / 'configs' / 'experiments' / 'demo_seeds.yaml').read_text()
    one_seed = tmp_path / 'demo_seeds.yaml'
    one_seed.write_text(grid_text.replace('seeds: [0, 1, 2]', 'seeds: [0]'))
    main(['experiment', '--config', str(one_seed)])
    seeded = pd.read_csv(tmp_path / 'demo_output' / 'seeds' / 'results.csv')
    assert set(seeded['strategy']) == {'random', 'entropy', 'all'}
    assert seeded['test_miou_unseen'].between(0, 1).all()
    assert (seeded['test_items_unseen'] > seeded['test_items']).all()


def test_demo_rejects_small_scene(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(['demo', '--output', str(tmp_path / 'small'), '--size', '64'])
    assert '--size must be at least 192 pixels, got 64' in capsys.readouterr().err
    assert not (tmp_path / 'small').exists()
    with pytest.raises(SystemExit):
        main(['demo', '--output', str(tmp_path / 'small'), '--scene_variation', '2'])
    assert '--scene_variation must be in [0, 1], got 2.0' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(['demo', '--output', str(tmp_path / 'small'), '--methods', 's4gan'])
    assert '--methods must include supervised' in capsys.readouterr().err
    assert not (tmp_path / 'small').exists()
