"""Pool scoring of a round: in this process, in several (DDP) child processes, or a job.

Lightning's DDP launcher starts the other ranks by running the command line
again, so scoring on several devices cannot happen inside ``als4gan loop``
itself (every rank would rerun the whole loop). It runs in a child process,
``python -m torchgeo_als4gan.active.loop.workers <job.json>``, whose command line the
launcher can repeat: each rank rebuilds the pool and the round's model, scores
its share, and rank 0 writes the gathered scores. With ``executor: slurm`` the
scoring is one job on the cluster, like the round's fit (:func:`score_round`):
the job scores in its own process, or in ``score_devices`` DDP processes as
above, and hands the scores back.
"""

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from lightning import LightningModule
from numpy.typing import NDArray

from ...datamodules.pool import QueryPool
from ...evaluation.calibration import checkpoint_temperature
from ...files import atomic_write
from ...runs import check_unclaimed, run_as_job
from ...runtime import quiet_known_warnings, resolve_device
from .config import LoopConfig
from .pool import build_pool, trained_model
from .scoring import score_pool

__all__ = (
    'EMBEDDINGS_FILE',
    'SCORES_FILE',
    'ScoringJob',
    'main',
    'score_in_processes',
    'score_items',
    'score_job',
    'score_round',
)

#: Where the child processes leave the scores, in the round folder.
SCORES_FILE = 'pool_scores.npz'

#: The pool's embeddings (``feature`` / ``badge`` diversity), in the round
#: folder: ``[N_pool, D]`` by pool index, rows of unscored items zero.
EMBEDDINGS_FILE = 'embeddings_pool.npy'


@dataclass
class ScoringJob:
    """What a round scores: with which model, on which items, into which folder."""

    config: LoopConfig
    #: The round's datamodule overrides.
    data: list[str]
    #: The round's chosen checkpoint.
    checkpoint: str
    #: Pool indices to score.
    items: list[int]
    #: The round folder.
    folder: Path

    def to_json(self) -> str:
        """Serialize for a child process.

        Returns:
            JSON text.
        """
        values = asdict(self)
        return json.dumps(values, default=os.fspath)

    @classmethod
    def from_json(cls, text: str) -> 'ScoringJob':
        """Read a job written by :meth:`to_json`.

        Args:
            text: JSON text.

        Returns:
            The job.
        """
        values = json.loads(text)
        config: dict[str, Any] = values.pop('config')
        for key in ('output', 'method', 'regions'):
            if config[key] is not None:
                config[key] = Path(config[key])
        values['folder'] = Path(values['folder'])
        return cls(LoopConfig(**config), **values)


def score_items(
    job: ScoringJob,
    pool: QueryPool,
    model: LightningModule | None = None,
    devices: int = 1,
    strategy: str = 'auto',
) -> NDArray[np.float64]:
    """Score ``job.items`` with the round's model.

    Args:
        job: the round's scoring.
        pool: the loop's pool.
        model: the trained task (None: loaded from ``job.checkpoint``).
        devices: Lightning devices.
        strategy: Lightning strategy (``ddp`` with several devices).

    Returns:
        The score of each of ``job.items``, in their order (from the
        softmax at the checkpoint's fitted temperature, when it has one).
        With ``feature`` or ``badge`` diversity the items' embeddings are in
        ``job.folder / EMBEDDINGS_FILE``, by pool index.
    """
    config = job.config
    if model is None:
        model = trained_model(config, job.data, job.checkpoint)
    device = resolve_device(config.device)
    options: dict[str, Any] = (
        {'k': config.region_k, 'top': config.region_top}
        if config.scorer == 'region_impurity'
        else {}
    )
    result = score_pool(
        model, pool, job.items, config.scorer, job.folder, 'pool',
        accelerator='gpu' if device.type == 'cuda' else 'cpu', devices=devices,
        strategy=strategy, batch_size=config.score_batch_size,
        temperature=checkpoint_temperature(job.checkpoint),
        embedding=config.embedding, **options,
    )  # fmt: skip
    assert result.scores is not None
    by_index = dict(zip(result.indices.tolist(), result.scores.tolist(), strict=True))
    return np.asarray([by_index[i] for i in job.items], dtype=np.float64)


