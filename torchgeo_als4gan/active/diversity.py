"""Diverse batches from embeddings: uncertain core-set and BADGE's k-means++.

Top-k of a per-item uncertainty tends to spend a round on near-duplicates
(neighbouring patches of one town). Two batch rules spread a round over what
the segmenter has learnt to tell apart:

- ``feature``: the ``candidates`` most uncertain items, then the k-center
  greedy core-set (Sener & Savarese, 2018) over their pooled features, with
  the items labelled before as the first centres: uncertain *and* unlike what
  is labelled.
- ``badge`` (Ash et al., 2020): k-means++ seeding over gradient embeddings of
  the last layer, whose norm grows with the uncertainty; so one rule weighs
  both, with no candidate cut.

Both are pure functions of arrays (tested on hand-made points) and take
per-group quotas (:func:`~torchgeo_als4gan.active.quotas.stratified_quotas`).
"""

from collections.abc import Hashable, Sequence

import numpy as np
from numpy.typing import NDArray

from .quotas import stratified_quotas
from .ranking import k_center_greedy, rank_items

__all__ = (
    'DIVERSITY',
    'check_diversity',
    'diverse_rows',
    'kmeans_pp_seeding',
    'uncertain_core_set',
)

#: What ``diversity`` accepts: top-k, spaced footprints, embeddings (core-set
#: of the uncertain, or BADGE).
DIVERSITY = ('none', 'spatial', 'feature', 'badge')


def check_diversity(
    diversity: str, min_distance: float, ranked: bool, candidates: int
) -> None:
    """Refuse a ``diversity`` that the other options cannot honour.

    Args:
        diversity: one of :data:`DIVERSITY`.
        min_distance: ``min_distance_m`` (metres, 0: off).
        ranked: whether the scorer ranks by uncertainty (False: random).
        candidates: ``diversity_candidates``, the uncertain shortlist's size
            as a multiple of the round's items (``feature``).

    Raises:
        ValueError: If the name is unknown, ``spatial`` has no distance, a
            distance is combined with an embedding rule, an embedding rule
            has no uncertainty to weigh, or ``candidates`` is below 1.
    """
    if diversity not in DIVERSITY:
        msg = f'diversity must be one of {list(DIVERSITY)}, got {diversity!r}'
        raise ValueError(msg)
    if diversity == 'spatial' and not min_distance > 0:
        msg = 'diversity: spatial needs min_distance_m > 0 (metres between picks)'
        raise ValueError(msg)
    if diversity in ('feature', 'badge'):
        if min_distance > 0:
            msg = (
                f'diversity: {diversity} and min_distance_m cannot be combined yet;'
                ' choose one'
            )
            raise ValueError(msg)
        if not ranked:
            msg = f'diversity: {diversity} needs an uncertainty scorer, not random'
            raise ValueError(msg)
    if (
        isinstance(candidates, bool)
        or not isinstance(candidates, int)
        or candidates < 1
    ):
        msg = f'diversity_candidates must be an integer >= 1, got {candidates!r}'
        raise ValueError(msg)


def kmeans_pp_seeding(
    embeddings: NDArray[np.floating], k: int, rng: np.random.Generator
) -> list[int]:
    """BADGE's batch: k-means++ seeding over (gradient) embeddings.

    The first row is the one of largest norm (the most uncertain under
    gradient embeddings); each next row is drawn with probability
    proportional to its squared distance to the nearest row taken, so a round
    neither repeats one kind of item nor ignores the uncertain ones. Rows that
    coincide with a taken one are drawn only when nothing else is left.

    Args:
        embeddings: one row per candidate [N, D].
        k: rows to take (at most N).
        rng: the draws' generator (seeded by the caller: the round is
            reproducible).

    Returns:
        The taken rows, in the order they were taken.

    Raises:
        ValueError: If ``k`` exceeds N or is negative.
    """
    points = np.asarray(embeddings, dtype=np.float64)
    n = len(points)
    if not 0 <= k <= n:
        msg = f'kmeans_pp_seeding: cannot take {k} of {n} rows'
        raise ValueError(msg)
    if k == 0:
        return []
    first = int(np.argmax((points**2).sum(axis=1)))
    chosen = [first]
    dist = ((points - points[first]) ** 2).sum(axis=1)
    dist[first] = 0.0
    available = np.ones(n, dtype=bool)
    available[first] = False
    while len(chosen) < k:
        weights = np.where(available, dist, 0.0)
        total = weights.sum()
        if total > 0:
            row = int(rng.choice(n, p=weights / total))
        else:  # only duplicates of taken rows are left
            row = int(np.flatnonzero(available)[0])
        chosen.append(row)
        available[row] = False
        dist = np.minimum(dist, ((points - points[row]) ** 2).sum(axis=1))
    return chosen


