"""Generated GeoTIFFs and a tiny trained checkpoint for the prediction tests."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import Affine, from_origin
from torch import nn

from tests.fixture_args import DATA_ARGS
from torchgeo_als4gan.inference import SegmentationModel
from torchgeo_als4gan.main import main

CLASSES = ('background', 'building', 'water')


def write_raster(
    path: Path,
    image: np.ndarray,
    crs: str | None,
    transform: Affine,
    nodata: float | None = None,
) -> Path:
    """Write a GeoTIFF (tiled so that windows can be read cheaply)."""
    profile = {
        'driver': 'GTiff', 'width': image.shape[2], 'height': image.shape[1],
        'count': image.shape[0], 'dtype': image.dtype, 'crs': crs,
        'transform': transform, 'nodata': nodata,
    }  # fmt: skip
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(image)
    return path


@pytest.fixture
def utm_raster(tmp_path: Path) -> Path:
    """3-band uint8, EPSG:32633, 150 x 217 (not square, not a multiple of 64), nodata 0."""
    rng = np.random.default_rng(0)
    image = rng.integers(1, 256, (3, 150, 217), dtype=np.uint8)
    image[:, :20, :30] = 0
    transform = from_origin(500000.0, 4600000.0, 10.0, 10.0)
    return write_raster(tmp_path / 'utm.tif', image, 'EPSG:32633', transform, 0)


@pytest.fixture
def geographic_raster(tmp_path: Path) -> Path:
    """3-band uint16, EPSG:4326, 45 x 70 (smaller than a 64 patch in one dimension)."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 1000, (3, 45, 70), dtype=np.uint16)
    transform = from_origin(12.5, 41.9, 0.0001, 0.0001)
    return write_raster(tmp_path / 'wgs84.tif', image, 'EPSG:4326', transform)


def pixelwise_model(
    bands: int = 3, classes: int = 3, seed: int = 0
) -> SegmentationModel:
    """A 1x1-conv model: translation-equivariant, so tiling must not change it."""
    torch.manual_seed(seed)
    network = nn.Conv2d(bands, classes, 1)
    mean, std = torch.full((bands,), 100.0), torch.full((bands,), 50.0)
    return SegmentationModel(network, CLASSES[:classes], bands, mean, std)


@pytest.fixture(scope='session')
def s4gan_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An S4GANTask checkpoint trained for one iteration on the raster fixture."""
    root = tmp_path_factory.mktemp('s4gan_run')
    main([
        'fit', '--config', 'configs/raster_s4gan.yaml', *DATA_ARGS['raster'],
        '--data.init_args.batch_size=2',
        '--data.init_args.steps_per_epoch=1', '--data.init_args.mean=[120,110,100]',
        '--data.init_args.std=[60,50,40]',
        '--model.init_args.model=fcn',
        '--model.init_args.d_width=8', '--trainer.max_epochs=1',
        '--trainer.limit_val_batches=1', '--trainer.logger=false',
        '--trainer.enable_progress_bar=false', '--trainer.accelerator=cpu',
        f'--trainer.default_root_dir={root}',
    ])  # fmt: skip
    return root / 'checkpoints' / 'last.ckpt'
