"""``als4gan demo``: the pipeline so far on a small generated georeferenced scene.

It writes a seeded synthetic scene (GeoTIFF image + GeoTIFF mask, EPSG:32618),
trains TorchGeo's ``SemanticSegmentationTask`` on a random 25 % of its training
patches through :class:`GeoSegmentationDataModule`, tests it on the test blocks and
prints the metrics. Later issues add active learning, S4GAN and raster prediction.
"""

import argparse
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

__all__ = ('main', 'make_scene')

CLASSES = ('background', 'building', 'water')


def make_scene(
    folder: str | os.PathLike[str], size: int = 256, seed: int = 0
) -> tuple[Path, Path]:
    """Write a synthetic scene: textured ground, bright blocky buildings, smooth water.

    Args:
        folder: output folder (created).
        size: side of the scene in pixels.
        seed: random seed.

    Returns:
        Paths of the image and mask GeoTIFFs.
    """
    rng = np.random.default_rng(seed)
    mask = np.zeros((size, size), dtype=np.uint8)
    yy, xx = np.mgrid[:size, :size]
    for _ in range(3):  # water: a few round lakes
        cy, cx = (int(v) for v in rng.integers(0, size, 2))
        r = int(rng.integers(size // 12, size // 6))
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 2
    for _ in range(size // 8):  # buildings: small rectangles, rarer than ground
        y, x = rng.integers(0, size - 12, 2)
        h, w = rng.integers(4, 12, 2)
        mask[y : y + h, x : x + w] = 1
    noise = rng.normal(0, 12, (3, size, size))
    base = np.array([[90, 120, 60], [200, 190, 180], [30, 60, 120]], dtype=float)
    image = base[mask].transpose(2, 0, 1) + noise
    image[:, mask == 0] += 25 * np.sin(xx[mask == 0] / 3.0)  # field texture
    image = np.clip(image, 1, 255).astype(np.uint8)
    out = Path(folder)
    (out / 'imagery').mkdir(parents=True, exist_ok=True)
    (out / 'masks').mkdir(parents=True, exist_ok=True)
    profile = {
        'driver': 'GTiff', 'width': size, 'height': size, 'crs': 'EPSG:32618',
        'transform': from_origin(500000.0, 4100000.0, 1.0, 1.0),
    }  # fmt: skip
    image_path, mask_path = out / 'imagery' / 'scene.tif', out / 'masks' / 'scene.tif'
    with rasterio.open(
        image_path, 'w', count=3, dtype='uint8', nodata=0, **profile
    ) as dst:
        dst.write(image)
    with rasterio.open(mask_path, 'w', count=1, dtype='uint8', **profile) as dst:
        dst.write(mask[None])
    return image_path, mask_path


def main(argv: Sequence[str] | None = None) -> None:
    """Run the demo.

    Args:
        argv: command-line arguments after ``demo``.

    Raises:
        SystemExit: If the output folder exists and ``--overwrite`` is not given.
    """
    parser = argparse.ArgumentParser(prog='als4gan demo', description=__doc__)
    parser.add_argument('--output', default='demo_output', help='output folder')
    parser.add_argument('--epochs', type=int, default=15, help='training epochs')
    parser.add_argument('--size', type=int, default=256, help='scene side in pixels')
    parser.add_argument('--overwrite', action='store_true', help='replace --output')
    args = parser.parse_args(argv)
    if args.size < 192:
        # 32-pixel patches in 2x2 blocks: smaller scenes have no val/test block
        parser.error(f'--size must be at least 192 pixels, got {args.size}')

    from lightning.pytorch import Trainer, seed_everything
    from torchgeo.trainers import SemanticSegmentationTask

    from .datamodules import GeoSegmentationDataModule

    output = Path(args.output)
    if output.exists() and any(output.iterdir()):
        if not args.overwrite:
            parser.error(
                f'output folder {str(output)!r} is not empty; pass --overwrite'
            )
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)
    # generate into a temporary folder, then move: no half-written scene on failure
    with tempfile.TemporaryDirectory(dir=output) as tmp:
        make_scene(tmp, args.size)
        os.replace(tmp, output / 'data')
        os.makedirs(tmp)  # let TemporaryDirectory clean up
    seed_everything(0, workers=True)
    datamodule = GeoSegmentationDataModule(
        image_paths=str(output / 'data' / 'imagery'), label_paths=str(output / 'data' / 'masks'),
        classes=CLASSES, patch_size=32, batch_size=4, labeled_ratio=0.25, unlabeled=False,
        split_block=2, seed=0,
    )  # fmt: skip
    task = SemanticSegmentationTask(
        model='unet', backbone='resnet18', weights=None, in_channels=3,
        num_classes=len(CLASSES), ignore_index=255, lr=1e-3,
    )  # fmt: skip
    trainer = Trainer(
        max_epochs=args.epochs, accelerator='cpu', default_root_dir=str(output / 'logs'),
        log_every_n_steps=1, enable_progress_bar=False,
    )  # fmt: skip
    trainer.fit(task, datamodule=datamodule)
    results = trainer.test(task, datamodule=datamodule, verbose=False)[0]
    print('\nselection x method -> test metrics')
    print(
        '| selection | method | mIoU (test_MulticlassJaccardIndex) | pixel accuracy |'
    )
    print('|---|---|---|---|')
    print(
        f'| random 25% ({len(datamodule.labeled_ids)} patches) | supervised |'
        f' {results.get("test_MulticlassJaccardIndex", float("nan")):.3f} |'
        f' {results.get("test_MulticlassAccuracy", float("nan")):.3f} |'
    )
    print(f'\nwrote: {output / "data"} (scene), {trainer.log_dir} (logs, checkpoints)')
