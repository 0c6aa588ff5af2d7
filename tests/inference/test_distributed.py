"""Prediction spread over 2 CPU processes writes the same files as one process."""

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from tests.fixture_args import DATA
from torchgeo_als4gan.datasets import GeoImagery
from torchgeo_als4gan.runtime import assign_to_ranks
from torchgeo_als4gan.samplers import RasterTileGeoSampler

ROOT = Path(__file__).parents[2]
IMAGE = DATA / 'georaster' / 'imagery' / 'scene.tif'
#: The console script: Lightning's DDP launcher re-runs the command line.
ALS4GAN = str(Path(sys.executable).with_name('als4gan'))


def test_assign_to_ranks() -> None:
    # largest first, each to the least loaded rank
    assert assign_to_ranks([5, 3, 3, 1], 2) == [[0, 3], [1, 2]]
    assert assign_to_ranks([1, 1, 1], 1) == [[0, 1, 2]]
    assert assign_to_ranks([4, 2], 3) == [[0], [1], []]
    items = [7, 1, 9, 4, 4, 2, 8]
    split = assign_to_ranks(items, 3)
    assert sorted(i for rank in split for i in rank) == list(range(len(items)))
    assert max(sum(items[i] for i in r) for r in split) == 12  # optimum: 35 / 3 -> 12


