"""The runs layer: fit a method config under a policy, score the run, read configs.

``experiments/`` (grids) and ``loop/`` (STAL's rounds) train and score every
run through these functions, so their results compare.
"""

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
    TEST_CONFUSION,
    RunPolicy,
    discard_checkpoints_after,
    policy_args,
    resume_checkpoint,
)

__all__ = (
    'POLICY_FOLDER',
    'RESUME_FOLDER',
    'SELECTION_FILE_ARG',
    'TEST_CONFUSION',
    'RunPolicy',
    'build_config',
    'check_method_config',
    'check_single_process',
    'discard_checkpoints_after',
    'evaluate_run',
    'fit_run',
    'method_processes',
    'policy_args',
    'read_config_file',
    'resume_checkpoint',
)
