from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from torchgeo_als4gan.active import (
    PricedBudget,
    QueryBudget,
    get_strategy,
    score_probabilities,
    stratified_quotas,
)
from torchgeo_als4gan.active.query import PoolLoop, QueryState, RoundScores
from torchgeo_als4gan.datamodules.selection import random_selection

N = 12
IDS = [f'tile{i:02d}' for i in range(N)]
# Item i is more uncertain the larger i: p(top) falls from 0.95 to 0.40.
TOP = torch.linspace(0.95, 0.40, N)
PROBS = torch.stack([TOP, (1 - TOP) * 0.6, (1 - TOP) * 0.4], dim=1)


class FakeLearner:
    """A fixed classifier with known probabilities; records what it is asked."""

    def __init__(self, strategy: str, fail_fit_round: int | None = None) -> None:
        self.strategy = get_strategy(strategy)
        self.fail_fit_round = fail_fit_round
        self.fits: list[tuple[int, list[int]]] = []
        self.scored: list[tuple[int, list[int]]] = []

    def fit(
        self, round_: int, labeled: Sequence[int], init: Path | None, save: Path
    ) -> None:
        if round_ == self.fail_fit_round:
            raise KeyboardInterrupt
        assert (init is None) == (round_ == 0)
        if init is not None:
            assert init.exists()
        self.fits.append((round_, list(labeled)))
        save.write_text(f'classifier after round {round_}')

    def score(self, round_: int, items: Sequence[int], checkpoint: Path) -> RoundScores:
        assert checkpoint.exists()
        self.scored.append((round_, list(items)))
        idx = np.asarray(items)
        if self.strategy.diversity:
            embeddings = np.stack([np.arange(N), np.zeros(N)], axis=1).astype(
                np.float32
            )
            return RoundScores(idx, None, embeddings)
        scores = score_probabilities(self.strategy, PROBS[idx]).double().numpy()
        return RoundScores(idx, scores)


def make_loop(tmp_path: Path, learner: FakeLearner, **kwargs) -> PoolLoop:  # type: ignore[no-untyped-def]
    budget_args = {'ratio': 0.5, 'alpha': 0.5, 'beta': 0.67}
    budget_args.update(
        {
            k: kwargs.pop(k)
            for k in list(kwargs)
            if k in ('ratio', 'alpha', 'beta', 'seed_in_selection')
        }
    )
    budget = QueryBudget(N, **budget_args)  # type: ignore[arg-type]
    return PoolLoop(
        learner, IDS, budget, learner.strategy, tmp_path / 'state', **kwargs
    )


def seed_pool(seed: int, size: int) -> list[int]:
    return sorted(np.random.default_rng(seed).permutation(N)[:size].tolist())


@pytest.mark.parametrize('strategy', ['entropy', 'margin', 'least_confidence'])
def test_uncertainty_loop_picks_expected_items(tmp_path: Path, strategy: str) -> None:
    learner = FakeLearner(strategy)
    loop = make_loop(tmp_path, learner)
    # target ceil(0.5 * 12) = 6, seed int(0.5 * 6) = 3, q = ceil(0.67 * 3) = 3
    assert (loop.budget.target, loop.budget.seed, loop.budget.round_sizes) == (
        6,
        3,
        [3],
    )
    state = loop.run()
    seed = seed_pool(0, 3)
    expected = [i for i in reversed(range(N)) if i not in seed][:3]
    assert state.selected == seed + expected
    assert state.rounds == [0, 0, 0, 1, 1, 1]
    assert state.finished
    # only the seed pool was trained on: the final round selects without retraining
    assert learner.fits == [(0, seed)]
    assert learner.scored == [(1, [i for i in range(N) if i not in seed])]
    assert seed == sorted(IDS.index(i) for i in random_selection(IDS, 0.25, 0)), (
        'the seed pool is the start of the random baseline of the same seed'
    )
    assert not np.isnan(state.scores[3:]).any()
    saved = np.load(tmp_path / 'state' / 'scores_round001.npy')
    assert np.isnan(saved[seed]).all() and not np.isnan(np.delete(saved, seed)).any()
    # the last trained classifier stays, as a checkpoint
    assert [p.name for p in (tmp_path / 'state').glob('*.ckpt')] == [
        'classifier_round000.ckpt'
    ]


def test_random_strategy_is_the_random_baseline(tmp_path: Path) -> None:
    learner = FakeLearner('random')
    loop = make_loop(tmp_path, learner, seed=3)
    state = loop.run()
    assert learner.fits == [] and learner.scored == []
    chosen = [IDS[i] for i, _, _ in loop.selection(state)]
    assert chosen == random_selection(IDS, 0.5, 3)


