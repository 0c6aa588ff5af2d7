"""SLURM through submitit: the ``slurm:`` options of a YAML, checked and turned into jobs.

Shared by ``als4gan experiment`` (a job, or an array task, per cell) and
``als4gan loop`` (a job per round's fit). ``cluster: local`` or ``debug`` run
the same jobs through submitit's executors without a cluster.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..checks import check_positive
from .claims import read_claim, write_claim

__all__ = (
    'SLURM_KEYS',
    'RequeuedCall',
    'check_slurm_options',
    'check_unclaimed',
    'run_as_job',
    'slurm_executor',
    'slurm_parameters',
)

#: Keys of a YAML's ``slurm:`` mapping (``executor: slurm``).
SLURM_KEYS = ('cluster', 'partition', 'gpus_per_node', 'nodes', 'time_min',
              'cpus_per_task', 'mem_gb', 'sbatch', 'array',
              'array_parallelism')  # fmt: skip


def check_slurm_options(
    options: dict[str, Any], executor: str, arrays: bool = True
) -> None:
    """Refuse ``slurm:`` options that submitit could not turn into jobs.

    Args:
        options: the ``slurm:`` mapping.
        executor: the YAML's ``executor``.
        arrays: whether ``array`` may be asked for (the loop's rounds are
            sequential: one job at a time).

    Raises:
        ValueError: If options are given without ``executor: slurm``, a key is
            unknown, or a value is out of range (the message names it).
    """
    if options and executor != 'slurm':
        msg = 'slurm: options need executor: slurm'
        raise ValueError(msg)
    known = SLURM_KEYS if arrays else SLURM_KEYS[:-2]
    unknown = set(options) - set(known)
    if unknown:
        msg = f'slurm: unknown keys {sorted(unknown)}; known: {list(known)}'
        raise ValueError(msg)
    if options.get('cluster', 'slurm') not in ('slurm', 'local', 'debug'):
        msg = (
            "slurm.cluster must be 'slurm', 'local' or 'debug' (submitit's"
            f' executors), got {options["cluster"]!r}'
        )
        raise ValueError(msg)
    if not isinstance(options.get('array', False), bool):
        msg = f'slurm.array must be true or false, got {options["array"]!r}'
        raise ValueError(msg)
    if 'array_parallelism' in options:
        check_positive('slurm.array_parallelism', options['array_parallelism'])
        if not options.get('array', False):
            msg = 'slurm.array_parallelism needs slurm.array: true'
            raise ValueError(msg)


def slurm_parameters(options: dict[str, Any]) -> dict[str, Any]:
    """Submitit's ``SlurmExecutor`` parameters of the YAML's ``slurm:`` options.

    Args:
        options: ``partition``, ``gpus_per_node``, ``nodes``, ``time_min``,
            ``cpus_per_task``, ``mem_gb``, ``sbatch`` (extra ``#SBATCH`` flags),
            ``array_parallelism`` (tasks of an array at once).

    Returns:
        The parameters (one task per node; the fit starts its own ranks;
        ``--requeue`` so that a preempted job comes back).

    Raises:
        ValueError: If :func:`check_slurm_options` refuses the options.
    """
    check_slurm_options(options, 'slurm')
    parameters: dict[str, Any] = {
        'time': int(options.get('time_min', 60)),
        'nodes': int(options.get('nodes', 1)),
        'ntasks_per_node': 1,
        'additional_parameters': {'requeue': True, **(options.get('sbatch') or {})},
    }
    for key, name in (('partition', 'partition'), ('gpus_per_node', 'gpus_per_node'),
                      ('cpus_per_task', 'cpus_per_task')):  # fmt: skip
        if options.get(key) is not None:
            parameters[name] = options[key]
    if options.get('mem_gb') is not None:
        parameters['mem'] = f'{int(options["mem_gb"])}GB'
    if options.get('array_parallelism') is not None:
        parameters['array_parallelism'] = int(options['array_parallelism'])
    return parameters


def slurm_executor(options: dict[str, Any], folder: Path) -> Any:
    """A submitit executor for the ``slurm:`` options.

    Args:
        options: the ``slurm:`` mapping (``cluster``: ``slurm``, ``local`` or
            ``debug``).
        folder: where submitit keeps its job files (``<output>/slurm``).

    Returns:
        The executor.

    Raises:
        ValueError: If submitit is not installed.
    """
    try:
        import submitit
    except ImportError as error:
        msg = 'executor: slurm needs submitit (pip install submitit)'
        raise ValueError(msg) from error
    options = dict(options)
    cluster = options.pop('cluster', 'slurm')
    options.pop('array', None)
    if cluster == 'slurm':
        slurm = submitit.SlurmExecutor(folder=folder)
        slurm.update_parameters(job_name='als4gan', **slurm_parameters(options))
        return slurm
    other = submitit.AutoExecutor(folder=folder, cluster=cluster)
    other.update_parameters(timeout_min=int(options.get('time_min', 60)))
    return other


class RequeuedCall:
    """A module-level function as a submitit job, requeued when preempted."""

    def __init__(self, function: Callable[..., Any]) -> None:
        """Wrap ``function`` (module-level, so that it pickles).

        Args:
            function: what the job runs.
        """
        self.function = function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the function.

        Args:
            *args: its arguments.
            **kwargs: its keyword arguments.

        Returns:
            What it returns.
        """
        return self.function(*args, **kwargs)

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Submit the same call again (submitit calls this on preemption / timeout).

        Args:
            *args: the call's arguments.
            **kwargs: its keyword arguments.

        Returns:
            The resubmission.
        """
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


def check_unclaimed(run: Path, folder: Path, what: str) -> None:
    """Refuse to start a run again while the job that claimed it has not ended.

    Args:
        run: the run's folder (where ``claim.json`` is).
        folder: submitit's folder (``<output>/slurm``).
        what: the run, for the message (``round 2``).

    Raises:
        ValueError: If a job that has not ended claims the run.
    """
    claim = read_claim(run, folder)
    if claim is not None and claim.active:
        cancel = 'scancel' if claim.cluster == 'slurm' else 'kill'
        msg = (
            f'{what}: its fit is still running as job {claim.job_id}'
            f' ({claim.cluster}); wait for it to end, or cancel it ({cancel}'
            f' {claim.job_id}), then run the same command again'
        )
        raise ValueError(msg)


def run_as_job(
    options: dict[str, Any],
    folder: Path,
    run: Path,
    log: Callable[[str], None],
    what: str,
    function: Callable[..., Any],
    *args: Any,
) -> Any:
    """Run ``function(*args)`` as one job, claim ``run`` for it, wait for it.

    Args:
        options: the ``slurm:`` mapping.
        folder: submitit's folder (``<output>/slurm``).
        run: the folder the job works in (its claim goes there).
        log: where progress lines go.
        what: the run, for the log and errors (``round 2``).
        function: a module-level function.
        *args: its arguments (picklable).

    Returns:
        What the function returned in the job.

    Raises:
        RuntimeError: If the job failed (submitit's message, with the job's log).
    """
    executor = slurm_executor(options, folder)
    job = executor.submit(RequeuedCall(function), *args)
    run.mkdir(parents=True, exist_ok=True)
    write_claim(run, job.job_id, options.get('cluster', 'slurm'))
    log(f'{what}: submitted as job {job.job_id}; waiting for it')
    try:
        return job.result()
    except Exception as error:
        msg = f'{what}: job {job.job_id} failed: {error}'
        raise RuntimeError(msg) from error
