"""Label-efficiency experiments: ratios x strategies x methods x seeds."""

from ..evaluation.summary import plot_label_efficiency
from .config import Cell, ExperimentConfig, load_experiment
from .report import markdown_table, write_reports
from .runner import RESULT_COLUMNS, run_experiment

__all__ = (
    'RESULT_COLUMNS',
    'Cell',
    'ExperimentConfig',
    'load_experiment',
    'markdown_table',
    'plot_label_efficiency',
    'run_experiment',
    'write_reports',
)
