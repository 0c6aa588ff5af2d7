"""Diverse batches on hand-made points: one pick per cluster, labelled areas avoided."""

import numpy as np
import pytest

from torchgeo_als4gan.active.diversity import (
    check_diversity,
    diverse_rows,
    kmeans_pp_seeding,
    uncertain_core_set,
)


def clusters(per: int = 5, spread: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Three tight clusters far apart; returns points [3*per, 2] and cluster ids."""
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = np.vstack([c + spread * rng.standard_normal((per, 2)) for c in centres])
    return points, np.repeat(np.arange(3), per)


def test_kmeans_pp_takes_one_item_of_each_cluster() -> None:
    points, cluster = clusters()
    points = points + np.array([1.0, 1.0])  # the norms differ: (10, 1) is largest
    for seed in range(5):
        rows = kmeans_pp_seeding(points, 3, np.random.default_rng(seed))
        assert sorted(cluster[rows]) == [0, 1, 2]
        assert rows[0] == int(np.argmax((points**2).sum(axis=1)))


def test_kmeans_pp_takes_duplicates_only_when_nothing_else_is_left() -> None:
    points = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    rows = kmeans_pp_seeding(points, 3, np.random.default_rng(0))
    assert rows[0] == 2 and sorted(rows) == [0, 1, 2]  # the last is a duplicate
    assert kmeans_pp_seeding(points, 0, np.random.default_rng(0)) == []
    with pytest.raises(ValueError, match='cannot take 4 of 3 rows'):
        kmeans_pp_seeding(points, 4, np.random.default_rng(0))


def test_uncertain_core_set_spreads_over_clusters_top_k_does_not() -> None:
    points, cluster = clusters()
    values = np.linspace(1.0, 0.5, len(points))  # cluster 0 is the most uncertain
    items = np.arange(len(points))
    top = np.argsort(-values)[:3]
    assert set(cluster[top]) == {0}  # plain top-k: a clump
    rows = uncertain_core_set(points, values, 3, True, items, candidates=5)
    assert sorted(cluster[rows]) == [0, 1, 2]
    # a shortlist of 1 x k is plain top-k again
    rows = uncertain_core_set(points, values, 3, True, items, candidates=1)
    assert sorted(rows) == sorted(top.tolist())


def test_uncertain_core_set_starts_away_from_the_labelled_items() -> None:
    points, cluster = clusters()
    values = np.ones(len(points))
    items = np.arange(len(points))
    labelled = np.array([[0.0, 0.0], [10.0, 0.0]])  # clusters 0 and 1 are labelled
    rows = uncertain_core_set(points, values, 1, True, items, 15, labelled)
    assert cluster[rows] == [2]


def test_diverse_rows_keep_group_quotas_and_skip_unscored_rows() -> None:
    points, cluster = clusters(per=4)
    values = np.full(len(points), 0.5)
    values[0] = np.nan  # never chosen
    groups = ['a' if c < 2 else 'b' for c in cluster]  # a: 7 scored rows, b: 4
    for method in ('feature', 'badge'):
        rows = diverse_rows(
            method, points + 1, values, np.arange(len(points)), 3, True, [0, 1],
            groups, candidates=10,
        )  # fmt: skip
        assert 0 not in rows and len(set(rows.tolist())) == 3
        assert sorted(groups[r] for r in rows) == ['a', 'a', 'b']
        again = diverse_rows(
            method, points + 1, values, np.arange(len(points)), 3, True, [0, 1],
            groups, candidates=10,
        )  # fmt: skip
        assert rows.tolist() == again.tolist()  # seeded
    with pytest.raises(ValueError, match="must be 'feature' or 'badge'"):
        diverse_rows('spatial', points, values, np.arange(len(points)), 3, True, [0])
    with pytest.raises(ValueError, match='12 scores, 12 items and 11 embeddings'):
        diverse_rows('badge', points[1:], values, np.arange(len(points)), 3, True, [0])


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        (('kmeans', 0.0, True, 4), 'diversity must be one of'),
        (('spatial', 0.0, True, 4), 'spatial needs min_distance_m > 0'),
        (('badge', 100.0, True, 4), 'badge and min_distance_m cannot be combined'),
        (('feature', 0.0, False, 4), 'feature needs an uncertainty scorer'),
        (('feature', 0.0, True, 0), 'diversity_candidates must be an integer >= 1'),
    ],
)
def test_check_diversity_names_what_is_wrong(args: tuple, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=message):
        check_diversity(*args)
    check_diversity('spatial', 50.0, False, 4)  # spacing needs no scorer
