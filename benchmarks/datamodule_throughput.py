"""Patches/s of the semi-supervised datamodule with and without augmentation.

Writes a synthetic tile folder (seeded) to a temporary directory, then reads the
same labelled patches twice in one run: once plain (read + collate), once with the
Kornia training augmentation applied on the batch (random scale, mirror, crop), as
``on_after_batch_transfer`` does during training. Prints both rates and the ratio.

    python benchmarks/datamodule_throughput.py [--tiles 64] [--size 256] [--device cpu]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
import torch

from torchgeo_als4gan.datamodules import SegmentationTileFolderDataModule


def write_tiles(root: Path, n: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for folder in ('images', 'masks'):
        (root / folder).mkdir(parents=True)
    for i in range(n):
        for folder, count, high in (('images', 3, 256), ('masks', 1, 4)):
            data = rng.integers(0, high, (count, size, size), dtype=np.uint8)
            with rasterio.open(
                root / folder / f't{i:04d}.tif',
                'w',
                driver='GTiff',
                width=size,
                height=size,
                count=count,
                dtype='uint8',
            ) as dst:
                dst.write(data)


def rate(loader, aug, device: torch.device, epochs: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    n = 0
    start = time.perf_counter()
    for _ in range(epochs):
        for batch in loader:
            batch = {
                k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()
            }
            if aug is not None:
                batch = aug(batch)
            n += batch['image'].shape[0]
    if device.type == 'cuda':
        torch.cuda.synchronize()
    return n / (time.perf_counter() - start), n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--tiles', type=int, default=64)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu'
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    with tempfile.TemporaryDirectory() as tmp:
        write_tiles(Path(tmp), args.tiles, args.size)
        dm = SegmentationTileFolderDataModule(
            tmp, classes=['a', 'b', 'c', 'd'], split_fractions=(1.0, 0.0, 0.0),
            batch_size=args.batch_size, unlabeled=False, crop_size=args.size, seed=0,
        )  # fmt: skip
        dm.setup('fit')
        loader = dm.train_dataloader()
        rate(loader, dm.train_aug, device, 1)  # warm-up (file cache, kernels)
        plain, n = rate(loader, None, device, args.epochs)
        augmented, _ = rate(loader, dm.train_aug, device, args.epochs)
    print(f'device: {device}, {n} patches of {args.size}x{args.size} per measurement')
    print(f'read only:           {plain:8.1f} patches/s')
    print(f'read + augmentation: {augmented:8.1f} patches/s')
    print(f'ratio augmented / plain: {augmented / plain:.3f}')


if __name__ == '__main__':
    main()
