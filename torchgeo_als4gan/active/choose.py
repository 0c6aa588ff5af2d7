"""One round's choice from scored pool items: top-k, per-group quotas or spaced."""

from collections.abc import Hashable, Sequence

import numpy as np
from numpy.typing import NDArray

from .quotas import stratified_top
from .ranking import rank_items, spaced_top
from .registry import QueryStrategy

__all__ = ('check_min_distance', 'check_spacing', 'choose_rows')


def check_min_distance(min_distance: float, stratify_by: str | None) -> None:
    """Refuse a ``min_distance_m`` that is not a distance or clashes with quotas.

    The one check of the option for ``als4gan query`` and ``als4gan loop``.

    Args:
        min_distance: the option (metres, 0: off).
        stratify_by: the per-group quotas, if any.

    Raises:
        ValueError: If it is not a number >= 0, or set with ``stratify_by``.
    """
    if (
        isinstance(min_distance, bool)
        or not isinstance(min_distance, int | float)
        or not min_distance >= 0
    ):
        msg = f'min_distance_m must be a distance >= 0 in metres, got {min_distance!r}'
        raise ValueError(msg)
    if min_distance > 0 and stratify_by is not None:
        msg = 'min_distance_m and stratify_by cannot be combined yet; choose one'
        raise ValueError(msg)


def check_spacing(
    min_distance: float, strategy: QueryStrategy, stratify_by: str | None
) -> None:
    """Refuse a ``min_distance_m`` that the query cannot apply.

    Args:
        min_distance: the option (metres, 0: off).
        strategy: the query strategy.
        stratify_by: the per-group quotas, if any.

    Raises:
        ValueError: If it is negative, or set with a strategy that does not
            rank by uncertainty, or with ``stratify_by``.
    """
    check_min_distance(min_distance, stratify_by)
    if min_distance > 0 and (strategy.score is None or strategy.diversity):
        msg = (
            f'min_distance_m spaces the picks of an uncertainty ranking; strategy'
            f' {strategy.name!r} does not rank by uncertainty'
        )
        raise ValueError(msg)


def choose_rows(
    values: NDArray[np.float64],
    items: NDArray[np.int64],
    k: int,
    largest: bool,
    groups: Sequence[Hashable] | None = None,
    centres: NDArray[np.float64] | None = None,
    taken: Sequence[int] = (),
    min_distance: float = 0.0,
) -> tuple[NDArray[np.int64], int]:
    """Rows of a scores table to label next, best first.

    Args:
        values: the score of each row (NaN: not scored, never chosen).
        items: the pool position of each row (breaks ties).
        k: how many to choose.
        largest: larger scores first.
        groups: the group of each row, for per-group quotas (None: one pool).
        centres: [N, 2] footprint centres in metres by pool position, to keep
            ``min_distance`` between chosen patches (None: no spacing).
        taken: pool positions labelled before (spaced from too).
        min_distance: metres between chosen centres.

    Returns:
        The chosen rows and how many of them had to be closer than
        ``min_distance`` to fill the round.
    """
    if groups is not None:
        return stratified_top(values, groups, k, largest, items), 0
    finite = ~np.isnan(values)
    rows = np.flatnonzero(finite)
    order = rows[rank_items(values[finite], largest, items[finite])]
    if centres is None:
        return order[:k], 0
    row_of = {int(items[r]): int(r) for r in order}
    spaced, filled = spaced_top(
        items[order],
        centres,
        k,
        min_distance,
        centres[np.asarray(taken, dtype=np.int64)],
    )
    return np.asarray([row_of[int(i)] for i in spaced], dtype=np.int64), filled
