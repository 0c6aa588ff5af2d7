"""``als4gan loop`` in labelling mode: stop for the annotators, resume after ``labels``."""

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml
from shapely.geometry import box

from tests.active.loop.test_loop import FAST
from tests.fixture_args import DATA_ARGS
from torchgeo_als4gan.active.loop import RoundState
from torchgeo_als4gan.main import main

CLASSES = ['background', 'building', 'water']


def labelling_file(tmp_path: Path, **changes: Any) -> Path:
    config: dict[str, Any] = {
        'output': str(tmp_path / 'loop'),
        'method': 'configs/raster_self_training.yaml',
        'mode': 'labelling',
        # 20 pool patches: the 12 train patches the labels cover, 8 outside them
        'budgets': [0.7, 0.9],  # 14 (12 labelled + 2 to draw) -> 18 (+4 to draw)
        'scorer': 'pixel_entropy',
        'device': 'cpu',
        'data_args': [*DATA_ARGS['raster'], '--data.init_args.batch_size=2',
                      '--data.init_args.steps_per_epoch=1', '--data.init_args.num_workers=0'],
        'model_args': ['--model.init_args.model=fcn'],
        'trainer_args': FAST,
        'bootstrap_samples': 20,
    }  # fmt: skip
    config.update(changes)
    path = tmp_path / 'loop.yaml'
    path.write_text(yaml.safe_dump(config))
    return path


def draw(task: Path, tmp_path: Path, name: str) -> Path:
    """An annotator: one 'water' polygon over the left half of every task patch."""
    patches = gpd.read_file(task)
    halves = [
        box(x0, y0, (x0 + x1) / 2, y1)
        for x0, y0, x1, y1 in patches.geometry.bounds.to_numpy()
    ]
    drawn = gpd.GeoDataFrame(
        {'class': ['water'] * len(halves)}, geometry=halves, crs=patches.crs
    )
    path = tmp_path / f'{name}.geojson'
    drawn.to_crs('EPSG:4326').to_file(path, driver='GeoJSON')
    return path


def test_stops_for_labels_and_resumes_after_the_labels_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = labelling_file(tmp_path)
    out = tmp_path / 'loop'
    main(['loop', '--config', str(path)])
    printed = capsys.readouterr().out
    task0 = out / 'round_00' / 'labelling' / 'selection.gpkg'
    assert f'Stopped for labelling: {task0}' in printed
    assert f'als4gan labels --patches {task0}' in printed
    assert f'--classes background building water --output {out / "labels"}' in printed
    assert f'als4gan loop --config {path} --resume' in printed
    assert not (out / 'round_00' / 'run').exists()  # nothing trained yet
    first = gpd.read_file(task0)
    assert len(first) == 2 and first.crs is not None
    assert {'id', 'path', 'geometry'} <= set(first.columns)
    state = RoundState.load(out / 'round_00' / 'state.json')
    assert len(state.selected) == 14 and state.stage == 'selected'

    # resumed before the masks exist: the message names the expected files
    with pytest.raises(SystemExit):
        main(['loop', '--config', str(path), '--resume'])
    error = capsys.readouterr().err
    for pid in first['id']:
        assert repr(str(out / 'labels' / f'{pid}.tif')) in error
    assert 'do not exist' in error and 'als4gan labels --patches' in error

    main(['labels', '--patches', str(task0), '--drawn', str(draw(task0, tmp_path, 'a')),
          '--classes', *CLASSES, '--output', str(out / 'labels')])  # fmt: skip
    main(['loop', '--config', str(path), '--resume'])
    capsys.readouterr()
    task1 = out / 'round_01' / 'labelling' / 'selection.gpkg'
    second = gpd.read_file(task1)
    assert len(second) == 4 and not set(second['id']) & set(first['id'])
    # the increment is the top of round 0's pool scores
    scores = pd.read_csv(out / 'round_00' / 'scores.csv')
    top = scores.sort_values('score', ascending=False)['id'].head(4)
    assert set(top) == set(second['id'])
    # round 0 trained on the drawn masks: its fit read the added labels
    saved = yaml.safe_load((out / 'round_00' / 'run' / 'config.yaml').read_text())
    assert saved['data']['init_args']['added_label_paths'] == str(out / 'labels')
    with rasterio.open(out / 'labels' / f'{first["id"].iloc[0]}.tif') as src:
        mask = src.read(1)
    assert (mask[:, : mask.shape[1] // 2] == 2).all() and (
        mask[:, mask.shape[1] // 2 :] == 0
    ).all()

    main(['labels', '--patches', str(task1), '--drawn', str(draw(task1, tmp_path, 'b')),
          '--classes', *CLASSES, '--output', str(out / 'labels')])  # fmt: skip
    main(['loop', '--config', str(path), '--resume'])
    results = pd.read_csv(out / 'results.csv')
    assert results['round'].tolist() == [0, 1]
    assert results['labeled'].tolist() == [14, 18]
    ids = np.load(out / 'selection' / 'selection.npy').tolist()
    assert set(first['id']) | set(second['id']) <= set(ids) and len(ids) == 18


def test_labelling_mode_needs_a_raster_datamodule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = labelling_file(
        tmp_path, method='configs/ucm_self_training.yaml',
        data_args=[*DATA_ARGS['ucm'], '--data.init_args.batch_size=2'],
    )  # fmt: skip
    with pytest.raises(SystemExit):
        main(['loop', '--config', str(path)])
    assert 'mode: labelling needs a datamodule' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(['loop', '--config', str(labelling_file(tmp_path, mode='manual'))])
    assert 'mode must be one of' in capsys.readouterr().err
