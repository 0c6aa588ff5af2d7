"""Shared fixtures of the fault-class tests: rasters, a tiny checkpoint, folder digests."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine, from_origin

from tests.fixture_args import DATA_ARGS
from torchgeo_als4gan.main import main

ROOT = Path(__file__).parents[2]
FAST = [
    '--trainer.accelerator=cpu', '--trainer.enable_progress_bar=false',
    '--trainer.enable_model_summary=false', '--trainer.logger=false',
    '--trainer.max_epochs=1', '--trainer.limit_val_batches=1',
]  # fmt: skip
#: A supervised raster fit, as small as it gets.
RASTER_FIT = [
    'fit', '--config', str(ROOT / 'configs' / 'raster_supervised.yaml'),
    *DATA_ARGS['raster'], '--data.init_args.batch_size=2',
    '--data.init_args.steps_per_epoch=1', '--model.init_args.model=fcn', *FAST,
]  # fmt: skip
TRANSFORM = from_origin(500000.0, 4100000.0, 10.0, 10.0)


def write_raster(
    path: Path,
    image: np.ndarray,
    crs: str | None = 'EPSG:32618',
    transform: Affine | None = TRANSFORM,
    nodata: float | None = None,
) -> Path:
    """Write a GeoTIFF (no transform when ``transform`` is None)."""
    profile = {
        'driver': 'GTiff', 'width': image.shape[2], 'height': image.shape[1],
        'count': image.shape[0], 'dtype': image.dtype, 'nodata': nodata,
    }  # fmt: skip
    if crs is not None:
        profile['crs'] = crs
    if transform is not None:
        profile['transform'] = transform
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(image)
    return path


def tree_digest(folder: Path) -> dict[str, str]:
    """md5 of every file under a folder, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob('*'))
        if p.is_file()
    }


@pytest.fixture(scope='session')
def raster_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SemanticSegmentationTask checkpoint of the uint8 raster fixture."""
    root = tmp_path_factory.mktemp('fit')
    main([*RASTER_FIT, f'--trainer.default_root_dir={root}'])
    found = sorted(root.rglob('*.ckpt'))
    assert found
    return found[-1]
