"""The runs layer: fit a method config under a policy, score the run, read configs, SLURM.

``experiments/`` (grids) and ``loop/`` (STAL's rounds) train and score every
run through these functions, so their results compare.
"""

from .claims import finished_by_job
from .config import (
    build_config,
    check_method_config,
    check_single_process,
    method_processes,
    read_config_file,
)
from .evaluate import evaluate_run
from .fit import fit_run
from .policy import (
    POLICY_FOLDER,
    RESUME_FOLDER,
    SELECTION_FILE_ARG,
    TEST_CLASSES,
    TEST_CONFUSION,
    RunPolicy,
    check_extra_tests,
    discard_checkpoints_after,
    policy_args,
    resume_checkpoint,
)
from .slurm import (
    SLURM_KEYS,
    check_slurm_options,
    check_unclaimed,
    run_as_job,
    slurm_executor,
    slurm_parameters,
)

__all__ = (
    'POLICY_FOLDER',
    'RESUME_FOLDER',
    'SELECTION_FILE_ARG',
    'SLURM_KEYS',
    'TEST_CLASSES',
    'TEST_CONFUSION',
    'RunPolicy',
    'build_config',
    'check_extra_tests',
    'check_method_config',
    'check_single_process',
    'check_slurm_options',
    'check_unclaimed',
    'discard_checkpoints_after',
    'evaluate_run',
    'finished_by_job',
    'fit_run',
    'method_processes',
    'policy_args',
    'read_config_file',
    'resume_checkpoint',
    'run_as_job',
    'slurm_executor',
    'slurm_parameters',
)
