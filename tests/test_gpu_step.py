"""benchmarks/gpu_step.py: its CPU dry run prints a row per task with real ratios."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).parents[1]


def test_the_gpu_benchmark_dry_run_prints_every_task() -> None:
    done = subprocess.run(
        [sys.executable, 'gpu_step.py', '--dry-run', '--peak-tflops', '1'],
        capture_output=True, text=True, timeout=600, cwd=ROOT / 'benchmarks',
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith('| tiny')]
    assert [row.split('|')[2].strip() for row in rows] == [
        'plain',
        'S4GAN',
        'self-training',
    ]
    ratios = [float(row.split('|')[7]) for row in rows]
    assert ratios[0] == 1.0 and all(r > 1.0 for r in ratios[1:])  # both read 2 batches
    # FLOPs counted for the plain step and self-training; S4GAN's autograd.grad is not
    assert re.search(r'\d+\.\d%', rows[0].split('|')[8])
    assert rows[1].split('|')[8].strip() == '-'
    assert 'FLOPs not counted' in done.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is here: it measures')
def test_without_a_gpu_it_says_so_and_measures_nothing() -> None:
    done = subprocess.run(
        [sys.executable, 'gpu_step.py'], capture_output=True, text=True, timeout=120,
        cwd=ROOT / 'benchmarks',
    )  # fmt: skip
    assert done.returncode == 0
    assert 'no CUDA device here; nothing measured' in done.stdout
