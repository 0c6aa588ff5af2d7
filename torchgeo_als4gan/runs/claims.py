"""Claims of runs by SLURM jobs: a run whose job has not ended is not started twice.

``executor: slurm`` writes ``claim.json`` (the job's id and cluster) into a
run's folder when it submits it: ``runs/<cell>/`` of an experiment,
``round_XX/`` of a loop. If the runner stops while its jobs go on (a login node
that reboots, a closed terminal), running the same command again must neither
submit those cells a second time nor clear their folders under them: a cell
whose job is still pending or running is left to it, and a cell whose job
finished after the runner stopped has its row collected from its folder.
"""

import json
import time
from dataclasses import dataclass
from pathlib import Path

from ..files import atomic_write, pid_alive

__all__ = (
    'ACTIVE_STATES',
    'CLAIM_FILE',
    'Claim',
    'finished_by_job',
    'read_claim',
    'write_claim',
)

CLAIM_FILE = 'claim.json'

#: SLURM job states (``sacct``) of a job that has not ended; ``UNKNOWN`` (no
#: accounting answer yet) counts as not ended, so a cell is never run twice.
ACTIVE_STATES = (
    'PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING', 'SUSPENDED', 'REQUEUED',
    'REQUEUE_FED', 'REQUEUE_HOLD', 'RESIZING', 'SIGNALING', 'STAGE_OUT',
    'PREEMPTED', 'UNKNOWN',
)  # fmt: skip


@dataclass(frozen=True)
class Claim:
    """A cell's job: which one, and whether it has ended."""

    #: The scheduler's job id (a process id for submitit's ``local`` cluster).
    job_id: str
    #: ``slurm``, or submitit's ``local`` / ``debug``.
    cluster: str
    #: When it was submitted (seconds since the epoch).
    claimed_at: float
    #: The job has not ended: its cell must not be started again.
    active: bool


def write_claim(run: Path, job_id: str, cluster: str) -> None:
    """Record that ``job_id`` runs the cell of ``run``.

    Args:
        run: the cell's run folder.
        job_id: the submitted job.
        cluster: ``slurm``, ``local`` or ``debug``.
    """
    claim = {'job_id': str(job_id), 'cluster': cluster, 'claimed_at': time.time()}
    with atomic_write(run / CLAIM_FILE) as tmp:
        tmp.write_text(json.dumps(claim))


def _job_active(job_id: str, cluster: str, folder: Path) -> bool:
    """Whether the job has not ended, asked of its scheduler."""
    if cluster == 'slurm':
        import submitit

        state = str(submitit.SlurmJob(folder=folder, job_id=job_id).state)
        return state.split()[0].upper() in ACTIVE_STATES
    if cluster == 'local':  # submitit's local jobs are processes
        return job_id.isdigit() and pid_alive(int(job_id))
    return False  # debug jobs run inside the runner that submitted them


def read_claim(run: Path, folder: Path) -> Claim | None:
    """The claim on a cell's run folder, with its job's state now.

    Args:
        run: the cell's run folder.
        folder: submitit's folder of the experiment (``<output>/slurm``).

    Returns:
        None when no job claimed the cell.
    """
    file = run / CLAIM_FILE
    if not file.is_file():
        return None
    claim = json.loads(file.read_text())
    job_id, cluster = str(claim['job_id']), str(claim['cluster'])
    return Claim(
        job_id, cluster, float(claim['claimed_at']),
        _job_active(job_id, cluster, folder),
    )  # fmt: skip


def finished_by_job(run: Path, folder: Path) -> str | None:
    """The job that claimed a run and ended with success, if one did.

    A loop that died while it waited for a round's job leaves the job running;
    when the job ends well, its run folder is complete and the resumed loop
    keeps it instead of fitting the round again.

    Args:
        run: the run's folder (where ``claim.json`` is).
        folder: submitit's folder (``<output>/slurm``).

    Returns:
        The job's id when its claim has ended and submitit recorded a result
        (not an error) for it; None otherwise (no claim, still running, failed,
        or no result file: the run is fitted again).
    """
    from submitit.core.utils import JobPaths, pickle_load

    claim = read_claim(run, folder)
    if claim is None or claim.active:
        return None
    result = JobPaths(folder, claim.job_id, task_id=0).result_pickle
    if not result.is_file():
        return None
    try:
        outcome, _ = pickle_load(result)
    except Exception:  # a truncated file: fit again
        return None
    return claim.job_id if outcome == 'success' else None
