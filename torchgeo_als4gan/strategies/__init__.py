"""Active-learning query strategies: scores, selection, budget and the pool loop."""

from .budget import QueryBudget, check_fraction
from .loop import PoolLearner, PoolLoop, QueryState, RoundScores
from .pixels import pixel_entropy, pixel_margin, region_impurity
from .quotas import stratified_quotas, stratified_top
from .registry import STRATEGIES, QueryStrategy, get_strategy, score_probabilities
from .scores import as_two_class, bald, entropy, least_confidence, margin
from .selection import k_center_greedy, rank_items

__all__ = (
    'STRATEGIES',
    'PoolLearner',
    'PoolLoop',
    'QueryBudget',
    'QueryState',
    'QueryStrategy',
    'RoundScores',
    'as_two_class',
    'bald',
    'check_fraction',
    'entropy',
    'get_strategy',
    'k_center_greedy',
    'least_confidence',
    'margin',
    'pixel_entropy',
    'pixel_margin',
    'rank_items',
    'region_impurity',
    'score_probabilities',
    'stratified_quotas',
    'stratified_top',
)
