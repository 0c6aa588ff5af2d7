"""One round's choice from scored pool items: top-k, per-group quotas or spaced."""

from collections.abc import Hashable, Sequence

import numpy as np
from numpy.typing import NDArray

from .quotas import stratified_top
from .ranking import rank_items, spaced_top

__all__ = ('choose_rows',)


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
