"""Executors of the experiment grid: child processes here, or SLURM jobs.

``executor: local``: every cell its own process, ``max_parallel`` at once.

Each cell runs in a child Python process (:mod:`.cell_worker`: the same
selection, fit and evaluation as in process) writing its log to
``runs/<cell>/cell.log`` and its result row to ``runs/<cell>/cell_result.json``.
Children get disjoint GPUs (``gpus_per_cell`` of the visible ones each, through
``CUDA_VISIBLE_DEVICES``) and die with the runner on Linux, so a killed grid
leaves no fit behind; the same command then reruns the unfinished cells.

``executor: slurm``: every cell one SLURM job through submitit, or one task
of a job array (``array: true``, ``array_parallelism``) (``slurm:``
options: partition, gpus_per_node, nodes, time_min, cpus_per_task, mem_gb,
sbatch: extra ``#SBATCH`` flags; ``cluster: local`` or ``debug`` run the same
jobs through submitit's executors without a cluster). A preempted or timed-out
job is requeued (submitit's checkpoint hook) and its cell runs again.
"""

import contextlib
import ctypes
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..files import atomic_write
from ..runs.claims import write_claim
from ..runs.slurm import RequeuedCall, slurm_executor
from .config import Cell, ExperimentConfig

__all__ = (
    'EXECUTORS',
    'CellProcessError',
    'finished_row',
    'gpu_slots',
    'run_in_children',
    'run_on_slurm',
)  # fmt: skip

#: How cells run: in this process one after the other, or as child processes.
EXECUTORS = ('inprocess', 'local', 'slurm')
JOB_FILE, RESULT_FILE, LOG_FILE = 'cell_job.pkl', 'cell_result.json', 'cell.log'
WORKER = 'torchgeo_als4gan.experiments.cell_worker'


class CellProcessError(RuntimeError):
    """A cell's child process failed; the message ends with its log's last lines."""


def gpu_slots(max_parallel: int, gpus_per_cell: int) -> list[str | None]:
    """The GPUs of each parallel slot, never one GPU in two slots.

    Args:
        max_parallel: cells at once.
        gpus_per_cell: GPUs each (0: leave device selection to the cells).

    Returns:
        One ``CUDA_VISIBLE_DEVICES`` value per slot (None: unchanged).

    Raises:
        ValueError: If fewer GPUs are visible than the slots need.
    """
    if gpus_per_cell == 0:
        return [None] * max_parallel
    listed = os.environ.get('CUDA_VISIBLE_DEVICES')
    if listed is not None:
        visible = [g.strip() for g in listed.split(',') if g.strip()]
    else:
        import torch

        visible = [str(i) for i in range(torch.cuda.device_count())]
    need = max_parallel * gpus_per_cell
    if len(visible) < need:
        msg = (
            f'max_parallel {max_parallel} x gpus_per_cell {gpus_per_cell} needs {need}'
            f' GPUs; {len(visible)} visible ({visible})'
        )
        raise ValueError(msg)
    g = gpus_per_cell
    return [','.join(visible[i * g : (i + 1) * g]) for i in range(max_parallel)]


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the runner dies (Linux; elsewhere no-op)."""
    if sys.platform.startswith('linux'):
        libc = ctypes.CDLL('libc.so.6', use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _tail(path: Path, lines: int = 15) -> str:
    if not path.is_file():
        return '(no log)'
    return '\n'.join(path.read_text(errors='replace').splitlines()[-lines:])


def finished_row(run: Path) -> dict[str, Any] | None:
    """The result row a cell's process or job wrote into its folder, if any.

    Args:
        run: the cell's run folder.

    Returns:
        The row of ``cell_result.json``, or None.
    """
    result = run / RESULT_FILE
    if not result.is_file():
        return None
    row: dict[str, Any] = json.loads(result.read_text())
    return row


def _child_outcome(run: Path, returncode: int) -> dict[str, Any] | CellProcessError:
    """The row a finished cell process wrote, or its failure with its log's end."""
    row = finished_row(run) if returncode == 0 else None
    if row is not None:
        return row
    return CellProcessError(
        f'child process exited with status {returncode}; the end of'
        f' {os.fspath(run / LOG_FILE)}:\n{_tail(run / LOG_FILE)}'
    )


