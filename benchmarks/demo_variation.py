"""How far the demo's numbers move between machines, emulated on this one.

The same seeded demo gives slightly different floats on other CPUs: other
kernels (AVX2 vs AVX-512, MKL/oneDNN code paths) and other thread counts sum in
another order, and training amplifies the differences. This script runs
``als4gan demo`` in fresh processes under such variations of this machine:

* ``default``: this CPU's kernels and all its cores;
* ``avx2``: ATen, oneDNN and MKL restricted to AVX2 (a CPU without AVX-512);
* ``1-thread``: one thread (another core count changes reduction order);

then prints every run's table and, per cell, the range over the runs.

Usage: python benchmarks/demo_variation.py [--output DIR] [--runs default avx2 1-thread]
       [--demo-args="--epochs 4"]
"""

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

#: Environment of each emulated machine.
VARIANTS = {
    'default': {},
    'avx2': {
        'ATEN_CPU_CAPABILITY': 'avx2',
        'ONEDNN_MAX_CPU_ISA': 'AVX2',
        'MKL_ENABLE_INSTRUCTIONS': 'AVX2',
    },
    '1-thread': {'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'},
}


def run_demo(name: str, folder: Path, demo_args: list[str]) -> tuple[pd.DataFrame, str]:
    env = {**os.environ, **VARIANTS[name]}
    script = Path(sys.executable).with_name('als4gan')
    start = time.perf_counter()
    done = subprocess.run(
        [str(script), 'demo', '--output', str(folder), '--overwrite', *demo_args],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f'{name}: the demo failed:\n{done.stderr[-3000:]}')
    seconds = time.perf_counter() - start
    unseen = next(
        (line for line in done.stdout.splitlines() if 'on the unseen scene' in line), ''
    )
    results = pd.read_csv(folder / 'experiment' / 'results.csv')
    results['run'] = name
    print(f'== {name} ({seconds:.0f} s) ==')
    print(results[['strategy', 'method', 'test_miou']].to_string(index=False))
    print(unseen)
    return results, unseen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--output', default='output/demo_variation')
    parser.add_argument('--runs', nargs='+', default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument('--demo-args', default='', help='extra als4gan demo arguments')
    args = parser.parse_args()
    frames, unseen = [], {}
    for name in args.runs:
        frame, line = run_demo(
            name, Path(args.output) / name, shlex.split(args.demo_args)
        )
        frames.append(frame)
        unseen[name] = line
    table = pd.concat(frames)
    spread = table.pivot_table(
        index=['strategy', 'method'], columns='run', values='test_miou'
    )
    spread['range'] = spread.max(axis=1) - spread.min(axis=1)
    print('\ntest mIoU per emulated machine, and the range over them')
    print(spread.round(3).to_string())
    print(f'\nlargest range: {spread["range"].max():.3f} mIoU')
    for name, line in unseen.items():
        print(f'{name}: {line.strip()}')


if __name__ == '__main__':
    main()
