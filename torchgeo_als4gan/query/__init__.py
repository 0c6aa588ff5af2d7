"""``als4gan query``: the active-learning pool loop with Lightning, and its outputs."""

from .cli import build_parser, run_query
from .learner import LightningPoolLearner, PoolScoreWriter
from .outputs import (
    plot_selection,
    plot_selection_map,
    selection_table,
    write_selection,
)

__all__ = (
    'LightningPoolLearner',
    'PoolScoreWriter',
    'build_parser',
    'plot_selection',
    'plot_selection_map',
    'run_query',
    'selection_table',
    'write_selection',
)
