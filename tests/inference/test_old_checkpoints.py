"""Checkpoints saved by the release before the restructuring still load.

The files under tests/data/old_checkpoints/ were written by commit e729b69
(see its data.py); the key names, hyperparameters and inference metadata in
them are that release's.
"""

import json
import shutil
from pathlib import Path

import pytest
import rasterio
import torch

from tests.fixture_args import DATA, DATA_ARGS
from torchgeo_als4gan.inference import load_segmentation_checkpoint
from torchgeo_als4gan.main import main

ROOT = Path(__file__).parents[2]
OLD = DATA / 'old_checkpoints'
IMAGE = DATA / 'georaster' / 'imagery' / 'scene.tif'
CONFIGS = {'self_training': 'raster_self_training.yaml', 's4gan': 'raster_s4gan.yaml'}


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_old_checkpoint_predicts_a_raster(name: str, tmp_path: Path) -> None:
    checkpoint = OLD / f'{name}.ckpt'
    model = load_segmentation_checkpoint(checkpoint)
    assert model.in_channels == 3 and len(model.classes) == 3
    probs, _ = model.predict(torch.rand(1, 3, 16, 16) * 255)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(1, 16, 16))
    out = tmp_path / 'pred'
    main([
        'predict-raster', '--checkpoint', str(checkpoint), '--input', str(IMAGE),
        '--output', str(out), '--patch_size', '16', '--overlap', '4', '--device', 'cpu',
        '--no_progress',
    ])  # fmt: skip
    with rasterio.open(out / 'scene_classes.tif') as dst, rasterio.open(IMAGE) as src:
        assert (dst.crs, dst.transform) == (src.crs, src.transform)
        assert set(dst.read(1).ravel().tolist()) <= {0, 1, 2, 255}


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_old_checkpoint_is_evaluated(name: str, tmp_path: Path) -> None:
    folder = tmp_path / 'checkpoints'
    folder.mkdir()
    shutil.copyfile(OLD / f'{name}.ckpt', folder / f'{name}.ckpt')
    main([
        'evaluate', '--config', str(ROOT / 'configs' / CONFIGS[name]),
        *DATA_ARGS['raster'], '--model.init_args.model=fcn',
        *(['--model.init_args.d_width=8'] if name == 's4gan' else []),
        f'--checkpoints={folder}', '--split=val', '--device=cpu',
    ])  # fmt: skip
    report = json.loads((folder / 'evaluation_val.json').read_text())
    [row] = report['checkpoints']
    assert 0 <= row['miou'] <= 1 and report['unreadable'] == []
