"""Budgets in the user's units: spend a ranking until the budget is used up.

A mapping team plans "2 km² this month" or "40 annotator hours", not "5 % of
the patches". A budget is an amount in one unit; every pool item has a price in
that unit (:mod:`torchgeo_als4gan.active.costs` measures them), and a round
takes the ranked items in order while they fit.
"""

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = (
    'BUDGET_UNITS',
    'check_budget_amounts',
    'most_affordable',
    'spend_in_order',
    'spent',
)

#: Units of a budget: the labelled fraction of the pool (today's), a count of
#: items, valid (not nodata) pixels, valid area in km², or the cost model's unit.
BUDGET_UNITS = ('fraction', 'items', 'pixels', 'area_km2', 'cost')


def check_budget_amounts(unit: str, amounts: Sequence[float], name: str) -> None:
    """Refuse a unit this package does not know, or amounts it cannot spend.

    Args:
        unit: one of :data:`BUDGET_UNITS`.
        amounts: cumulative budgets, one per round (strictly increasing).
        name: the option, for the message.

    Raises:
        ValueError: If the unit is unknown, an amount is not a positive finite
            number (a fraction above 1, or a fractional item count), or the
            amounts do not increase.
    """
    if unit not in BUDGET_UNITS:
        msg = f'{name}: budget unit must be one of {list(BUDGET_UNITS)}, got {unit!r}'
        raise ValueError(msg)
    ok = bool(amounts) and all(
        not isinstance(a, bool)
        and isinstance(a, int | float)
        and math.isfinite(a)
        and a > 0
        for a in amounts
    )
    if ok and unit == 'fraction':
        ok = all(a <= 1 for a in amounts)
    if ok and unit == 'items':
        ok = all(float(a).is_integer() for a in amounts)
    if not ok:
        what = {
            'fraction': 'fractions in (0, 1]',
            'items': 'whole numbers of items > 0',
        }.get(unit, f'amounts > 0 in {unit}')
        msg = f'{name} must be a non-empty list of {what}, got {list(amounts)!r}'
        raise ValueError(msg)
    if any(b <= a for a, b in itertools.pairwise(amounts)):
        msg = f'{name} must be strictly increasing, got {list(amounts)!r}'
        raise ValueError(msg)


def spend_in_order(
    order: Sequence[int], price: NDArray[np.float64], amount: float
) -> list[int]:
    """The items of a ranking that a budget buys, best first.

    Each item, in rank order, is taken when it still fits in what is left; one
    that does not fit is skipped and the next is tried, so a cheap patch lower in
    the ranking can use the rest (a partly empty edge patch, a patch of open
    water). Items priced 0 (nothing valid to label) are never taken.

    Args:
        order: pool positions, best first.
        price: the price of every pool position in the budget's unit.
        amount: what may be spent (a tiny relative tolerance absorbs rounding).

    Returns:
        The chosen pool positions, in rank order.
    """
    left = amount * (1 + 1e-9)
    cheapest = float(np.min(price[price > 0])) if (price > 0).any() else math.inf
    chosen = []
    for item in order:
        cost = float(price[item])
        if 0 < cost <= left:
            chosen.append(int(item))
            left -= cost
            if left < cheapest:
                break
    return chosen


def most_affordable(
    candidates: Sequence[int], price: NDArray[np.float64], amount: float
) -> int:
    """How many of the cheapest candidates fit together in ``amount``.

    Any ranking cut to this length holds everything the amount can buy (how
    long a diverse batch must be).

    Args:
        candidates: pool positions that could be bought.
        price: the price of every pool position in the budget's unit.
        amount: what may be spent (the same tolerance as :func:`spend_in_order`).

    Returns:
        The count; items priced 0 are never counted.
    """
    prices = np.sort(price[np.asarray(candidates, dtype=np.int64)])
    prices = prices[prices > 0]
    return int(np.searchsorted(np.cumsum(prices), amount * (1 + 1e-9), side='right'))


def spent(
    chosen: Sequence[int], measures: Mapping[str, NDArray[np.float64]]
) -> dict[str, float]:
    """What a selection spent in every unit measured.

    Args:
        chosen: pool positions.
        measures: per-unit prices of every pool position (``items``,
            ``pixels``, ``area_km2``, ``cost``, as measured).

    Returns:
        The sums, one per unit.
    """
    index = np.asarray(chosen, dtype=np.int64)
    return {unit: float(values[index].sum()) for unit, values in measures.items()}
