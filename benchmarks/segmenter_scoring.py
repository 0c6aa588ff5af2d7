"""Pool scoring throughput and peak memory of the segmenter (``als4gan loop``).

Scores a synthetic pool (patches generated from their index, so the pool itself
takes no memory) with :func:`torchgeo_als4gan.active.loop.score_pool`, exactly as each
round of ``als4gan loop`` does (PoolDataModule -> segmenter softmax ->
per-patch score -> PoolScoreWriter, one float per patch kept), and in the same
process, right after, measures the raw segmenter forward throughput on the same
tiles (only ``task(x)`` timed, batches prepared outside the timer; the whole
pool by default, so that both see the machine in the same state). Each pool size runs in
its own process so that its peak resident memory is its own.

Prints (a) scoring throughput / raw forward throughput (target >= 0.85) and
(b) peak memory at 2,000 and 20,000 patches (target: within 10 %).

    python benchmarks/segmenter_scoring.py [--sizes 2000 20000] [--patch 64] \
        [--batch 64] [--scorer pixel_entropy|pixel_margin|region_impurity]
"""

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from query_scoring import SyntheticPatches, print_report, run_children
from torchgeo.trainers import SemanticSegmentationTask

from torchgeo_als4gan.active.loop import score_pool
from torchgeo_als4gan.datamodules import PoolDataModule, QueryPool
from torchgeo_als4gan.runtime import quiet_known_warnings, quiet_lightning


def child(
    n: int, patch: int, batch: int, raw_items: int, scorer: str
) -> dict[str, Any]:
    torch.manual_seed(0)
    task = SemanticSegmentationTask(
        model='unet', backbone='resnet18', weights=None, num_classes=6
    ).eval()
    pool = QueryPool(
        SyntheticPatches(n, patch), [str(i) for i in range(n)], tuple('0123456789')
    )
    result: dict[str, Any] = {'pool': n}
    with tempfile.TemporaryDirectory() as tmp, quiet_lightning():
        start = time.perf_counter()
        scores = score_pool(
            task, pool, range(n), scorer, Path(tmp), 'bench', batch_size=batch
        )
        result['score_per_s'] = n / (time.perf_counter() - start)
        assert len(scores.indices) == n and scores.scores is not None
    # the scoring's peak (the raw loop below trims nothing and would add its own)
    result['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if raw_items:
        datamodule = PoolDataModule(pool, [], range(n), batch_size=batch)
        loader = datamodule.predict_dataloader()
        seen, elapsed = 0, 0.0
        with torch.inference_mode():
            task(datamodule.aug(next(iter(loader)))['image'])  # warm-up, untimed
            for b in loader:
                x = datamodule.aug(b)['image']
                start = time.perf_counter()
                task(x)
                elapsed += time.perf_counter() - start
                seen += len(x)
                if seen >= raw_items:
                    break
        result['raw_per_s'] = seen / elapsed
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[2000, 20000])
    parser.add_argument('--patch', type=int, default=64)
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--raw-items', type=int, default=20000)
    parser.add_argument('--scorer', default='pixel_entropy')
    parser.add_argument('--child', type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    quiet_known_warnings()
    if args.child is not None:
        print(
            json.dumps(
                child(args.child, args.patch, args.batch, args.raw_items, args.scorer)
            )
        )
        return
    extra = ['--patch', str(args.patch), '--batch', str(args.batch),
             '--raw-items', str(args.raw_items), '--scorer', args.scorer]  # fmt: skip
    results = run_children(__file__, args.sizes, extra)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    print(
        f'device {device}, unet/resnet18, {args.patch}x{args.patch} patches,'
        f' batch {args.batch}, scorer {args.scorer}'
    )
    print_report(results, f'the same patches (up to {args.raw_items})', 0.85)


if __name__ == '__main__':
    main()