def test_seed_pool_left_out_like_als4gan(tmp_path: Path) -> None:
    learner = FakeLearner('entropy')
    loop = make_loop(tmp_path, learner, ratio=0.25, seed_in_selection=False)
    state = loop.run()
    rows = loop.selection(state)
    assert len(rows) == loop.budget.target == 3
    assert all(r > 0 for _, r, _ in rows)
    assert not set(seed_pool(0, 1)) & {i for i, _, _ in rows}


def test_interrupted_run_resumes_to_the_same_selection(tmp_path: Path) -> None:
    args = {
        'ratio': 0.75,
        'alpha': 0.5,
        'beta': 0.34,
    }  # target 9, seed 4, q 2: 3 rounds
    full = make_loop(tmp_path / 'a', FakeLearner('margin'), **args).run()

    crashing = FakeLearner('margin', fail_fit_round=2)
    with pytest.raises(KeyboardInterrupt):
        make_loop(tmp_path / 'b', crashing, **args).run()
    saved = QueryState.load(tmp_path / 'b' / 'state' / 'state.json')
    assert saved.round == 1 and not saved.finished

    resumed_learner = FakeLearner('margin')
    resumed = make_loop(tmp_path / 'b', resumed_learner, **args).run(resume=True)
    assert resumed.selected == full.selected
    assert resumed.rounds == full.rounds
    assert np.allclose(resumed.scores[4:], full.scores[4:])
    assert [r for r, _ in resumed_learner.scored] == [2, 3]
    assert [r for r, _ in resumed_learner.fits] == [2]


def test_resume_with_other_settings_fails(tmp_path: Path) -> None:
    make_loop(tmp_path, FakeLearner('entropy')).run()
    with pytest.raises(
        ValueError, match="settings differ .*strategy: saved 'entropy', now 'margin'"
    ):
        make_loop(tmp_path, FakeLearner('margin')).run(resume=True)


def test_diversity_with_and_without_uncertainty(tmp_path: Path) -> None:
    learner = FakeLearner('diversity')
    state = make_loop(tmp_path / 'a', learner, seed=1).run()
    seed = seed_pool(1, 3)
    # points on a line: k-center takes the farthest ends first
    assert learner.scored[0][1] == list(range(N)), 'diversity embeds the whole pool'
    assert len(set(state.selected)) == 6 and state.selected[:3] == seed
    far = max(range(N), key=lambda i: min(abs(i - s) for s in seed))
    assert state.selected[3] == far

    class Both(FakeLearner):
        def score(
            self, round_: int, items: Sequence[int], checkpoint: Path
        ) -> RoundScores:
            result = super().score(round_, items, checkpoint)
            result.scores = (
                score_probabilities(get_strategy('entropy'), PROBS).double().numpy()
            )
            return result

    loop = make_loop(
        tmp_path / 'b', Both('diversity'), uncertainty=get_strategy('entropy'),
        candidates_factor=1,
    )  # fmt: skip
    state = loop.run()
    # with factor 1 only the 3 most uncertain candidates are kept: same as entropy
    seed = seed_pool(0, 3)
    assert sorted(state.selected[3:]) == sorted(
        [i for i in reversed(range(N)) if i not in seed][:3]
    )


def test_bad_loop_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='Budget for 5 items but the pool has 12'):
        PoolLoop(
            FakeLearner('entropy'),
            IDS,
            QueryBudget(5, 0.5),
            get_strategy('entropy'),
            tmp_path,
        )
    with pytest.raises(
        ValueError, match="uncertainty must be a scoring strategy, got 'random'"
    ):
        make_loop(
            tmp_path, FakeLearner('diversity'), uncertainty=get_strategy('random')
        )


def test_stratified_rounds_follow_the_quotas(tmp_path: Path) -> None:
    # items 0-5 in group 'low' (less uncertain), 6-11 in 'high' (more uncertain)
    groups = ['low'] * 6 + ['high'] * 6
    plain = make_loop(tmp_path / 'plain', FakeLearner('entropy')).run()
    learner = FakeLearner('entropy')
    loop = make_loop(tmp_path / 'strata', learner, groups=groups)
    state = loop.run()
    seed = [i for i, r in zip(state.selected, state.rounds, strict=True) if r == 0]
    assert seed == [
        i for i, r in zip(plain.selected, plain.rounds, strict=True) if r == 0
    ]
    for round_, items in learner.scored:
        picks = [
            i for i, r in zip(state.selected, state.rounds, strict=True) if r == round_
        ]
        left = {g: sum(groups[i] == g for i in items) for g in ('low', 'high')}
        quotas = stratified_quotas(len(picks), left)
        assert {g: sum(groups[i] == g for i in picks) for g in left} == quotas
        for group in ('low', 'high'):  # the most uncertain of each group
            mine = sorted(i for i in items if groups[i] == group)[::-1]
            assert sorted(p for p in picks if groups[p] == group) == sorted(
                mine[: quotas[group]]
            )
    # without strata, entropy would only ever pick the 'high' items
    later = [i for i, r in zip(plain.selected, plain.rounds, strict=True) if r > 0]
    assert all(groups[i] == 'high' for i in later)
    assert any(
        groups[i] == 'low'
        for i, r in zip(state.selected, state.rounds, strict=True)
        if r > 0
    )
    with pytest.raises(ValueError, match='3 groups for a pool of 12'):
        make_loop(tmp_path / 'bad', FakeLearner('entropy'), groups=['a'] * 3)
    with pytest.raises(ValueError, match='needs an uncertainty strategy'):
        make_loop(tmp_path / 'random', FakeLearner('random'), groups=groups)


