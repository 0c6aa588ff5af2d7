import math

import numpy as np
import pytest

from torchgeo_als4gan.active import stratified_quotas, stratified_top


def test_quotas_follow_the_formula_when_it_sums_exactly() -> None:
    available = {'a': 50, 'b': 30, 'c': 20}
    assert stratified_quotas(10, available) == {'a': 5, 'b': 3, 'c': 2}


@pytest.mark.parametrize('n', [1, 2, 3, 7, 11, 35, 85, 99])
def test_quotas_on_uneven_groups_sum_exactly(n: int) -> None:
    available = {'zurich': 61, 'bonn': 7, 'aachen': 23, 'ulm': 1, 'jena': 8}
    quotas = stratified_quotas(n, available)
    assert sum(quotas.values()) == n
    total = sum(available.values())
    for group, count in available.items():
        exact = n * count / total
        assert quotas[group] <= count
        # the adjustment moves a group by at most one pick from round(exact)
        assert abs(quotas[group] - math.floor(exact + 0.5)) <= 1


def test_remainder_goes_to_the_largest_rounding_loss() -> None:
    # 3 groups of 1 item each and n = 2: exact 2/3 each -> round 1 each = 3 > 2,
    # one pick is taken back from the first group (ties: first listed)
    quotas = stratified_quotas(2, {'x': 1, 'y': 1, 'z': 1})
    assert sum(quotas.values()) == 2 and sorted(quotas.values()) == [0, 1, 1]
    # exact 2.4 / 2.4 / 0.2 -> 2 + 2 + 0 = 4 < 5: the group rounded down most
    assert stratified_quotas(5, {'a': 12, 'b': 12, 'c': 1}) == {'a': 3, 'b': 2, 'c': 0}


def test_full_or_empty_groups_hand_their_share_on() -> None:
    # a group with nothing left gets nothing and changes nobody's share
    quotas = stratified_quotas(7, {'big': 100, 'tiny': 3, 'gone': 0})
    assert quotas == {'big': 7, 'tiny': 0, 'gone': 0}
    assert stratified_quotas(7, {'big': 100, 'tiny': 3}) == {'big': 7, 'tiny': 0}
    # everything left: each group gets all it has, never more
    assert stratified_quotas(6, {'a': 1, 'b': 4, 'c': 1}) == {'a': 1, 'b': 4, 'c': 1}


def test_quota_errors() -> None:
    with pytest.raises(ValueError, match='only 3 items are left'):
        stratified_quotas(4, {'a': 1, 'b': 2})
    with pytest.raises(ValueError, match='n must be >= 0'):
        stratified_quotas(-1, {'a': 1})


def test_stratified_top_takes_the_most_uncertain_of_each_group() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.1, 0.2, np.nan, 0.95])
    groups = ['a', 'a', 'a', 'b', 'b', 'b', 'c']
    chosen = stratified_top(scores, groups, 3)
    # left per group (NaN not counted): a 3, b 2, c 1; exact 1.5 / 1.0 / 0.5 ->
    # 2 / 1 / 1 = 4 > 3: a and c were rounded up most, a (listed first) gives one back
    assert chosen.tolist() == [0, 4, 6]
    assert stratified_top(-scores, groups, 3, largest=False).tolist() == chosen.tolist()
    with pytest.raises(ValueError, match='7 scores but 2 groups'):
        stratified_top(scores, ['a', 'b'], 1)
