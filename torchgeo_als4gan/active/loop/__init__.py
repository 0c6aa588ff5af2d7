"""STAL's loop: self-training and active learning scored by the segmenter itself."""

from .callbacks import InitialWeights
from .config import SCORERS, LoopConfig, load_loop
from .runner import run_loop
from .scoring import SEGMENTER_SCORERS, SegmenterPoolScorer, score_pool
from .state import STAGES, RoundState

__all__ = (
    'SCORERS',
    'SEGMENTER_SCORERS',
    'STAGES',
    'InitialWeights',
    'LoopConfig',
    'RoundState',
    'SegmenterPoolScorer',
    'load_loop',
    'run_loop',
    'score_pool',
)
