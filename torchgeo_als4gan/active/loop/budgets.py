"""The loop's rounds in the budget's unit: what each round may add, what it spent."""

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ...datamodules.pool import QueryPool
from ...datamodules.selection import labeled_count
from ..costs import item_measures, selection_prices
from ..spend import most_affordable, spend_in_order, spent
from .config import LoopConfig

__all__ = ('RoundBudgets',)

#: How a budget unit reads in the log.
_UNIT_TEXT = {'items': 'items', 'pixels': 'valid pixels', 'area_km2': 'km²',
              'cost': 'cost'}  # fmt: skip


class RoundBudgets:
    """Cumulative budgets of the rounds, priced on the pool.

    ``fraction`` (the default) keeps the counts of the random baseline
    (``ceil(budget * N)`` items after each round); every other unit buys the
    ranked items in order while they fit in what the round has left
    (:func:`~torchgeo_als4gan.active.spend.spend_in_order`).
    """

    def __init__(self, config: LoopConfig, pool: QueryPool) -> None:
        """Price the pool and check that every round can buy something.

        Args:
            config: the loop.
            pool: its pool.

        Raises:
            ValueError: If the unit cannot be measured on this pool, a
                fraction round adds no item, or the first budget buys none.
        """
        self.unit = config.budget_unit
        self.amounts = list(config.budgets)
        self.size = len(pool)
        self.prices = item_measures(
            pool.ids, pool.footprints, [self.unit], config.cost_model, config.cost_file
        )
        self.counts: list[int] = []
        if self.unit == 'fraction':
            self.counts = [labeled_count(b, self.size) for b in self.amounts]
            if (np.diff([0, *self.counts]) < 1).any():
                msg = (
                    f'budgets {self.amounts} give {self.counts} of {self.size} pool'
                    ' items: every round must add at least one item'
                )
                raise ValueError(msg)
            return
        price = self.prices[self.unit]
        affordable = price[price > 0]
        if not len(affordable) or affordable.min() > self.amounts[0]:
            cheapest = float(affordable.min()) if len(affordable) else float('nan')
            msg = (
                f"budgets: the first round's {self.amounts[0]:g} {self.unit} buys no"
                f' pool item (the cheapest costs {cheapest:.6g} {self.unit})'
            )
            raise ValueError(msg)

    def describe(self, round_: int) -> str:
        """The round's budget as the log shows it.

        Args:
            round_: the round.

        Returns:
            ``5 %`` or ``2 km²``-like text.
        """
        amount = self.amounts[round_]
        if self.unit == 'fraction':
            return f'{100 * amount:g} %'
        return f'{amount:g} {_UNIT_TEXT[self.unit]}'

    def take(
        self, order: Sequence[int], round_: int, taken: Sequence[int]
    ) -> list[int]:
        """The items a round adds, from the candidates best first.

        Args:
            order: pool positions not labelled yet, best first.
            round_: the round being filled.
            taken: pool positions labelled before.

        Returns:
            The positions to add, best first.

        Raises:
            ValueError: If what the round has left buys no candidate.
        """
        if self.unit == 'fraction':
            before = self.counts[round_ - 1] if round_ > 0 else 0
            return [int(i) for i in order[: self.counts[round_] - before]]
        left = self.amounts[round_] - self.spent(taken)[self.unit]
        picks = spend_in_order(order, self.prices[self.unit], left)
        if not picks:
            msg = (
                f'round {round_}: budgets[{round_}] leaves {left:.6g} {self.unit} after'
                f' round {round_ - 1}, less than any item left costs; raise it'
            )
            raise ValueError(msg)
        return picks

    def round_size(self, round_: int, candidates: int) -> int:
        """How many ranked candidates a round looks at.

        Args:
            round_: the round.
            candidates: the items it could add.

        Returns:
            A fraction round's item count; all candidates in other units
            (the budget decides how far down the ranking it goes).
        """
        if self.unit != 'fraction':
            return candidates
        return self.counts[round_] - self.counts[round_ - 1]

    def most_items(
        self, round_: int, candidates: Sequence[int], taken: Sequence[int]
    ) -> int:
        """The most candidates a round can add (how long a diverse batch is).

        Args:
            round_: the round.
            candidates: pool positions it could add.
            taken: pool positions labelled before.

        Returns:
            A fraction round's item count; in other units, how many of the
            cheapest candidates fit in what the round has left (any batch
            of that length holds everything the budget can buy).
        """
        if self.unit == 'fraction':
            return min(self.round_size(round_, len(candidates)), len(candidates))
        left = self.amounts[round_] - self.spent(taken)[self.unit]
        return most_affordable(candidates, self.prices[self.unit], left)

    def take_rows(
        self,
        rows: NDArray[np.int64],
        items: NDArray[np.int64],
        round_: int,
        taken: Sequence[int],
    ) -> NDArray[np.int64]:
        """The rows of a ranked scores table that a round adds.

        Args:
            rows: the table's rows, best first (already cut to the round's size
                in ``fraction`` units).
            items: the pool position of every table row.
            round_: the round.
            taken: pool positions labelled before.

        Returns:
            The rows bought, best first.
        """
        if self.unit == 'fraction':
            return rows
        row_of = {int(items[r]): int(r) for r in rows}
        bought = self.take(items[rows].tolist(), round_, taken)
        return np.asarray([row_of[i] for i in bought], dtype=np.int64)

    def spent(self, selected: Sequence[int]) -> dict[str, float]:
        """What a cumulative selection spent in every measured unit.

        Args:
            selected: pool positions.

        Returns:
            Unit -> sum (``items``, ``fraction``, and ``pixels``, ``area_km2``
            on georeferenced pools, ``cost``).
        """
        return spent(selected, self.prices)

    def item_prices(self) -> dict[str, NDArray[np.float64]]:
        """Per-item prices worth writing next to a selection.

        Returns:
            ``valid_pixels``, ``area_km2`` (georeferenced pools) and ``cost``.
        """
        return selection_prices(self.prices)
