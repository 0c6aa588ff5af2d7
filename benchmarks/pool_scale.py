"""How pool scoring scales: 10^4 and 10^5 generated patches, extrapolated to 10^7.

Scores generated pools (a patch is drawn from its index: the pool itself takes
no memory) exactly as ``als4gan query`` does, each size in its own process (see
``query_scoring.py``, whose child this runs), and prints:

* patches/s and peak resident memory per pool size, and the memory ratio
  between the largest and the smallest pool (target <= 1.10: nothing grows with
  the pool but one float per item);
* the time a 10^6 and a 10^7-patch pool would take on 1, 2, 4 and 8 devices at
  the measured rate. Several devices split the pool (``score_devices`` of the
  loop, DDP in the query), so the time divides by the device count as long as
  data loading keeps up; that is the assumption of the table, not a measurement.

    python benchmarks/pool_scale.py [--sizes 10000 100000] [--patch 64] [--batch 128]
"""

import argparse
import sys
from pathlib import Path

from query_scoring import child, run_children


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[10_000, 100_000])
    parser.add_argument('--patch', type=int, default=64)
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--workers', type=int, default=0)
    parser.add_argument('--child', type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        import json

        print(json.dumps(child(args.child, args.patch, args.batch, 0, args.workers)))
        return
    extra = ['--patch', str(args.patch), '--batch', str(args.batch),
             '--workers', str(args.workers)]  # fmt: skip
    results = run_children(str(Path(__file__)), args.sizes, extra)
    print(f'ResNet-18 entropy scoring, {args.patch} x {args.patch} patches, batch'
          f' {args.batch}, {args.workers} loader workers')  # fmt: skip
    print('| pool | patches/s | peak RSS MiB |')
    print('|---:|---:|---:|')
    for r in results:
        print(f'| {r["pool"]:,} | {r["score_per_s"]:.0f} | {r["peak_rss_mb"]:.0f} |')
    ratio = results[-1]['peak_rss_mb'] / results[0]['peak_rss_mb']
    print(f'peak memory {results[-1]["pool"]:,} / {results[0]["pool"]:,}: {ratio:.3f}'
          ' (target <= 1.10)')  # fmt: skip
    rate = results[-1]['score_per_s']
    print(f'\nsizing from the {results[-1]["pool"]:,}-patch rate ({rate:.0f} patches/s'
          ' on one device), assuming devices split the pool evenly:')  # fmt: skip
    print('| pool | 1 device | 2 | 4 | 8 |')
    print('|---:|---:|---:|---:|---:|')
    for pool in (10**6, 10**7):
        cells = [f'{pool / (rate * n) / 3600:.2f} h' for n in (1, 2, 4, 8)]
        print(f'| {pool:,} | ' + ' | '.join(cells) + ' |')
    sys.stdout.flush()


if __name__ == '__main__':
    main()
