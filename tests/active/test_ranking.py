import numpy as np
import pytest

from torchgeo_als4gan.active import k_center_greedy, spaced_top


def test_k_center_greedy_covers_the_space() -> None:
    # Two clusters and an outlier; center 0 is in cluster A.
    points = np.array(
        [[0, 0], [0.1, 0], [0, 0.1], [10, 10], [10.1, 10], [0, 20]], dtype=np.float32
    )
    chosen, distances = k_center_greedy(points, [0], [1, 2, 3, 4, 5], 2)
    assert chosen == [5, 4]  # the outlier, then the far side of cluster B
    assert distances == pytest.approx([20.0, np.sqrt(10.1**2 + 100)], rel=1e-5)


def test_k_center_greedy_chunks_and_memmap(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    data = rng.normal(size=(50, 4)).astype(np.float32)
    mm = np.lib.format.open_memmap(tmp_path / 'e.npy', 'w+', np.float32, data.shape)
    mm[:] = data
    a, _ = k_center_greedy(data, [0, 1], list(range(2, 50)), 5, chunk=7)
    b, _ = k_center_greedy(mm, [0, 1], list(range(2, 50)), 5, chunk=4096)
    assert a == b
    assert len(set(a)) == 5 and not {0, 1} & set(a)


def test_k_center_greedy_without_centers_and_ties() -> None:
    points = np.array([[0.0], [1.0], [1.0], [-3.0]])
    chosen, _ = k_center_greedy(points, [], [0, 1, 2, 3], 2)
    assert chosen[0] == 3  # farthest from the mean (-0.25)
    assert chosen[1] == 1  # 1 and 2 tie: the lower row wins


def test_k_center_greedy_too_many() -> None:
    with pytest.raises(ValueError, match='Cannot choose 3 items from 2'):
        k_center_greedy(np.zeros((3, 2)), [0], [1, 2], 3)


def test_spaced_top_skips_neighbours_of_better_picks() -> None:
    # a clump of three around x=0 scores best, then a pair at x=100, one at 200
    centres = [[0, 0], [1, 0], [2, 0], [100, 0], [101, 0], [200, 0]]
    chosen, filled = spaced_top(range(6), centres, 3, 50.0)
    assert chosen.tolist() == [0, 3, 5] and filled == 0
    points = np.asarray(centres, dtype=float)[chosen]
    gaps = np.linalg.norm(points[:, None] - points[None], axis=-1)
    assert gaps[np.triu_indices(3, 1)].min() >= 50


def test_spaced_top_keeps_away_from_labelled_items_and_fills_the_round() -> None:
    centres = [[0, 0], [1, 0], [2, 0], [100, 0], [101, 0], [200, 0]]
    # a patch labelled before sits at x=199: item 5 is too close to it
    chosen, filled = spaced_top(range(6), centres, 3, 50.0, taken=[[199, 0]])
    assert chosen.tolist()[:2] == [0, 3]
    assert filled == 1 and chosen.tolist()[2] == 1  # the best skipped one
    rng = np.random.default_rng(0)
    many = rng.uniform(0, 1000, (200, 2))
    chosen, filled = spaced_top(rng.permutation(200), many, 10, 120.0)
    assert filled == 0 and len(set(chosen.tolist())) == 10
    points = many[chosen]
    gaps = np.linalg.norm(points[:, None] - points[None], axis=-1)
    assert gaps[np.triu_indices(10, 1)].min() >= 120


def test_spaced_top_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match='min_distance must be >= 0'):
        spaced_top([0], [[0, 0]], 1, -1.0)
    with pytest.raises(ValueError, match=r'centres must be \[N, 2\]'):
        spaced_top([0], [0, 0], 1, 1.0)
