"""The ALS4GAN labelling budget: target, seed pool and per-round query sizes."""

import math
from dataclasses import dataclass

from ..datamodules.selection import check_labeled_ratio, labeled_count

__all__ = ('QueryBudget', 'check_fraction')


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