def score_in_processes(job: ScoringJob) -> NDArray[np.float64]:
    """Score in ``config.score_devices`` DDP processes (a child command line).

    Args:
        job: the round's scoring.

    Returns:
        The score of each of ``job.items``, in their order.

    Raises:
        RuntimeError: If the child processes fail (their last output is shown).
    """
    folder = job.folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / 'scoring_job.json'
    with atomic_write(path) as tmp:
        tmp.write_text(job.to_json())
    (folder / SCORES_FILE).unlink(missing_ok=True)
    command = [
        sys.executable,
        '-m',
        'torchgeo_als4gan.active.loop.workers',
        os.fspath(path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not (folder / SCORES_FILE).is_file():
        msg = (
            f'pool scoring in {job.config.score_devices} processes failed'
            f' (exit {done.returncode}, {" ".join(command)}):\n{done.stderr[-3000:]}'
        )
        raise RuntimeError(msg)
    with np.load(folder / SCORES_FILE) as saved:
        scores = dict(
            zip(saved['items'].tolist(), saved['scores'].tolist(), strict=True)
        )
    return np.asarray([scores[i] for i in job.items], dtype=np.float64)


def score_job(text: str) -> list[float]:
    """Score a round inside a cluster job (``executor: slurm``).

    Args:
        text: the :class:`ScoringJob` as :meth:`ScoringJob.to_json` wrote it.

    Returns:
        The score of each of the job's items, in their order.
    """
    quiet_known_warnings()
    job = ScoringJob.from_json(text)
    if job.config.score_devices > 1:
        values = score_in_processes(job)
    else:
        values = score_items(job, build_pool(job.config).pool)
    return [float(v) for v in values]


def score_round(
    job: ScoringJob,
    pool: QueryPool,
    model: LightningModule,
    jobs: Path,
    log: Callable[[str], None],
    what: str,
) -> NDArray[np.float64]:
    """Score a round where the loop's config says: here, in DDP processes, or a job.

    Args:
        job: the round's scoring.
        pool: the loop's pool (scoring in this process).
        model: the round's trained task (scoring in this process).
        jobs: submitit's folder (``executor: slurm``).
        log: where progress lines go.
        what: the round, for the log and errors (``round 2``).

    Returns:
        The score of each of ``job.items``, in their order.

    Raises:
        ValueError: If a job that has not ended still scores this round.
    """
    config = job.config
    if config.executor == 'slurm':
        run = job.folder / 'scoring'
        check_unclaimed(run, jobs, f'{what} pool scoring')
        values = run_as_job(
            config.slurm, jobs, run, log, f'{what} pool scoring', score_job,
            job.to_json(),
        )  # fmt: skip
        return np.asarray(values, dtype=np.float64)
    if config.score_devices > 1:
        return score_in_processes(job)
    return score_items(job, pool, model)


def main(args: Sequence[str] | None = None) -> None:
    """Score a job file on ``score_devices`` devices (one DDP rank per process).

    Args:
        args: the job file.
    """
    (path,) = sys.argv[1:] if args is None else args
    quiet_known_warnings()
    job = ScoringJob.from_json(Path(path).read_text())
    pool = build_pool(job.config).pool
    values = score_items(job, pool, devices=job.config.score_devices, strategy='ddp')
    if (
        int(os.environ.get('LOCAL_RANK', 0)) == 0
        and int(os.environ.get('NODE_RANK', 0)) == 0
    ):
        with atomic_write(job.folder / SCORES_FILE) as tmp, tmp.open('wb') as f:
            np.savez(f, items=np.asarray(job.items, dtype=np.int64), scores=values)


if __name__ == '__main__':
    main()
