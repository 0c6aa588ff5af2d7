"""Class 1: pixel values the model never saw, and non-finite pixels and losses."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from tests.checks.conftest import RASTER_FIT, ROOT, write_raster
from tests.fixture_args import DATA_ARGS
from torchgeo_als4gan.checks import (
    NonFiniteLossGuard,
    check_pixel_range,
    file_pixel_statistics,
    mask_non_finite,
)
from torchgeo_als4gan.main import main

SCENE = ROOT / 'tests' / 'data' / 'georaster' / 'imagery' / 'scene.tif'


def scene_as(tmp_path: Path, dtype: str, scale: float = 1.0) -> Path:
    with rasterio.open(SCENE) as src:
        image = (src.read().astype('float64') * scale).astype(dtype)
        transform, crs = src.transform, src.crs
    folder = tmp_path / dtype
    folder.mkdir(exist_ok=True)
    return write_raster(folder / 'scene.tif', image, str(crs), transform)


def test_statistics_and_comparison(tmp_path: Path) -> None:
    trained = file_pixel_statistics([SCENE])
    assert trained is not None and trained['dtype'] == 'uint8'
    assert len(trained['low']) == 3 and all(h <= 255 for h in trained['high'])
    wide = file_pixel_statistics([scene_as(tmp_path, 'uint16', 257.0)])
    assert wide is not None and wide['dtype'] == 'uint16'
    with pytest.raises(
        ValueError,
        match=r'data type uint16 \(the model was trained on uint8\).*band 1 range',
    ):
        check_pixel_range(trained, wide, 'new.tif')
    with pytest.warns(UserWarning, match='--allow_range given: going on'):
        assert check_pixel_range(trained, wide, 'new.tif', allow=True)
    assert check_pixel_range(trained, trained, 'same') == []
    assert check_pixel_range(None, wide, 'old checkpoint') == []


def test_checkpoint_records_the_range_and_predict_raster_compares(
    raster_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = torch.load(raster_checkpoint, map_location='cpu', weights_only=False)
    recorded = next(
        v['inference']['pixel_range'] for v in checkpoint.values()
        if isinstance(v, dict) and 'inference' in v
    )  # fmt: skip
    assert recorded['dtype'] == 'uint8' and recorded['files'] == 1
    wide = scene_as(tmp_path, 'uint16', 257.0)
    args = ['predict-raster', '--checkpoint', str(raster_checkpoint), '--input',
            str(wide), '--output', str(tmp_path / 'out'), '--no_progress',
            '--device', 'cpu']  # fmt: skip
    with pytest.raises(SystemExit):
        main(args)
    err = capsys.readouterr().err
    assert 'data type uint16 (the model was trained on uint8)' in err
    assert '--allow_range' in err and not (tmp_path / 'out').exists()
    with pytest.warns(UserWarning, match='--allow_range given'):
        main([*args, '--allow_range'])
    assert (tmp_path / 'out' / 'scene_classes.tif').exists()


def test_evaluate_compares_the_range(raster_checkpoint: Path, tmp_path: Path) -> None:
    wide = scene_as(tmp_path, 'uint16', 257.0)
    args = [
        'evaluate', '--config', str(ROOT / 'configs' / 'raster_supervised.yaml'),
        *DATA_ARGS['raster'], f'--data.init_args.image_paths={wide.parent}',
        '--model.init_args.model=fcn', '--device=cpu',
        f'--checkpoints={raster_checkpoint.parent}', f'--output={tmp_path / "e.json"}',
    ]  # fmt: skip
    with pytest.raises(SystemExit, match='data type uint16'):
        main(args)
    with pytest.warns(UserWarning, match='going on'):
        main([*args, '--allow_range=true'])


def test_fit_warns_when_normalization_does_not_fit(tmp_path: Path) -> None:
    wide = scene_as(tmp_path, 'uint16', 257.0)
    with pytest.warns(UserWarning, match=r'reaches \d+ standard units'):
        main([*RASTER_FIT, f'--data.init_args.image_paths={wide.parent}',
              '--data.init_args.mean=0', '--data.init_args.std=1',
              f'--trainer.default_root_dir={tmp_path / "run"}'])  # fmt: skip


def test_non_finite_pixels_are_nodata_everywhere(
    raster_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = torch.ones(2, 3, 4, 4)
    image[0, 1, 2, 3] = float('nan')
    image[1, 0, 0, 0] = float('inf')
    mask = torch.zeros(2, 4, 4, dtype=torch.long)
    out, masked, count = mask_non_finite(image, mask, 255)
    assert count == 2 and bool(torch.isfinite(out).all())
    assert (
        masked[0, 2, 3] == 255 and masked[1, 0, 0] == 255 and masked.eq(255).sum() == 2
    )

    # predict-raster: inf / NaN pixels become nodata (255), and the rest is
    # the same as without them (NaN does not spread through the tile)
    with rasterio.open(SCENE) as src:
        clean = src.read().astype('float32')
        transform, crs = src.transform, src.crs
    dirty = clean.copy()
    dirty[:, 30, 40] = np.nan
    dirty[1, 31, 41] = np.inf
    (tmp_path / 'c').mkdir()
    (tmp_path / 'd').mkdir()
    paths = [
        write_raster(tmp_path / 'c' / 'scene.tif', clean, str(crs), transform, 0.0),
        write_raster(tmp_path / 'd' / 'scene.tif', dirty, str(crs), transform, 0.0),
    ]
    classes = []
    for path, out_dir in zip(paths, ('oc', 'od'), strict=True):
        main(['predict-raster', '--checkpoint', str(raster_checkpoint), '--input',
              str(path), '--output', str(tmp_path / out_dir), '--no_progress',
              '--device', 'cpu', '--allow_range'])  # fmt: skip
        with rasterio.open(tmp_path / out_dir / 'scene_classes.tif') as src:
            classes.append(src.read(1))
    assert '2 NaN / inf input pixels written as nodata' in capsys.readouterr().out
    assert classes[1][30, 40] == 255 and classes[1][31, 41] == 255
    same = np.ones_like(classes[0], dtype=bool)
    same[29:33, 39:43] = False  # the two pixels and their blending neighbours
    assert (classes[0][same] == classes[1][same]).mean() > 0.99


def test_fit_on_non_finite_pixels_keeps_the_weights_finite(tmp_path: Path) -> None:
    with rasterio.open(SCENE) as src:
        image = src.read().astype('float32')
        transform, crs = src.transform, src.crs
    image[:, 10:50, 20:60] = np.nan
    image[0, 5, 5] = np.inf
    (tmp_path / 'img').mkdir()
    write_raster(tmp_path / 'img' / 'scene.tif', image, str(crs), transform, 0.0)
    root = tmp_path / 'run'
    main([*RASTER_FIT, f'--data.init_args.image_paths={tmp_path / "img"}',
          f'--trainer.default_root_dir={root}'])  # fmt: skip
    state = torch.load(sorted(root.rglob('*.ckpt'))[-1], weights_only=False)[
        'state_dict'
    ]
    assert all(
        bool(torch.isfinite(v).all()) for v in state.values() if v.is_floating_point()
    )


class _Trainer:
    def __init__(self) -> None:
        self.global_step, self.current_epoch = 7, 0
        self.callback_metrics: dict[str, torch.Tensor] = {}


class _Task:
    def __init__(self) -> None:
        self.hparams = {'lr': 10.0}


def test_a_nan_loss_stops_training_naming_step_and_items() -> None:
    guard = NonFiniteLossGuard()
    batch = {'labeled': {'id': ['a_r0_c0', 'b_r0_c16']}, 'unlabeled': {'id': ['c']}}
    guard.on_train_batch_end(_Trainer(), _Task(), {'loss': torch.tensor(1.0)}, batch, 3)  # type: ignore[arg-type]
    with pytest.raises(
        FloatingPointError,
        match=r'became nan at step 7 .*batch 3.*a_r0_c0, b_r0_c16, c.*lr=10\.0',
    ):
        guard.on_train_batch_end(
            _Trainer(), _Task(), {'loss': torch.tensor(float('nan'))}, batch, 3
        )  # type: ignore[arg-type]
    metrics = _Trainer()
    metrics.callback_metrics = {'train_loss': torch.tensor(float('inf'))}
    with pytest.raises(FloatingPointError, match='became inf'):
        guard.on_train_batch_end(metrics, _Task(), None, batch, 0)  # type: ignore[arg-type]


def test_the_guard_stops_a_real_fit(tmp_path: Path) -> None:
    with pytest.raises(FloatingPointError, match='training loss became'):
        main([*RASTER_FIT, '--model.init_args.lr=1e30',
              '--data.init_args.steps_per_epoch=4',
              f'--trainer.default_root_dir={tmp_path}'])  # fmt: skip
