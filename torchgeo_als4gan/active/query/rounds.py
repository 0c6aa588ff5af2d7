"""The ALS4GAN pool loop: seed pool, then rounds of scoring and querying.

The loop is independent of Lightning: it calls a :class:`PoolLearner` to train the
classifier and to score items, chooses the items, and saves its state after every
round so that an interrupted run resumes from the last finished round.
"""

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ...datamodules.selection import random_selection
from ..budget import PricedBudget, QueryBudget
from ..choose import choose_rows
from ..ranking import k_center_greedy, rank_items
from ..registry import QueryStrategy
from ..spend import spend_in_order
from .state import QueryState, settings_difference

__all__ = ('PoolLearner', 'PoolLoop', 'RoundScores')


@dataclass
class RoundScores:
    """What a learner returns for the items it scored."""

    #: Pool indices scored.
    indices: NDArray[np.int64]
    #: Uncertainty score of each (None when the strategy has none).
    scores: NDArray[np.float64] | None = None
    #: Embeddings [N_pool, D] indexed by pool index (diversity strategy).
    embeddings: NDArray[np.floating] | None = None


class PoolLearner(Protocol):
    """Trains the classifier and scores pool items for the loop."""

    def fit(
        self, round_: int, labeled: Sequence[int], init: Path | None, save: Path
    ) -> None:
        """Train on ``labeled`` (warm start from ``init``), save to ``save``."""

    def score(self, round_: int, items: Sequence[int], checkpoint: Path) -> RoundScores:
        """Score ``items`` with the classifier saved at ``checkpoint``."""