@pytest.fixture(scope='module')
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three different rasters on one grid (a flipped copy and a smaller crop)."""
    folder = tmp_path_factory.mktemp('scenes')
    with rasterio.open(IMAGE) as src:
        profile, data = src.profile, src.read()
    variants = {'a': data, 'b': data[:, ::-1, ::-1].copy(), 'c': data[:, :40, :50]}
    for name, array in variants.items():
        profile.update(height=array.shape[1], width=array.shape[2])
        with rasterio.open(folder / f'{name}.tif', 'w', **profile) as dst:
            dst.write(array)
    return folder


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ALS4GAN, *args], capture_output=True, text=True, timeout=600, cwd=ROOT
    )


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()


def test_predict_raster_on_two_processes(
    s4gan_checkpoint: Path, scenes: Path, tmp_path: Path
) -> None:
    inputs = [str(scenes / f'{n}.tif') for n in 'abc']
    common = [
        'predict-raster', '--checkpoint', str(s4gan_checkpoint), '--input', *inputs,
        '--patch_size', '32', '--overlap', '8', '--batch_size', '4', '--uncertainty',
        '--probabilities', '--device', 'cpu', '--no_progress',
    ]  # fmt: skip
    one = _run(*common, '--output', str(tmp_path / 'one'), '--vector',
               str(tmp_path / 'one' / 'p.gpkg'))  # fmt: skip
    assert one.returncode == 0, one.stderr[-3000:]
    two = _run(*common, '--output', str(tmp_path / 'two'), '--vector',
               str(tmp_path / 'two' / 'p.gpkg'), '--devices', '2')  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    # a (84 x 60) and b to different ranks, then c (the smallest) to the lighter one
    assert 'rank 0: wrote 2 raster(s): a.tif, c.tif' in two.stdout
    assert 'rank 1: wrote 1 raster(s): b.tif' in two.stdout
    names = sorted(p.name for p in (tmp_path / 'one').iterdir())
    assert names == sorted(p.name for p in (tmp_path / 'two').iterdir())
    assert len(names) == 3 * 3 + 1 and not [n for n in names if n.startswith('.')]
    for name in names:
        if name.endswith('.tif'):
            a, b = _read(tmp_path / 'one' / name), _read(tmp_path / 'two' / name)
            np.testing.assert_allclose(a, b, atol=1e-5, err_msg=name)
    for layer in 'abc':
        a = gpd.read_file(tmp_path / 'one' / 'p.gpkg', layer=layer)
        b = gpd.read_file(tmp_path / 'two' / 'p.gpkg', layer=layer)
        assert len(a) == len(b) and a['pixels'].sum() == b['pixels'].sum()


def test_bad_input_stops_every_process_before_any_tile(
    s4gan_checkpoint: Path, scenes: Path, tmp_path: Path
) -> None:
    one_band = tmp_path / 'gray.tif'
    with rasterio.open(IMAGE) as src:
        profile, data = src.profile, src.read(1)
    profile.update(count=1)
    with rasterio.open(one_band, 'w', **profile) as dst:
        dst.write(data[None])
    out = tmp_path / 'out'
    done = _run(
        'predict-raster', '--checkpoint', str(s4gan_checkpoint), '--input',
        str(scenes / 'a.tif'), str(one_band), '--output', str(out), '--patch_size',
        '32', '--overlap', '8', '--device', 'cpu', '--devices', '2', '--no_progress',
    )  # fmt: skip
    assert done.returncode == 2
    assert "gray.tif' has 1 band(s) but the model was trained on 3" in done.stderr
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == []


def test_sampler_gives_each_rank_whole_files(scenes: Path) -> None:
    imagery = GeoImagery(scenes)
    single = RasterTileGeoSampler(imagery, 32, 8)
    ranks = [RasterTileGeoSampler(imagery, 32, 8, r, 2) for r in range(2)]
    files = [sorted(Path(f).name for f, _, _ in s.files) for s in ranks]
    assert files == [['a.tif', 'c.tif'], ['b.tif']]
    assert sum(len(s) for s in ranks) == len(single)
    assert {Path(f).name for f, _, _ in ranks[1].all_files} == {
        'a.tif',
        'b.tif',
        'c.tif',
    }


def test_lightning_predict_with_the_writer_on_two_processes(
    s4gan_checkpoint: Path, scenes: Path, tmp_path: Path
) -> None:
    out = tmp_path / 'lightning'
    done = _run(
        'predict', '--config', 'configs/raster_s4gan.yaml',
        f'--data.init_args.image_paths={scenes}',
        f'--data.init_args.predict_paths={scenes}',
        '--data.init_args.patch_size=32', '--data.init_args.predict_overlap=8',
        '--data.init_args.batch_size=3', '--data.init_args.mean=[120,110,100]',
        '--data.init_args.std=[60,50,40]', '--model.init_args.model=fcn',
        '--model.init_args.d_width=8', '--trainer.logger=false',
        '--trainer.enable_progress_bar=false', '--trainer.accelerator=cpu',
        '--trainer.devices=2', '--trainer.strategy=ddp',
        f'--trainer.default_root_dir={tmp_path}',
        '--trainer.callbacks+=torchgeo_als4gan.inference.RasterPredictionWriter',
        f'--trainer.callbacks.output_dir={out}', f'--ckpt_path={s4gan_checkpoint}',
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.stdout + done.stderr
    assert '[RasterPredictionWriter] rank 0: wrote 2 raster(s): a.tif, c.tif' in text
    assert '[RasterPredictionWriter] rank 1: wrote 1 raster(s): b.tif' in text
    single = _run(
        'predict-raster', '--checkpoint', str(s4gan_checkpoint), '--input',
        *(str(scenes / f'{n}.tif') for n in 'abc'), '--output', str(tmp_path / 'ref'),
        '--patch_size', '32', '--overlap', '8', '--device', 'cpu', '--no_progress',
    )  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    for name in 'abc':
        a = _read(out / f'{name}_classes.tif')
        b = _read(tmp_path / 'ref' / f'{name}_classes.tif')
        # Kornia vs plain normalization rounding, as on one process
        assert a.shape == b.shape and (a != b).mean() < 0.001, name


def test_a_process_failing_midway_is_reported(
    s4gan_checkpoint: Path, scenes: Path, tmp_path: Path
) -> None:
    # larger than a.tif, so it is rank 0's first raster; b.tif goes to rank 1
    with rasterio.open(IMAGE) as src:
        profile = src.profile
    profile.update(width=256, height=256, tiled=True, blockxsize=64, blockysize=64,
                   compress='deflate')  # fmt: skip
    broken = tmp_path / 'broken.tif'
    with rasterio.open(broken, 'w', **profile) as dst:
        dst.write(np.random.default_rng(3).integers(0, 255, (3, 256, 256), 'uint8'))
    data = broken.read_bytes()
    # tiles in the middle are garbage; the header and the last tile read fine
    # (a file cut short is refused before any tile: tests/checks/test_geo.py)
    middle = len(data) // 2
    broken.write_bytes(data[:middle] + bytes(4096) + data[middle + 4096 :])
    out = tmp_path / 'out'
    done = _run(
        'predict-raster', '--checkpoint', str(s4gan_checkpoint), '--input',
        str(broken), str(scenes / 'b.tif'), '--output', str(out), '--patch_size',
        '32', '--overlap', '8', '--device', 'cpu', '--devices', '2', '--no_progress',
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert 'rank 0: failed: RasterPredictionError' in done.stderr
    assert "broken.tif': reading the window at row" in done.stderr
    # rank 1 finished its raster; the broken one left nothing, not even a temporary
    assert sorted(p.name for p in out.iterdir()) == ['b_classes.tif']
