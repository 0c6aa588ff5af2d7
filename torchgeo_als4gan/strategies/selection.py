"""Choosing items from scores: deterministic ranking and k-center greedy."""

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ('k_center_greedy', 'rank_items')


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


def _min_sq_distances(
    embeddings: NDArray[np.floating], centers: Sequence[int], chunk: int
) -> NDArray[np.float64]:
    """Squared distance of every row to its nearest center, in row chunks."""
    n = len(embeddings)
    best = np.full(n, np.inf)
    if not len(centers):
        return best
    c = np.asarray(embeddings[np.asarray(centers)], dtype=np.float64)
    c_norm = (c**2).sum(axis=1)
    for start in range(0, n, chunk):
        rows = np.asarray(embeddings[start : start + chunk], dtype=np.float64)
        d = (rows**2).sum(axis=1)[:, None] - 2 * rows @ c.T + c_norm[None, :]
        best[start : start + chunk] = np.maximum(d.min(axis=1), 0)
    return best


def _sq_distances_to(
    embeddings: NDArray[np.floating],
    rows: NDArray[np.int64],
    point: NDArray[np.float64],
    chunk: int,
) -> NDArray[np.float64]:
    """Squared distance of the given rows to one point, in chunks."""
    out = np.empty(len(rows))
    for start in range(0, len(rows), chunk):
        block = np.asarray(embeddings[rows[start : start + chunk]], dtype=np.float64)
        out[start : start + chunk] = ((block - point) ** 2).sum(axis=1)
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
    cand = np.asarray(candidates, dtype=np.int64)
    order = np.argsort(cand, kind='stable')
    cand = cand[order]
    dist = _min_sq_distances(embeddings, list(centers), chunk)[cand]
    if not len(centers) and k:
        # No center yet: start from the candidate farthest from the candidates' mean.
        mean = np.zeros(embeddings.shape[1])
        for start in range(0, len(cand), chunk):
            mean += np.asarray(embeddings[cand[start : start + chunk]]).sum(axis=0)
        mean /= len(cand)
        dist = _sq_distances_to(embeddings, cand, mean, chunk)
    chosen: list[int] = []
    distances: list[float] = []
    available = np.ones(len(cand), dtype=bool)
    for _ in range(k):
        masked = np.where(available, dist, -np.inf)
        pos = int(np.argmax(masked))
        chosen.append(int(cand[pos]))
        distances.append(float(np.sqrt(dist[pos])))
        available[pos] = False
        new = np.asarray(embeddings[cand[pos]], dtype=np.float64)
        dist = np.minimum(dist, _sq_distances_to(embeddings, cand, new, chunk))
    return chosen, distances