class PoolLoop:
    """Chooses ``budget.target`` items in rounds, as ALS4GAN does.

    Round 0 draws the seed pool at random (the first items of the permutation that
    :func:`random_selection` uses, so the seed pool is part of the random baseline
    of the same seed) and trains the classifier on it. Each later round scores the
    remaining items with the latest classifier, adds the most uncertain (or most
    diverse) ones and retrains, warm-started, on everything selected so far; the
    final round selects without retraining. The ``random`` strategy draws the whole
    selection at once, identical to a datamodule's random ``labeled_ratio``.

    State (``state.json``, the latest classifier checkpoint and each round's
    scores) is written to ``state_dir`` after every round.
    """

    def __init__(
        self,
        learner: PoolLearner,
        ids: Sequence[str],
        budget: QueryBudget | PricedBudget,
        strategy: QueryStrategy,
        state_dir: Path,
        seed: int = 0,
        uncertainty: QueryStrategy | None = None,
        candidates_factor: int = 10,
        is_writer: Callable[[], bool] = lambda: True,
        extra_settings: dict[str, Any] | None = None,
        groups: Sequence[str] | None = None,
        centres: NDArray[np.float64] | None = None,
        min_distance: float = 0.0,
    ) -> None:
        """Initialize a new PoolLoop.

        Args:
            learner: trains and scores.
            ids: id of every pool item.
            budget: the budget (pool size must equal ``len(ids)``): a labelled
                fraction, or an amount in a unit with every item's price.
            strategy: the query strategy.
            state_dir: folder of the state files.
            seed: seed of the seed pool (and of the random strategy).
            uncertainty: for ``diversity``: first keep the
                ``candidates_factor * q`` most uncertain items by this strategy.
            candidates_factor: see ``uncertainty``.
            is_writer: whether this process writes the state (with several
                processes, e.g. DDP, only the first one does).
            extra_settings: more settings a resume must match (the model, data
                and trainer of the query command), JSON-comparable.
            groups: group of every pool item (``stratify_by``): each round's
                picks are split among the groups in proportion to their
                unlabelled items (:func:`~torchgeo_als4gan.active.stratified_top`);
                uncertainty strategies only.
            centres: [N, 2] item centres in metres, for spaced rounds.
            min_distance: metres between the centres of picked items
                (:func:`~torchgeo_als4gan.active.spaced_top`; with ``centres``).

        Raises:
            ValueError: If the budget does not match the pool or
                ``uncertainty`` is not an uncertainty strategy.
        """
        if budget.pool_size != len(ids):
            msg = f'Budget for {budget.pool_size} items but the pool has {len(ids)}'
            raise ValueError(msg)
        if uncertainty is not None and uncertainty.score is None:
            msg = f'uncertainty must be a scoring strategy, got {uncertainty.name!r}'
            raise ValueError(msg)
        if groups is not None and len(groups) != len(ids):
            msg = f'{len(groups)} groups for a pool of {len(ids)} items'
            raise ValueError(msg)
        if groups is not None and strategy.score is None:
            msg = f'stratify_by needs an uncertainty strategy, not {strategy.name!r}'
            raise ValueError(msg)
        self.groups = list(groups) if groups is not None else None
        self.centres, self.min_distance = centres, min_distance
        self.learner = learner
        self.ids = list(ids)
        self.budget = budget
        self.strategy = strategy
        self.state_dir = Path(state_dir)
        self.seed = seed
        self.uncertainty = uncertainty if strategy.diversity else None
        self.candidates_factor = candidates_factor
        self.is_writer = is_writer
        self.extra_settings = dict(extra_settings or {})

    @property
    def settings(self) -> dict[str, Any]:
        """Everything a resumed run must share with the interrupted one."""
        digest = hashlib.sha256('\n'.join(self.ids).encode()).hexdigest()
        return {
            'pool_size': len(self.ids),
            'pool_sha256': digest,
            'strategy': self.strategy.name,
            'uncertainty': self.uncertainty.name if self.uncertainty else None,
            **self._budget_settings(),
            'alpha': self.budget.alpha,
            'beta': self.budget.beta,
            'seed_in_selection': self.budget.seed_in_selection,
            'seed': self.seed,
            'groups_sha256': None
            if self.groups is None
            else hashlib.sha256('\n'.join(self.groups).encode()).hexdigest(),
            **self.extra_settings,
        }

    def _budget_settings(self) -> dict[str, Any]:
        if isinstance(self.budget, QueryBudget):
            return {'labeled_ratio': self.budget.ratio}
        digest = hashlib.sha256(self.budget.prices.tobytes()).hexdigest()
        return {
            'labeled_ratio': None,
            'budget': {'unit': self.budget.unit, 'amount': self.budget.amount,
                       'prices_sha256': digest},
        }  # fmt: skip

    @property
    def priced(self) -> bool:
        """Whether the budget is in a unit other than a fraction."""
        return isinstance(self.budget, PricedBudget)

    @property
    def state_file(self) -> Path:
        """The state file."""
        return self.state_dir / 'state.json'

    def checkpoint(self, round_: int) -> Path:
        """Classifier checkpoint written after a round.

        Args:
            round_: the round.

        Returns:
            Its path.
        """
        return self.state_dir / f'classifier_round{round_:03d}.ckpt'

    @property
    def num_rounds(self) -> int | None:
        """Query rounds after the seed pool (None: priced, known as they go)."""
        if not self.strategy.uses_model:
            return 0
        if isinstance(self.budget, PricedBudget):
            return None
        return len(self.budget.round_sizes)

    def load_state(self) -> QueryState | None:
        """The saved state, checked against this run's settings.

        Returns:
            The state, or None when there is none.

        Raises:
            ValueError: If the saved run used other settings.
        """
        if not self.state_file.exists():
            return None
        state = QueryState.load(self.state_file)
        differ = {
            k: (state.settings.get(k), v)
            for k, v in self.settings.items()
            if state.settings.get(k) != v
        }
        if differ:
            detail = '; '.join(
                f'{k}: {settings_difference(a, b)}' for k, (a, b) in differ.items()
            )
            msg = (
                f'Cannot resume {self.state_file}: settings differ ({detail}); resume'
                ' with the same settings, or start again with --overwrite true'
            )
            raise ValueError(msg)
        return state

    def _finish_round(self, state: QueryState, round_: int) -> None:
        """Save the state, then drop all but the newest classifier checkpoint."""
        state.round = round_
        if not self.is_writer():
            return
        state.save(self.state_file)
        keep = self.checkpoint(round_)
        if not keep.exists():  # the final round selects without retraining
            keep = self.checkpoint(round_ - 1)
        for old in self.state_dir.glob('classifier_round*.ckpt'):
            if old != keep:
                old.unlink()

    def _start(self) -> QueryState:
        state = QueryState(settings=self.settings)
        order = np.random.default_rng(self.seed).permutation(len(self.ids))
        if isinstance(self.budget, PricedBudget):
            state.selected = (
                self.budget.seed_items(order.tolist())
                if self.strategy.uses_model
                else spend_in_order(
                    order.tolist(), self.budget.prices, self.budget.amount
                )
            )
        elif not self.strategy.uses_model:
            chosen = random_selection(self.ids, self.budget.ratio, self.seed)
            position = {pid: i for i, pid in enumerate(self.ids)}
            state.selected = [position[c] for c in chosen]
        else:
            state.selected = sorted(order[: self.budget.seed].tolist())
        state.rounds = [0] * len(state.selected)
        state.scores = [np.nan] * len(state.selected)
        state.finished = self.num_rounds == 0 or self._exhausted(state)
        if not state.finished:
            self.learner.fit(0, state.selected, None, self.checkpoint(0))
        self._finish_round(state, 0)
        return state

    def _choose(
        self, result: RoundScores, k: int, selected: Sequence[int]
    ) -> tuple[list[int], list[float]]:
        indices = np.asarray(result.indices, dtype=np.int64)
        scores = result.scores
        if not self.strategy.diversity:
            assert scores is not None
            groups = None
            if self.groups is None and np.isnan(scores).any():
                rank_items(scores)  # refuses NaN scores, naming how many
            if self.groups is not None:
                groups = [self.groups[i] for i in indices]
                k = min(k, int((~np.isnan(scores)).sum()))
            order, _ = choose_rows(
                scores, indices, k, self.strategy.largest, groups, self.centres,
                selected, self.min_distance,
            )  # fmt: skip
            return indices[order].tolist(), scores[order].tolist()
        assert result.embeddings is not None
        candidates = np.setdiff1d(indices, np.asarray(selected, dtype=np.int64))
        if self.uncertainty is not None:
            assert scores is not None
            keep = np.isin(indices, candidates)
            order = rank_items(scores[keep], self.uncertainty.largest, indices[keep])
            candidates = np.sort(indices[keep][order[: self.candidates_factor * k]])
        return k_center_greedy(
            result.embeddings, list(selected), candidates.tolist(), k
        )

    def _round_amount(self, state: QueryState) -> float:
        """What the next priced round may spend."""
        assert isinstance(self.budget, PricedBudget)
        seed_pool = [
            i for i, r in zip(state.selected, state.rounds, strict=True) if r == 0
        ]
        return self.budget.round_amount(state.selected, self.budget.spent(seed_pool))

    def _exhausted(self, state: QueryState) -> bool:
        """Whether a priced budget's next round can buy no remaining item."""
        if not isinstance(self.budget, PricedBudget) or not self.strategy.uses_model:
            return False
        chosen = set(state.selected)
        remaining = [i for i in range(len(self.ids)) if i not in chosen]
        amount = self._round_amount(state)
        return self.budget.most_items(remaining, amount) == 0

    def _round_size(self, state: QueryState, round_: int, remaining: list[int]) -> int:
        """How many ranked items a round looks at.

        Priced: the whole ranking (the budget decides how far down it goes), a
        diverse batch as long as the most items the round can buy.
        """
        if isinstance(self.budget, PricedBudget):
            if not self.strategy.diversity:  # the budget decides how far down
                return len(remaining)
            return self.budget.most_items(remaining, self._round_amount(state))
        return self.budget.round_sizes[round_ - 1]

    def _buy(
        self, state: QueryState, picks: list[int], scores: list[float]
    ) -> tuple[list[int], list[float]]:
        """The ranked picks a priced round can pay for, in order."""
        if not isinstance(self.budget, PricedBudget):
            return picks, scores
        bought = spend_in_order(picks, self.budget.prices, self._round_amount(state))
        score_of = dict(zip(picks, scores, strict=True))
        return bought, [score_of[i] for i in bought]

    def run(self, resume: bool = False) -> QueryState:
        """Run (or resume) the loop until the target is reached.

        Args:
            resume: continue from the saved state, if any.

        Returns:
            The final state.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state = self.load_state() if resume else None
        if state is None:
            state = self._start()
        round_ = state.round
        while not state.finished:
            round_ += 1
            chosen = set(state.selected)
            remaining = [i for i in range(len(self.ids)) if i not in chosen]
            items = range(len(self.ids)) if self.strategy.diversity else remaining
            result = self.learner.score(
                round_, list(items), self.checkpoint(round_ - 1)
            )
            if self.is_writer():
                scores_file = self.state_dir / f'scores_round{round_:03d}.npy'
                np.save(scores_file, self._dense(result))
            size = self._round_size(state, round_, remaining)
            picks, scores = self._buy(
                state, *self._choose(result, size, state.selected)
            )
            state.selected += picks
            state.rounds += [round_] * len(picks)
            state.scores += scores
            state.finished = (
                round_ == self.num_rounds or not picks or self._exhausted(state)
            )
            if not state.finished:
                self.learner.fit(
                    round_, state.selected, self.checkpoint(round_ - 1),
                    self.checkpoint(round_),
                )  # fmt: skip
            self._finish_round(state, round_)
        return state

    def _dense(self, result: RoundScores) -> NDArray[np.float64]:
        dense = np.full(len(self.ids), np.nan)
        if result.scores is not None:
            dense[np.asarray(result.indices)] = result.scores
        return dense

    def selection(self, state: QueryState) -> list[tuple[int, int, float]]:
        """The selected items as (pool index, round, score), in choice order.

        Without ``seed_in_selection`` the seed pool (round 0) is left out
        (fraction budgets only).

        Args:
            state: a state of this loop.

        Returns:
            The rows.
        """
        rows = zip(state.selected, state.rounds, state.scores, strict=True)
        keep_seed = self.budget.seed_in_selection or not self.strategy.uses_model
        return [row for row in rows if keep_seed or row[1] > 0]
