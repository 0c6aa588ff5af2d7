"""Raster prediction: throughput vs the raw model forward, and peak memory vs raster size.

Writes two generated 3-band uint8 GeoTIFFs (default 2,000 x 2,000 and
8,000 x 8,000 pixels) into a temporary folder and predicts each one with
``predict_raster`` in a fresh child process (so each peak resident memory is its
own). The child that predicts the large raster then runs the raw model forward
(normalize + network + softmax) on exactly the same tiles, reading each batch
outside the timed region, and reports

* (a) prediction throughput / raw forward throughput on the same tiles
  (target >= 0.85). The raw forward is ``SegmentationModel.predict``:
  normalization, network, softmax. Everything else (reading, blending, class
  maps, nodata masks, writing, the COG conversion) must cost < 15 %;
* (b) the peak resident memory of each child, and its growth over the memory
  held after loading the model (target: 2,000^2 and 8,000^2 within 25 %).

    python benchmarks/predict_raster.py [--sizes 2000 8000 --model unet
        --backbone resnet18 --classes 6 --patch-size 512 --overlap 64
        --batch-size 8 --device auto --probabilities --uncertainty]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
import torch
from rasterio.transform import from_origin
from rasterio.windows import Window
from torchgeo.trainers import SemanticSegmentationTask

from torchgeo_als4gan.inference import SegmentationModel, TileGrid, predict_raster


def write_scene(path: Path, size: int) -> None:
    """A textured 3-band scene, written strip by strip (tiled, compressed)."""
    profile = {
        'driver': 'GTiff', 'width': size, 'height': size, 'count': 3, 'dtype': 'uint8',
        'crs': 'EPSG:32633', 'transform': from_origin(400000, 5000000, 0.5, 0.5),
        'tiled': True, 'blockxsize': 512, 'blockysize': 512, 'compress': 'deflate',
        'nodata': 0,
    }  # fmt: skip
    rng = np.random.default_rng(0)
    with rasterio.open(path, 'w', **profile) as dst:
        for top in range(0, size, 512):
            h = min(512, size - top)
            y, x = np.mgrid[top : top + h, 0:size]
            base = ((x // 97 + y // 61) % 5) * 45 + 20
            noise = rng.integers(0, 12, (3, h, size))
            dst.write(
                (base[None] + noise).astype(np.uint8), window=Window(0, top, size, h)
            )


def peak_rss_mib() -> float:
    """Peak resident memory of this process (Linux: KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    """Resident memory of this process now."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def child(args: argparse.Namespace) -> None:
    """Predict one raster and print a JSON line with timings and memory."""
    device = torch.device(
        ('cuda' if torch.cuda.is_available() else 'cpu')
        if args.device == 'auto'
        else args.device
    )
    torch.manual_seed(0)
    task = SemanticSegmentationTask(
        model=args.model, backbone=args.backbone, weights=None, in_channels=3,
        num_classes=args.classes,
    )  # fmt: skip
    model = SegmentationModel(
        task.model, tuple(f'class_{i}' for i in range(args.classes)), 3,
        torch.full((3,), 120.0), torch.full((3,), 60.0),
    ).to(device)  # fmt: skip
    model.predict(torch.zeros(1, 3, args.patch_size, args.patch_size))  # warm-up
    baseline = current_rss_mib()
    start = time.perf_counter()
    [result] = predict_raster(
        model, [args.child], args.output, args.patch_size, args.overlap, args.batch_size,
        probabilities=args.probabilities, uncertainty=args.uncertainty,
        overwrite=True, progress=False,
    )  # fmt: skip
    if device.type == 'cuda':
        torch.cuda.synchronize()
    predict_s = time.perf_counter() - start
    peak = peak_rss_mib()
    report = {
        'tiles': result.tiles, 'predict_s': predict_s, 'peak_mib': peak,
        'baseline_mib': baseline,
    }  # fmt: skip
    if args.forward:
        with rasterio.open(args.child) as src:
            grid = TileGrid(src.height, src.width, args.patch_size, args.overlap)
            tiles = grid.tiles()
            forward_s = 0.0
            for first in range(0, len(tiles), args.batch_size):
                batch = tiles[first : first + args.batch_size]
                images = torch.stack([
                    torch.from_numpy(src.read(
                        window=Window(grid.cols[j], grid.rows[i], args.patch_size, args.patch_size),
                        out_dtype='float32',
                    ))
                    for i, j in batch
                ])  # fmt: skip
                t = time.perf_counter()
                model.predict(images)
                if device.type == 'cuda':
                    torch.cuda.synchronize()
                forward_s += time.perf_counter() - t
        report['forward_s'] = forward_s
    report['device'] = str(device)
    print(json.dumps(report))


def run_child(
    raster: Path, output: Path, args: argparse.Namespace, forward: bool
) -> dict[str, float]:
    command = [
        sys.executable, __file__, '--child', str(raster), '--output', str(output),
        '--model', args.model, '--backbone', args.backbone, '--classes', str(args.classes),
        '--patch_size', str(args.patch_size), '--overlap', str(args.overlap),
        '--batch_size', str(args.batch_size), '--device', args.device,
    ]  # fmt: skip
    if forward:
        command.append('--forward')
    command += ['--probabilities'] * args.probabilities
    command += ['--uncertainty'] * args.uncertainty
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    report: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs=2, default=[2000, 8000])
    parser.add_argument('--model', default='unet')
    parser.add_argument('--backbone', default='resnet18')
    parser.add_argument('--classes', type=int, default=6)
    parser.add_argument('--patch-size', type=int, default=512)
    parser.add_argument('--overlap', type=int, default=64)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--device', default='auto')
    parser.add_argument(
        '--probabilities', action='store_true', help='also write probabilities'
    )
    parser.add_argument('--uncertainty', action='store_true', help='also write entropy')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--output', help=argparse.SUPPRESS)
    parser.add_argument('--forward', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    small, large = args.sizes
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reports = {}
        for size in (small, large):
            raster = folder / f'scene_{size}.tif'
            write_scene(raster, size)
            reports[size] = run_child(
                raster, folder / f'out_{size}', args, size == large
            )
            raster.unlink()
    big = reports[large]
    print(
        f'{args.model}/{args.backbone}, {args.classes} classes, tiles {args.patch_size}'
        f' overlap {args.overlap}, batch {args.batch_size}, device {big["device"]},'
        f' probabilities {args.probabilities}, uncertainty {args.uncertainty}'
    )
    for size, r in reports.items():
        print(
            f'{size} x {size}: {r["tiles"]:.0f} tiles in {r["predict_s"]:.1f} s,'
            f' peak RSS {r["peak_mib"]:.0f} MiB ({r["peak_mib"] - r["baseline_mib"]:.0f}'
            ' MiB above the loaded model)'
        )
    ratio = big['forward_s'] / big['predict_s']
    print(
        f'(a) throughput / raw forward on the same {big["tiles"]:.0f} tiles: {ratio:.3f}'
        f' ({big["tiles"] / big["predict_s"]:.2f} vs {big["tiles"] / big["forward_s"]:.2f}'
        ' tiles/s; target >= 0.85)'
    )
    peaks = reports[large]['peak_mib'] / reports[small]['peak_mib']
    growth = (reports[large]['peak_mib'] - reports[large]['baseline_mib']) / max(
        reports[small]['peak_mib'] - reports[small]['baseline_mib'], 1e-9
    )
    print(
        f'(b) peak memory {large}^2 / {small}^2: {peaks:.3f} (target <= 1.25);'
        f' growth above the loaded model: {growth:.3f}'
    )


if __name__ == '__main__':
    main()
