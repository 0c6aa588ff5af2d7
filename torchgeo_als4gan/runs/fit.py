"""Fit a method config under a run policy: ``als4gan fit`` in this process or its own."""

import os
import subprocess
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from ..lightning_cli import run_lightning_cli
from .policy import RunPolicy, discard_checkpoints_after, policy_args, resume_checkpoint

__all__ = ('fit_run',)

#: Lightning's warning when a checkpoint folder already holds files; a resumed
#: fit continues into its own folder, where that is expected.
_RESUMED_FOLDER = 'Checkpoint directory'


def fit_run(
    method: Path,
    policy: RunPolicy,
    data: Sequence[str],
    run: Path,
    seed: int,
    extra: Sequence[str] = (),
    own_process: bool = False,
) -> int:
    """Train ``method`` with ``als4gan fit`` into ``run``, under ``policy``.

    Args:
        method: the method's fit config.
        policy: overrides and checkpoint policy.
        data: the run's own datamodule overrides (its labelled set).
        run: the run folder (logs and checkpoints).
        seed: ``seed_everything`` of the fit.
        extra: more arguments, after the policy's (e.g. a warm-start callback).
        own_process: run ``als4gan fit`` as a child process (what a
            multi-device, DDP method config needs: Lightning's launcher reruns
            that command line per rank) instead of in this process.

    With the policy's ``resume_every``, a fit whose ``<run>/resume/last.ckpt``
    exists (an interrupted attempt) continues from it (``--ckpt_path``).

    Returns:
        The number of labelled items the run trained on.

    Raises:
        RuntimeError: If the child ``als4gan fit`` fails (its exit status).
    """
    args = [
        'fit', '--config', os.fspath(method), *policy.data_args, *data,
        *policy.model_args, *policy.trainer_args, *policy_args(policy, run),
        f'--seed_everything={seed}', f'--trainer.default_root_dir={run}', *extra,
    ]  # fmt: skip
    resume = resume_checkpoint(policy, run)
    if resume is not None:
        discard_checkpoints_after(run, resume)
        args.append(f'--ckpt_path={resume}')
    env = dict(os.environ)
    if resume is not None:  # the policy folder is meant to be non-empty now
        env['PYTHONWARNINGS'] = ','.join(
            filter(None, [env.get('PYTHONWARNINGS'), f'ignore:{_RESUMED_FOLDER}'])
        )
    if not own_process:
        with warnings.catch_warnings():
            if resume is not None:
                warnings.filterwarnings('ignore', message=_RESUMED_FOLDER)
            cli = run_lightning_cli(args)
        return len(getattr(cli.datamodule, 'labeled_ids', []))
    sys.stdout.flush()
    done = subprocess.run(
        [sys.executable, '-m', 'torchgeo_als4gan.main', *args], env=env
    )
    if done.returncode != 0:
        msg = (
            f'als4gan fit into {os.fspath(run)!r} exited with status {done.returncode}'
        )
        raise RuntimeError(msg)
    return _labelled_count(method, policy, data, run)


def _labelled_count(
    method: Path, policy: RunPolicy, data: Sequence[str], run: Path
) -> int:
    """The labelled items of a run's datamodule (its ``fit`` setup, no training)."""
    from ..evaluation.cli import build_parser

    parser = build_parser()
    init = parser.instantiate_classes(parser.parse_args([
        '--config', os.fspath(method), *policy.data_args, *data, *policy.model_args,
        f'--checkpoints={run}',
    ]))  # fmt: skip
    init.data.setup('fit')
    return len(getattr(init.data, 'labeled_ids', []))
