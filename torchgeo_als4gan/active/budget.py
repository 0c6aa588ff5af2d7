"""The ALS4GAN labelling budget: target, seed pool and per-round query sizes."""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ..datamodules.selection import check_labeled_ratio, labeled_count
from .spend import check_budget_amounts, most_affordable, spend_in_order, spent

__all__ = ('PricedBudget', 'QueryBudget', 'check_fraction')


def check_fraction(name: str, value: float) -> float:
    """Check that a budget fraction (``alpha``, ``beta``) is in (0, 1].

    Args:
        name: argument name, used in the message.
        value: the fraction.

    Returns:
        The fraction.

    Raises:
        ValueError: If it is outside (0, 1].
    """
    if isinstance(value, bool) or not (
        isinstance(value, int | float) and 0 < value <= 1
    ):
        msg = f'{name} must be in (0, 1], got {value!r}'
        raise ValueError(msg)
    return float(value)


@dataclass(frozen=True)
class QueryBudget:
    """How many items are labelled, and in which rounds.

    With a pool of ``N`` items and labelled ratio ``r``: ``target = ceil(r * N)``
    (the rule of the random baseline too, so both selections have the same size);
    the seed pool is ``int(alpha * target)`` random items, at least one (ALS4GAN
    crashed when it was zero); every following round queries
    ``q = ceil(beta * seed)`` items, the last round only what is left.

    ``seed_in_selection`` decides whether the seed pool counts toward the labelled
    set. By default it does: the selection is the seed pool plus the queried items,
    ``target`` in all. With ``False`` the seed pool only trains the classifier and
    is left out of the selection, as in ALS4GAN's output; the rounds then go on
    until the queried items alone reach ``target``, so the selection still has the
    requested size.
    """

    #: Number of items in the pool.
    pool_size: int
    #: Fraction of the pool to label, in (0, 1].
    ratio: float
    #: Seed pool as a fraction of the target, in (0, 1].
    alpha: float = 0.1
    #: Items per round as a fraction of the seed pool, in (0, 1].
    beta: float = 0.5
    #: Whether the seed pool is part of the selection.
    seed_in_selection: bool = True

    def __post_init__(self) -> None:
        """Check the arguments before any work is done.

        Raises:
            ValueError: If a fraction is out of range, the pool is empty, the
                target is 0, or the pool is too small for the budget.
        """
        check_labeled_ratio(self.ratio)
        check_fraction('alpha', self.alpha)
        check_fraction('beta', self.beta)
        if self.pool_size < 1:
            msg = 'The query pool is empty'
            raise ValueError(msg)
        if self.target == 0:
            minimum = self.minimum_ratio(self.pool_size)
            msg = (
                f'labeled_ratio {self.ratio!r} selects 0 of the {self.pool_size} pool'
                f' items; the minimum ratio for this pool is {minimum:.6g}'
            )
            raise ValueError(msg)
        if self.target > self.pool_size - (0 if self.seed_in_selection else self.seed):
            msg = (
                f'The pool of {self.pool_size} items is too small for a target of'
                f' {self.target} queried items plus a seed pool of {self.seed}'
            )
            raise ValueError(msg)

    @property
    def target(self) -> int:
        """Number of items in the selection: ``ceil(ratio * pool_size)``."""
        return labeled_count(self.ratio, self.pool_size)

    @property
    def seed(self) -> int:
        """Seed pool size: ``int(alpha * target)``, at least 1."""
        return max(int(round(self.alpha * self.target, 9)), 1)

    @property
    def query_size(self) -> int:
        """Items queried per round: ``ceil(beta * seed)``."""
        return math.ceil(round(self.beta * self.seed, 9))

    @property
    def round_sizes(self) -> list[int]:
        """Items added in each query round (round 0, the seed pool, not included)."""
        remaining = self.target - (self.seed if self.seed_in_selection else 0)
        sizes = [self.query_size] * (remaining // self.query_size)
        if remaining % self.query_size:
            sizes.append(remaining % self.query_size)
        return sizes

    @staticmethod
    def minimum_ratio(pool_size: int) -> float:
        """The smallest ratio whose target is at least one item.

        Args:
            pool_size: number of items in the pool.

        Returns:
            ``1 / pool_size``.
        """
        return 1 / pool_size


@dataclass(frozen=True)
class PricedBudget:
    """ALS4GAN's rounds with the budget in a unit: items, valid pixels, km², cost.

    Every pool item has a price in ``unit``. The seed pool buys a seeded random
    order with ``alpha * amount``; every query round may spend ``beta`` times
    what the seed pool spent (the counterpart of ``q = ceil(beta * seed)``; at
    least the price of the cheapest item left, as ``ceil`` makes every count
    round add one), never more than the budget has left, buying the ranked
    items in order
    while they fit (:func:`~torchgeo_als4gan.active.spend.spend_in_order`: an
    item that does not fit is skipped for a cheaper one further down, items
    priced 0 are never bought). The rounds stop when what is left buys no
    remaining item. The seed pool is always part of the selection.
    """

    #: The budget, in ``unit``.
    amount: float
    #: ``items``, ``pixels``, ``area_km2`` or ``cost``.
    unit: str
    #: The price of every pool item in ``unit``.
    prices: NDArray[np.float64] = field(repr=False)
    #: Seed pool as a fraction of the budget, in (0, 1].
    alpha: float = 0.1
    #: Each round's spend as a fraction of the seed pool's, in (0, 1].
    beta: float = 0.5

    def __post_init__(self) -> None:
        """Check the budget against the pool before any work is done.

        Raises:
            ValueError: If the unit or amount is invalid, a fraction is out of
                range, or the seed pool's share buys no item.
        """
        if self.unit == 'fraction':
            msg = 'PricedBudget is for units other than fraction (use QueryBudget)'
            raise ValueError(msg)
        check_budget_amounts(self.unit, [self.amount], 'budget')
        check_fraction('alpha', self.alpha)
        check_fraction('beta', self.beta)
        if not len(self.prices):
            msg = 'The query pool is empty'
            raise ValueError(msg)
        positive = self.prices[self.prices > 0]
        cheapest = float(positive.min()) if len(positive) else math.inf
        if cheapest > self.alpha * self.amount * (1 + 1e-9):
            msg = (
                f'budget {self.amount:g} {self.unit}: the seed pool'
                f' (alpha {self.alpha:g} of it, {self.alpha * self.amount:.6g}'
                f' {self.unit}) buys no pool item (the cheapest costs'
                f' {cheapest:.6g} {self.unit}); raise budget or alpha'
            )
            raise ValueError(msg)

    @property
    def pool_size(self) -> int:
        """Number of items in the pool."""
        return len(self.prices)

    @property
    def seed_in_selection(self) -> bool:
        """The seed pool is always part of a priced selection."""
        return True

    def spent(self, chosen: Sequence[int]) -> float:
        """What some pool items cost together, in ``unit``.

        Args:
            chosen: pool positions.

        Returns:
            The sum of their prices.
        """
        return spent(chosen, {'amount': self.prices})['amount']

    def seed_items(self, order: Sequence[int]) -> list[int]:
        """The seed pool: a random order bought with ``alpha * amount``.

        Args:
            order: pool positions in the seeded random order.

        Returns:
            The bought positions, at least one.
        """
        return spend_in_order(order, self.prices, self.alpha * self.amount)

    def round_amount(self, selected: Sequence[int], seed_spent: float) -> float:
        """What the next query round may spend.

        Args:
            selected: pool positions selected so far.
            seed_spent: what the seed pool spent.

        Returns:
            ``beta * seed_spent``, raised to the cheapest item not selected yet
            (as ``ceil`` makes every count round add one item), never more than
            the budget has left; 0 when nothing is left.
        """
        left = max(self.amount - self.spent(selected), 0.0)
        rest = np.ones(len(self.prices), dtype=bool)
        rest[np.asarray(selected, dtype=np.int64)] = False
        price = self.prices[rest & (self.prices > 0)]
        cheapest = float(price.min()) if len(price) else 0.0
        return min(max(self.beta * seed_spent, cheapest), left)

    def most_items(self, candidates: Sequence[int], amount: float) -> int:
        """How many of the cheapest candidates fit in ``amount``.

        Any ranking cut to this length holds everything the amount can buy.

        Args:
            candidates: pool positions that could be bought.
            amount: what may be spent.

        Returns:
            The count.
        """
        return most_affordable(candidates, self.prices, amount)
