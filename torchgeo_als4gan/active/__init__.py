"""Active learning: what to label next (scores, ranking, quotas, budgets, round state).

The rounds of the two seed systems are subpackages: ``query/`` (ALS4GAN: a
classifier scores the pool, ``als4gan query``) and ``loop/`` (STAL: the
segmenter itself scores it between fits, ``als4gan loop``).
"""

from .budget import PricedBudget, QueryBudget, check_fraction
from .diversity import DIVERSITY, diverse_rows, kmeans_pp_seeding, uncertain_core_set
from .image_scores import as_two_class, bald, entropy, least_confidence, margin
from .pixel_scores import pixel_entropy, pixel_margin, region_impurity
from .quotas import stratified_quotas, stratified_top
from .ranking import k_center_greedy, rank_items, spaced_top
from .registry import STRATEGIES, QueryStrategy, get_strategy, score_probabilities
from .state import PickedItems

__all__ = (
    'DIVERSITY',
    'STRATEGIES',
    'PickedItems',
    'PricedBudget',
    'QueryBudget',
    'QueryStrategy',
    'as_two_class',
    'bald',
    'check_fraction',
    'diverse_rows',
    'entropy',
    'get_strategy',
    'k_center_greedy',
    'kmeans_pp_seeding',
    'least_confidence',
    'margin',
    'pixel_entropy',
    'pixel_margin',
    'rank_items',
    'region_impurity',
    'score_probabilities',
    'spaced_top',
    'stratified_quotas',
    'stratified_top',
    'uncertain_core_set',
)
