"""Fit a method config under a run policy (``als4gan fit`` in this process)."""

import os
from collections.abc import Sequence
from pathlib import Path

from ..lightning_cli import run_lightning_cli
from .policy import RunPolicy, policy_args

__all__ = ('fit_run',)


def fit_run(
    method: Path,
    policy: RunPolicy,
    data: Sequence[str],
    run: Path,
    seed: int,
    extra: Sequence[str] = (),
) -> int:
    """Train ``method`` with ``als4gan fit`` into ``run``, under ``policy``.

    Args:
        method: the method's fit config.
        policy: overrides and checkpoint policy.
        data: the run's own datamodule overrides (its labelled set).
        run: the run folder (logs and checkpoints).
        seed: ``seed_everything`` of the fit.
        extra: more arguments, after the policy's (e.g. a warm-start callback).

    Returns:
        The number of labelled items the run trained on.
    """
    cli = run_lightning_cli([
        'fit', '--config', os.fspath(method), *policy.data_args, *data,
        *policy.model_args, *policy.trainer_args, *policy_args(policy, run),
        f'--seed_everything={seed}', f'--trainer.default_root_dir={run}', *extra,
    ])  # fmt: skip
    return len(getattr(cli.datamodule, 'labeled_ids', []))