def priced_loop(tmp_path: Path, learner: FakeLearner, amount: float) -> PoolLoop:
    # item 0 has nothing valid to label (price 0), item 11 (the most uncertain)
    # is a dense patch priced 3, every other item costs 1
    prices = np.ones(N)
    prices[0], prices[11] = 0.0, 3.0
    budget = PricedBudget(amount, 'cost', prices, alpha=0.34, beta=1.0)
    return PoolLoop(learner, IDS, budget, learner.strategy, tmp_path / 'state')


def test_priced_rounds_buy_the_ranking_while_it_fits(tmp_path: Path) -> None:
    learner = FakeLearner('entropy')
    loop = priced_loop(tmp_path, learner, 6.0)
    assert loop.num_rounds is None
    state = loop.run()
    prices = loop.budget.prices  # type: ignore[union-attr]
    seed = [i for i, r in zip(state.selected, state.rounds, strict=True) if r == 0]
    # the seed pool spends alpha x 6 = 2.04 on the seeded random order
    order = np.random.default_rng(0).permutation(N).tolist()
    affordable = [i for i in order if prices[i] == 1.0]
    assert prices[seed].sum() == 2 and seed == affordable[:2]
    # each round may spend what the seed pool spent (beta 1): 2 of the most
    # uncertain items left; item 11 (price 3) never fits in 2 and is skipped
    ranked = [i for i in reversed(range(11)) if i not in seed and i != 0]
    assert state.selected[2:] == ranked[:4]
    assert state.rounds == [0, 0, 1, 1, 2, 2]
    assert prices[state.selected].sum() == 6.0
    assert 0 not in state.selected and 11 not in state.selected
    # trained after the seed pool and round 1, not after the final round
    assert [r for r, _ in learner.fits] == [0, 1]
    assert state.finished


def test_a_priced_round_buys_at_least_the_cheapest_item(tmp_path: Path) -> None:
    # a budget of 3.5: the seed pool spends 1 (alpha 0.34 x 3.5 = 1.19), a
    # round may spend max(beta x 1, cheapest left 1) = 1, so the rounds go on
    # one item at a time until 0.5 is left, which buys nothing
    state = priced_loop(tmp_path, FakeLearner('margin'), 3.5).run()
    assert state.rounds == [0, 1, 2]


def test_priced_budget_checks(tmp_path: Path) -> None:
    prices = np.ones(N)
    with pytest.raises(ValueError, match=r'the seed pool .* buys no pool item'):
        PricedBudget(2.0, 'area_km2', prices, alpha=0.1)
    with pytest.raises(ValueError, match='budget must be a non-empty list of amounts'):
        PricedBudget(-1.0, 'pixels', prices)
    with pytest.raises(ValueError, match='budget unit must be one of'):
        PricedBudget(1.0, 'hours', prices)
    priced_loop(tmp_path, FakeLearner('entropy'), 6.0).run()
    with pytest.raises(
        ValueError, match='settings differ .budget: amount saved 6.0, now 5.0'
    ):
        priced_loop(tmp_path, FakeLearner('entropy'), 5.0).run(resume=True)


def test_random_priced_selection_spends_the_whole_budget(tmp_path: Path) -> None:
    learner = FakeLearner('random')
    loop = priced_loop(tmp_path, learner, 5.0)
    state = loop.run()
    prices = loop.budget.prices  # type: ignore[union-attr]
    # the seeded random order, bought while it fits: 5 items of price 1 once
    # item 0 (nothing to label) and item 11 (if it comes while 3 are left) drop out
    left, expected = 5.0, []
    for i in np.random.default_rng(0).permutation(N).tolist():
        if 0 < prices[i] <= left:
            expected.append(i)
            left -= prices[i]
    assert state.selected == expected and left == 0
    assert learner.fits == [] and state.rounds == [0] * len(expected)
