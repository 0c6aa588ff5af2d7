"""ALS4GAN's rounds (``als4gan query``): a classifier scores the pool, Lightning trains it."""

from .cli import build_parser, run_query
from .learner import LightningPoolLearner, PoolScoreWriter
from .outputs import (
    plot_selection,
    plot_selection_map,
    selection_table,
    write_selection,
)
from .rounds import PoolLearner, PoolLoop, RoundScores
from .state import QueryState

__all__ = (
    'LightningPoolLearner',
    'PoolLearner',
    'PoolLoop',
    'PoolScoreWriter',
    'QueryState',
    'RoundScores',
    'build_parser',
    'plot_selection',
    'plot_selection_map',
    'run_query',
    'selection_table',
    'write_selection',
)