def uncertain_core_set(
    embeddings: NDArray[np.floating],
    values: NDArray[np.float64],
    k: int,
    largest: bool,
    items: NDArray[np.int64],
    candidates: int,
    labelled: NDArray[np.floating] | None = None,
) -> list[int]:
    """The ``feature`` batch: k-center greedy over the most uncertain rows.

    Args:
        embeddings: pooled features of every row [N, D].
        values: the uncertainty of every row.
        k: rows to take.
        largest: larger values are more uncertain.
        items: pool position of every row (breaks ranking ties).
        candidates: the shortlist is ``candidates * k`` most uncertain rows.
        labelled: features of the items labelled before [M, D] (the first
            centres; None: the shortlist's mean is the start).

    Returns:
        The taken rows, in the order they were taken.
    """
    shortlist = rank_items(values, largest, items)[: min(len(values), candidates * k)]
    base = np.asarray(embeddings, dtype=np.float64)[shortlist]
    centres: list[int] = []
    if labelled is not None and len(labelled):
        base = np.vstack([np.asarray(labelled, dtype=np.float64), base])
        centres = list(range(len(labelled)))
    offset = len(centres)
    taken, _ = k_center_greedy(
        base, centres, range(offset, offset + len(shortlist)), min(k, len(shortlist))
    )
    return [int(shortlist[t - offset]) for t in taken]


def diverse_rows(
    diversity: str,
    embeddings: NDArray[np.floating],
    values: NDArray[np.float64],
    items: NDArray[np.int64],
    k: int,
    largest: bool,
    seed: Sequence[int],
    groups: Sequence[Hashable] | None = None,
    candidates: int = 4,
    labelled: NDArray[np.floating] | None = None,
) -> NDArray[np.int64]:
    """Rows of a scores table to label next under ``feature`` or ``badge``.

    Args:
        diversity: ``feature`` or ``badge``.
        embeddings: one row per table row [N, D] (pooled features or
            gradient embeddings).
        values: the uncertainty of every row (NaN: never chosen).
        items: the pool position of every row.
        k: rows to take (fewer when fewer have a score).
        largest: larger values are more uncertain.
        seed: seeds BADGE's draws (e.g. ``[seed, round]``).
        groups: per-row group for per-group quotas (None: one pool).
        candidates: ``feature``'s shortlist, in multiples of ``k``.
        labelled: ``feature``: features of the items labelled before.

    Returns:
        The chosen rows (group by group under quotas).

    Raises:
        ValueError: If ``diversity`` is not an embedding rule or the arrays
            do not line up.
    """
    if diversity not in ('feature', 'badge'):
        msg = f"diverse_rows: diversity must be 'feature' or 'badge', got {diversity!r}"
        raise ValueError(msg)
    if len(embeddings) != len(values) or len(items) != len(values):
        msg = (
            f'diverse_rows: {len(values)} scores, {len(items)} items and'
            f' {len(embeddings)} embeddings'
        )
        raise ValueError(msg)
    finite = np.flatnonzero(~np.isnan(values))
    members: dict[Hashable, list[int]] = {}
    for row in finite:
        members.setdefault(None if groups is None else groups[int(row)], []).append(
            int(row)
        )
    quotas = stratified_quotas(
        min(k, len(finite)), {g: len(m) for g, m in members.items()}
    )
    rng = np.random.default_rng(list(seed))
    chosen: list[int] = []
    for group, quota in quotas.items():
        if not quota:
            continue
        rows = np.asarray(members[group], dtype=np.int64)
        if diversity == 'badge':
            picked = kmeans_pp_seeding(np.asarray(embeddings)[rows], quota, rng)
        else:
            picked = uncertain_core_set(
                np.asarray(embeddings)[rows], values[rows], quota, largest,
                items[rows], candidates, labelled,
            )  # fmt: skip
        chosen += rows[picked].tolist()
    return np.asarray(chosen, dtype=np.int64)
