import pytest

from torchgeo_als4gan.active import QueryBudget
from torchgeo_als4gan.datamodules.selection import random_selection


@pytest.mark.parametrize(
    ('ratio', 'target', 'seed', 'q', 'rounds', 'last'),
    [
        # ALS4GAN settings on the UCM pool of 1679 images, alpha 0.1, beta 0.5:
        # target = ceil(r * 1679), seed = int(0.1 * target), q = ceil(0.5 * seed)
        (0.02, 34, 3, 2, 16, 1),  # 33.58 -> 34; 3.4 -> 3; 1.5 -> 2; 31 = 15*2 + 1
        (0.05, 84, 8, 4, 19, 4),  # 83.95 -> 84; 8.4 -> 8; 4; 76 = 19*4
        (0.125, 210, 21, 11, 18, 2),  # 209.875 -> 210; 21; 10.5 -> 11; 189 = 17*11 + 2
    ],
)
def test_als4gan_round_arithmetic(
    ratio: float, target: int, seed: int, q: int, rounds: int, last: int
) -> None:
    budget = QueryBudget(1679, ratio, alpha=0.1, beta=0.5)
    assert budget.target == target
    assert budget.seed == seed
    assert budget.query_size == q
    sizes = budget.round_sizes
    assert len(sizes) == rounds
    assert sizes[-1] == last
    assert all(s == q for s in sizes[:-1])
    assert budget.seed + sum(sizes) == target
    # the random baseline of the same ratio has exactly the same size
    ids = [f'i{n}' for n in range(1679)]
    assert len(random_selection(ids, ratio, 0)) == target


def test_seed_pool_outside_selection_queries_the_whole_target() -> None:
    budget = QueryBudget(1679, 0.02, 0.1, 0.5, seed_in_selection=False)
    assert sum(budget.round_sizes) == 34
    assert len(budget.round_sizes) == 17


def test_seed_pool_at_least_one() -> None:
    # int(0.1 * 5) = 0 crashed ALS4GAN
    budget = QueryBudget(100, 0.05, alpha=0.1, beta=0.5)
    assert (budget.target, budget.seed, budget.query_size) == (5, 1, 1)
    assert budget.round_sizes == [1, 1, 1, 1]


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'ratio': 0.0}, r'labeled_ratio must be in \(0, 1\], got 0.0'),
        ({'ratio': 1.5}, r'labeled_ratio must be in \(0, 1\], got 1.5'),
        ({'alpha': 0.0}, r'alpha must be in \(0, 1\], got 0.0'),
        ({'alpha': 2}, r'alpha must be in \(0, 1\], got 2'),
        ({'beta': -0.5}, r'beta must be in \(0, 1\], got -0.5'),
        ({'beta': True}, r'beta must be in \(0, 1\], got True'),
        (
            {'ratio': 1e-13},
            r'selects 0 of the 1679 .* minimum ratio for this pool is 0.000595593',
        ),
    ],
)
def test_bad_budget(kwargs: dict[str, float], match: str) -> None:
    args = {'pool_size': 1679, 'ratio': 0.05, 'alpha': 0.1, 'beta': 0.5, **kwargs}
    with pytest.raises(ValueError, match=match):
        QueryBudget(**args)  # type: ignore[arg-type]


def test_pool_too_small_or_empty() -> None:
    with pytest.raises(ValueError, match='pool is empty'):
        QueryBudget(0, 0.5)
    with pytest.raises(ValueError, match='too small for a target of 10'):
        QueryBudget(10, 1.0, alpha=0.5, seed_in_selection=False)
