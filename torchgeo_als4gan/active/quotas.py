"""Stratified selection: proportional quotas per group (city, scene class, file).

STAL labels the most uncertain images of each city in proportion to the city's
share of the unlabelled pool, so that no region is left out of the labelled
set. :func:`stratified_quotas` gives the quotas with an exact total and
:func:`stratified_top` applies them to per-item scores.
"""

import math
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .ranking import rank_items

__all__ = ('stratified_quotas', 'stratified_top')


def stratified_quotas(n: int, available: Mapping[Hashable, int]) -> dict[Hashable, int]:
    """Split ``n`` picks among groups in proportion to what each has left.

    Each group gets ``round(n * a_g / sum(a))`` (STAL's rule). The remainder is
    then adjusted so that the total is exactly ``n``: picks are added to the
    groups whose exact share ``n * a_g / sum(a)`` was rounded down the most, or
    taken from those rounded up the most (ties: the group listed first). No
    group gets more than it has: a full group's excess goes to the others by
    the same rule, and a group with nothing left gets nothing.

    Args:
        n: number of picks.
        available: unlabelled items left per group.

    Returns:
        Picks per group (every group of ``available``, zero included).

    Raises:
        ValueError: If ``n`` is negative, a count is negative or ``n`` exceeds
            the items available.
    """
    if n < 0:
        msg = f'stratified_quotas: n must be >= 0, got {n}'
        raise ValueError(msg)
    if any(a < 0 for a in available.values()):
        msg = f'stratified_quotas: negative group counts {dict(available)}'
        raise ValueError(msg)
    total = sum(available.values())
    if n > total:
        msg = f'stratified_quotas: {n} picks asked but only {total} items are left'
        raise ValueError(msg)
    quotas = dict.fromkeys(available, 0)
    open_groups = [g for g, a in available.items() if a > 0]
    left = n
    while left:
        weights = {g: available[g] - quotas[g] for g in open_groups}
        pool = sum(weights.values())
        exact = {g: left * w / pool for g, w in weights.items()}
        share = {g: min(math.floor(e + 0.5), weights[g]) for g, e in exact.items()}
        diff = left - sum(share.values())
        order = list(open_groups)
        if diff > 0:  # rounded down the most first, among groups with room
            order.sort(key=lambda g: share[g] - exact[g])
            for g in order:
                if diff and share[g] < weights[g]:
                    share[g] += 1
                    diff -= 1
        elif diff < 0:  # rounded up the most first
            order.sort(key=lambda g: exact[g] - share[g])
            for g in order:
                if diff and share[g] > 0:
                    share[g] -= 1
                    diff += 1
        for g in open_groups:
            quotas[g] += share[g]
        left = n - sum(quotas.values())
        open_groups = [g for g in open_groups if quotas[g] < available[g]]
    return quotas


def stratified_top(
    scores: ArrayLike,
    groups: Sequence[Hashable],
    n: int,
    largest: bool = True,
    indices: ArrayLike | None = None,
) -> NDArray[np.int64]:
    """Positions of the ``n`` most uncertain items under per-group quotas.

    Args:
        scores: one score per item (NaN: never chosen, not counted as left).
        groups: group of each item.
        n: number of picks.
        largest: whether larger scores are more uncertain.
        indices: tie-break key of each item (default: position), as in
            :func:`~torchgeo_als4gan.active.rank_items`.

    Returns:
        Positions into ``scores``, group by group in the order of
        :func:`stratified_quotas`, most uncertain first within a group.

    Raises:
        ValueError: If ``groups`` and ``scores`` differ in length or fewer than
            ``n`` items have a score.
    """
    values = np.asarray(scores, dtype=np.float64)
    if len(groups) != len(values):
        msg = f'stratified_top: {len(values)} scores but {len(groups)} groups'
        raise ValueError(msg)
    keys = np.arange(len(values)) if indices is None else np.asarray(indices)
    members: dict[Hashable, list[int]] = {}
    for position, group in enumerate(groups):
        if not np.isnan(values[position]):
            members.setdefault(group, []).append(position)
    quotas = stratified_quotas(n, {g: len(m) for g, m in members.items()})
    chosen: list[int] = []
    for group, quota in quotas.items():
        if quota:
            rows = np.asarray(members[group])
            order = rank_items(values[rows], largest, keys[rows])[:quota]
            chosen += rows[order].tolist()
    return np.asarray(chosen, dtype=np.int64)
