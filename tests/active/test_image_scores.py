import math

import numpy as np
import pytest
import torch

from torchgeo_als4gan.active import (
    STRATEGIES,
    as_two_class,
    bald,
    entropy,
    get_strategy,
    least_confidence,
    margin,
    rank_items,
    score_probabilities,
)

# A toy pool with known probabilities (3 classes).
PROBS = torch.tensor(
    [
        [0.98, 0.01, 0.01],  # 0: confident
        [0.34, 0.33, 0.33],  # 1: nearly uniform -> highest entropy
        [0.50, 0.50, 0.00],  # 2: tie between two classes -> smallest margin
        [0.60, 0.30, 0.10],  # 3
        [0.40, 0.35, 0.25],  # 4: lowest top probability after item 1
    ]
)


def pick(name: str, probs: torch.Tensor, k: int) -> list[int]:
    strategy = get_strategy(name)
    scores = score_probabilities(strategy, probs).numpy()
    return rank_items(scores, strategy.largest)[:k].tolist()


def test_entropy_values() -> None:
    expected = [-sum(p * math.log(p) for p in row if p > 0) for row in PROBS.tolist()]
    assert torch.allclose(entropy(PROBS), torch.tensor(expected), atol=1e-6)
    assert float(entropy(torch.tensor([0.5, 0.5]))) == pytest.approx(math.log(2))


def test_margin_and_least_confidence_values() -> None:
    assert margin(PROBS).tolist() == pytest.approx([0.97, 0.01, 0.0, 0.3, 0.05])
    assert least_confidence(PROBS).tolist() == pytest.approx(
        [0.02, 0.66, 0.5, 0.4, 0.6]
    )


@pytest.mark.parametrize(
    ('name', 'expected'),
    [('entropy', [1, 4, 3]), ('margin', [2, 1, 4]), ('least_confidence', [1, 4, 2])],
)
def test_each_strategy_picks_expected_items(name: str, expected: list[int]) -> None:
    assert pick(name, PROBS, 3) == expected


def test_bald_prefers_disagreement_over_noise() -> None:
    # [T=2, N=3, C=2]: item 0 agrees confidently, item 1 disagrees confidently,
    # item 2 is uniform in every sample (uncertain data, certain model).
    mc = torch.tensor(
        [[[1.0, 0.0], [1.0, 0.0], [0.5, 0.5]], [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]]
    )
    assert bald(mc).tolist() == pytest.approx([0.0, math.log(2), 0.0], abs=1e-6)
    assert pick('bald', mc, 1) == [1]
    # entropy of the mean cannot tell items 1 and 2 apart: the tie goes to the index
    assert pick('entropy', mc.mean(0), 2) == [1, 2]


def test_multilabel_scores_average_labels() -> None:
    probs = torch.tensor([[0.5, 1.0], [0.9, 0.1]])
    two = as_two_class(probs)
    assert two.shape == (2, 2, 2)
    assert torch.allclose(two.sum(-1), torch.ones(2, 2))
    ent = score_probabilities(get_strategy('entropy'), probs, multilabel=True)
    assert ent[0] == pytest.approx(math.log(2) / 2, abs=1e-6)
    marg = score_probabilities(get_strategy('margin'), probs, multilabel=True)
    assert marg.tolist() == pytest.approx([0.5, 0.8])


def test_unknown_strategy_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match='Unknown strategy .*valid: random, entropy'):
        get_strategy('uncertainty')
    assert set(STRATEGIES) == {
        'random', 'entropy', 'margin', 'least_confidence', 'bald', 'diversity'
    }  # fmt: skip


def test_scoring_a_non_scoring_strategy_fails() -> None:
    with pytest.raises(ValueError, match='does not score'):
        score_probabilities(get_strategy('diversity'), PROBS)


def test_rank_ties_broken_by_index_and_nan_rejected() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.9])
    assert rank_items(scores).tolist() == [1, 3, 0, 2]
    assert rank_items(scores, largest=False).tolist() == [0, 2, 1, 3]
    assert rank_items(scores, indices=[7, 6, 5, 4]).tolist() == [3, 1, 2, 0]
    with pytest.raises(ValueError, match='1 scores are NaN'):
        rank_items([0.1, float('nan')])
