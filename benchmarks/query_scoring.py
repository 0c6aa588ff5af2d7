"""Pool scoring throughput and peak memory of the active learner.

Scores a synthetic pool (patches generated from their index, so the pool itself
takes no memory) with ``trainer.predict`` exactly as ``als4gan query`` does
(PoolDataModule -> ActiveLearnerTask.score_batch -> PoolScoreWriter), and in the
same process measures the raw classifier forward throughput on the same tiles
(only ``model(x)`` timed, batches prepared outside the timer). Each pool size runs
in its own process so that its peak resident memory is its own.

Prints (a) scoring throughput / raw forward throughput (target >= 0.9) and
(b) peak memory at 2,000 and 20,000 patches (target: within 10 %).

    python benchmarks/query_scoring.py [--sizes 2000 20000] [--patch 64] [--batch 128]
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from lightning import Trainer
from torch.utils.data import Dataset

from torchgeo_als4gan.active import get_strategy
from torchgeo_als4gan.active.query import PoolScoreWriter
from torchgeo_als4gan.datamodules import PoolDataModule, QueryPool
from torchgeo_als4gan.trainers import ActiveLearnerTask


class SyntheticPatches(Dataset[dict[str, Any]]):
    """Patch ``i`` is drawn from a generator seeded with ``i``."""

    def __init__(self, n: int, size: int) -> None:
        self.n, self.size = n, size

    def __getitem__(self, index: int) -> dict[str, Any]:
        g = torch.Generator().manual_seed(index)
        image = torch.randint(0, 256, (3, self.size, self.size), generator=g).float()
        return {'image': image, 'label': torch.tensor(index % 10)}

    def __len__(self) -> int:
        return self.n


def child(
    n: int, patch: int, batch: int, raw_items: int, workers: int
) -> dict[str, Any]:
    torch.manual_seed(0)
    model = ActiveLearnerTask(model='resnet18', num_classes=10).eval()
    pool = QueryPool(
        SyntheticPatches(n, patch), [str(i) for i in range(n)], tuple('0123456789')
    )
    result: dict[str, Any] = {'pool': n}
    datamodule = PoolDataModule(
        pool, [], range(n), batch_size=batch, num_workers=workers
    )
    if raw_items:
        loader = datamodule.predict_dataloader()
        seen, elapsed = 0, 0.0
        with torch.inference_mode():
            model(datamodule.aug(next(iter(loader)))['image'])  # warm-up, untimed
            for b in loader:
                x = datamodule.aug(b)['image']
                start = time.perf_counter()
                model(x)
                elapsed += time.perf_counter() - start
                seen += len(x)
                if seen >= raw_items:
                    break
        result['raw_per_s'] = seen / elapsed
    model.query_strategy = get_strategy('entropy')
    with tempfile.TemporaryDirectory() as tmp:
        writer = PoolScoreWriter(Path(tmp), n, 'bench')
        trainer = Trainer(
            accelerator='auto', devices=1, logger=False, enable_progress_bar=False,
            enable_model_summary=False, callbacks=[writer], default_root_dir=tmp,
        )  # fmt: skip
        start = time.perf_counter()
        trainer.predict(model, datamodule=datamodule, return_predictions=False)
        result['score_per_s'] = n / (time.perf_counter() - start)
        assert writer.result is not None and len(writer.result.indices) == n
    result['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if torch.cuda.is_available():
        result['peak_cuda_mb'] = torch.cuda.max_memory_allocated() / 2**20
    return result


def run_children(
    script: str, sizes: list[int], extra: list[str]
) -> list[dict[str, Any]]:
    """Run ``script --child N`` in a fresh process per pool size; their JSON lines.

    Args:
        script: the benchmark file.
        sizes: pool sizes.
        extra: more arguments of every child.

    Returns:
        One result per size.
    """
    results = []
    for n in sizes:
        cmd = [sys.executable, script, '--child', str(n), *extra]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def print_report(results: list[dict[str, Any]], raw_label: str, target: float) -> None:
    """Print the table, (a) scoring / raw forward and (b) the peak memory ratio.

    Args:
        results: the children's results.
        raw_label: what the raw forward was timed on.
        target: the throughput target of (a).
    """
    print('| pool | scoring patches/s | peak RSS MiB |')
    print('|---:|---:|---:|')
    for r in results:
        print(f'| {r["pool"]} | {r["score_per_s"]:.0f} | {r["peak_rss_mb"]:.0f} |')
    big = max(results, key=lambda r: r['pool'])
    small = min(results, key=lambda r: r['pool'])
    print(f'raw forward, {raw_label}: {big["raw_per_s"]:.0f} patches/s')
    throughput = big['score_per_s'] / big['raw_per_s']
    print(
        f'(a) scoring / raw forward throughput: {throughput:.3f} (target >= {target})'
    )
    ratio = big['peak_rss_mb'] / small['peak_rss_mb']
    print(
        f'(b) peak RSS {big["pool"]} / {small["pool"]}: {ratio:.3f} (target within 10%: <= 1.10)'
    )
    if 'peak_cuda_mb' in big:
        print(
            f'    peak CUDA {big["peak_cuda_mb"]:.0f} vs {small["peak_cuda_mb"]:.0f} MiB'
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[2000, 20000])
    parser.add_argument('--patch', type=int, default=64)
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--raw-items', type=int, default=4096)
    parser.add_argument('--workers', type=int, default=0)
    parser.add_argument('--child', type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument('--measure-raw', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        raw = args.raw_items if args.measure_raw else 0
        print(json.dumps(child(args.child, args.patch, args.batch, raw, args.workers)))
        return
    extra = ['--patch', str(args.patch), '--batch', str(args.batch),
             '--raw-items', str(args.raw_items), '--workers', str(args.workers),
             '--measure-raw']  # in every child, so their peaks compare  # fmt: skip
    results = run_children(__file__, args.sizes, extra)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    print(
        f'device {device}, resnet18, {args.patch}x{args.patch} patches, batch {args.batch}'
    )
    print_report(results, f'first {args.raw_items} patches', 0.9)


if __name__ == '__main__':
    main()