def run_in_children(
    config: ExperimentConfig,
    todo: Sequence[tuple[str, Cell, Path]],
    log: Callable[[str], None],
) -> Iterator[tuple[Cell, dict[str, Any] | BaseException, float]]:
    """Run cells as child processes, ``config.max_parallel`` at once.

    Args:
        config: the experiment.
        todo: (log tag, cell, run folder) of every cell to run, in order.
        log: where progress lines go.

    Yields:
        Each cell as it finishes: its result row or the error, and seconds.
    """
    slots = gpu_slots(config.max_parallel, config.gpus_per_cell)
    pending = list(todo)
    free = list(range(len(slots)))
    running: dict[int, tuple[subprocess.Popen[bytes], Cell, Path, float, Any]] = {}
    try:
        while pending or running:
            while pending and free:
                slot = free.pop(0)
                tag, cell, run = pending.pop(0)
                where = f', GPUs {slots[slot]}' if slots[slot] is not None else ''
                log(f'{tag}: running (child process, slot {slot}{where})')
                run.mkdir(parents=True, exist_ok=True)
                with atomic_write(run / JOB_FILE) as tmp, tmp.open('wb') as f:
                    pickle.dump((config, cell, run), f)
                env = dict(os.environ)
                if slots[slot] is not None:
                    env['CUDA_VISIBLE_DEVICES'] = str(slots[slot])
                out = (run / LOG_FILE).open('wb')
                process = subprocess.Popen(
                    [sys.executable, '-m', WORKER, os.fspath(run / JOB_FILE)],
                    stdout=out, stderr=subprocess.STDOUT, env=env,
                    preexec_fn=_die_with_parent,
                )  # fmt: skip
                running[slot] = (process, cell, run, time.perf_counter(), out)
            time.sleep(0.2)
            for slot, (process, cell, run, start, out) in list(running.items()):
                if process.poll() is None:
                    continue
                out.close()
                del running[slot]
                free.append(slot)
                seconds = time.perf_counter() - start
                yield cell, _child_outcome(run, process.returncode), seconds
    finally:  # an error or interruption in the runner stops the children
        for process, *_, out in running.values():
            process.kill()
            process.wait()
            out.close()


def run_cell_job(job: str) -> dict[str, Any]:
    """Run the cell of a job file in a child process (as ``executor: local``).

    On SLURM it runs as :class:`~torchgeo_als4gan.runs.slurm.RequeuedCall`,
    resubmitted when preempted.

    Args:
        job: ``runs/<cell>/cell_job.pkl``.

    Returns:
        The cell's result row.

    Raises:
        CellProcessError: If the cell failed (the end of its log).
    """
    run = Path(job).parent
    with (run / LOG_FILE).open('wb') as out:
        done = subprocess.run(
            [sys.executable, '-m', WORKER, job], stdout=out, stderr=subprocess.STDOUT
        )
    outcome = _child_outcome(run, done.returncode)
    if isinstance(outcome, CellProcessError):
        raise outcome
    return outcome


def run_on_slurm(
    config: ExperimentConfig,
    todo: Sequence[tuple[str, Cell, Path]],
    log: Callable[[str], None],
) -> Iterator[tuple[Cell, dict[str, Any] | BaseException, float]]:
    """Submit every cell as a job, then gather them as they finish.

    Args:
        config: the experiment (its ``slurm:`` options).
        todo: (log tag, cell, run folder) of every cell to run.
        log: where progress lines go.

    Yields:
        Each cell as it finishes: its result row or the error, and seconds.
    """
    executor = slurm_executor(config.slurm, config.output / 'slurm')
    for _, cell, run in todo:
        run.mkdir(parents=True, exist_ok=True)
        with atomic_write(run / JOB_FILE) as tmp, tmp.open('wb') as f:
            pickle.dump((config, cell, run), f)
    array = bool(config.slurm.get('array', False))
    with executor.batch() if array else contextlib.nullcontext():
        submitted = [
            executor.submit(RequeuedCall(run_cell_job), os.fspath(run / JOB_FILE))
            for _, _, run in todo
        ]
    jobs = []
    for job, (tag, cell, run) in zip(submitted, todo, strict=True):
        # the ids of an array's tasks are known once the array is submitted
        write_claim(run, job.job_id, config.slurm.get('cluster', 'slurm'))
        log(f'{tag}: submitted as {"array task" if array else "job"} {job.job_id}')
        jobs.append((job, cell, time.perf_counter()))
    while jobs:
        for entry in list(jobs):
            job, cell, start = entry
            if not job.done():
                continue
            jobs.remove(entry)
            try:
                outcome: dict[str, Any] | BaseException = job.result()
            except Exception as error:
                outcome = CellProcessError(f'job {job.job_id} failed: {error}')
            yield cell, outcome, time.perf_counter() - start
        time.sleep(0.5)
