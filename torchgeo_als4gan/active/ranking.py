"""Choosing items from scores: deterministic ranking, spacing, k-center greedy."""

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ('k_center_greedy', 'rank_items', 'spaced_top')


def rank_items(
    scores: ArrayLike, largest: bool = True, indices: ArrayLike | None = None
) -> NDArray[np.int64]:
    """Order items from most to least uncertain, ties broken by item index.

    Args:
        scores: one score per item.
        largest: larger scores first (entropy); else smaller first (margin).
        indices: item indices used to break ties (default ``0..n-1``).

    Returns:
        Positions into ``scores``, most uncertain first.

    Raises:
        ValueError: If a score is NaN.
    """
    values = np.asarray(scores, dtype=np.float64)
    if np.isnan(values).any():
        msg = f'{int(np.isnan(values).sum())} scores are NaN: cannot rank the pool'
        raise ValueError(msg)
    ties = np.arange(len(values)) if indices is None else np.asarray(indices)
    key = -values if largest else values
    return np.lexsort((ties, key)).astype(np.int64)


def spaced_top(
    order: ArrayLike,
    centres: ArrayLike,
    k: int,
    min_distance: float,
    taken: ArrayLike | None = None,
) -> tuple[NDArray[np.int64], int]:
    """The best ``k`` items of ``order`` that keep ``min_distance`` from each other.

    Walks the ranking (best first) and keeps an item when its centre is at
    least ``min_distance`` from every item kept so far and from the ``taken``
    centres (items labelled earlier), so a batch does not spend the budget on a
    clump of neighbours that show the same thing. When fewer than ``k`` items
    are far enough apart, the best skipped ones fill the batch (the budget is
    spent) and their number is returned.

    Args:
        order: item positions, best first (e.g. from :func:`rank_items`).
        centres: [N, 2] centre of every item (positions index it), in metres.
        k: items to choose.
        min_distance: smallest distance between chosen centres, in metres.
        taken: [M, 2] centres of items already labelled (None: none).

    Returns:
        The chosen positions (the spaced ones in rank order, then the fill) and
        how many of them were filled in closer than ``min_distance``.

    Raises:
        ValueError: If ``min_distance`` is negative or ``centres`` is not [N, 2].
    """
    if not min_distance >= 0:
        msg = f'min_distance must be >= 0 metres, got {min_distance!r}'
        raise ValueError(msg)
    points = np.asarray(centres, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        msg = f'centres must be [N, 2] coordinates, got shape {points.shape}'
        raise ValueError(msg)
    ranked = np.asarray(order, dtype=np.int64)
    kept_points = (
        np.asarray(taken, dtype=np.float64).reshape(-1, 2)
        if taken is not None
        else np.empty((0, 2))
    )
    kept: list[int] = []
    skipped: list[int] = []
    limit = min_distance**2
    for position in ranked:
        if len(kept) == k:
            break
        point = points[position]
        if len(kept_points) and ((kept_points - point) ** 2).sum(axis=1).min() < limit:
            skipped.append(int(position))
            continue
        kept.append(int(position))
        kept_points = np.vstack([kept_points, point])
    fill = skipped[: max(k - len(kept), 0)]
    return np.asarray(kept + fill, dtype=np.int64), len(fill)


def _sq_distances(
    embeddings: NDArray[np.floating],
    rows: NDArray[np.int64],
    points: NDArray[np.float64],
    chunk: int,
) -> NDArray[np.float64]:
    """Squared distance of each given row to its nearest point [K, D], in chunks."""
    p_norm = (points**2).sum(axis=1)
    out = np.empty(len(rows))
    for start in range(0, len(rows), chunk):
        block = np.asarray(embeddings[rows[start : start + chunk]], dtype=np.float64)
        d = (block**2).sum(axis=1)[:, None] - 2 * block @ points.T + p_norm[None, :]
        out[start : start + chunk] = np.maximum(d.min(axis=1), 0)
    return out


def k_center_greedy(
    embeddings: NDArray[np.floating],
    centers: Sequence[int],
    candidates: Sequence[int],
    k: int,
    chunk: int = 4096,
) -> tuple[list[int], list[float]]:
    """Core-set selection: repeatedly take the candidate farthest from all centers.

    This is the greedy 2-approximation of the k-center problem (Sener & Savarese,
    2018): the chosen items cover the embedding space of the pool. Distances are
    computed in chunks, so ``embeddings`` may be a memory-mapped array larger than
    memory. Ties go to the lowest row.

    Args:
        embeddings: one row per item [N, D] (e.g. the classifier's pooled features).
        centers: rows already selected.
        candidates: rows that may be chosen.
        k: number of rows to choose.
        chunk: rows per distance block.

    Returns:
        The chosen rows in the order they were taken, and the distance of each to
        its nearest center when it was taken.

    Raises:
        ValueError: If ``k`` exceeds the number of candidates.
    """
    if k > len(candidates):
        msg = f'Cannot choose {k} items from {len(candidates)} candidates'
        raise ValueError(msg)
    cand = np.sort(np.asarray(candidates, dtype=np.int64))
    if len(centers):
        points = np.asarray(embeddings[np.asarray(centers)], dtype=np.float64)
    else:
        # No center yet: start from the candidate farthest from the candidates' mean.
        points = np.zeros((1, embeddings.shape[1]))
        for start in range(0, len(cand), chunk):
            points[0] += np.asarray(embeddings[cand[start : start + chunk]]).sum(axis=0)
        points /= max(len(cand), 1)
    dist = _sq_distances(embeddings, cand, points, chunk)
    chosen: list[int] = []
    distances: list[float] = []
    available = np.ones(len(cand), dtype=bool)
    for _ in range(k):
        masked = np.where(available, dist, -np.inf)
        pos = int(np.argmax(masked))
        chosen.append(int(cand[pos]))
        distances.append(float(np.sqrt(dist[pos])))
        available[pos] = False
        new = np.asarray(embeddings[cand[pos : pos + 1]], dtype=np.float64)
        dist = np.minimum(dist, _sq_distances(embeddings, cand, new, chunk))
    return chosen, distances
