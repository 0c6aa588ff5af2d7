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
from ..budget import QueryBudget
from ..choose import choose_rows
from ..ranking import k_center_greedy, rank_items
from ..registry import QueryStrategy
from ..state import PickedItems

__all__ = ('PoolLearner', 'PoolLoop', 'QueryState', 'RoundScores')


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


@dataclass(kw_only=True)
class QueryState(PickedItems):
    """Progress of a query run, saved after every round (round 0: the seed pool)."""

    #: Settings the run was started with; a resume must match them.
    settings: dict[str, Any]
    #: Whether the target was reached.
    finished: bool = False


def _difference(saved: Any, now: Any) -> str:
    """The keys where two settings differ, or both values when not dicts."""
    if isinstance(saved, dict) and isinstance(now, dict):
        keys = sorted(set(saved) | set(now))
        parts = [
            f'{k} saved {saved.get(k)!r}, now {now.get(k)!r}'
            for k in keys
            if saved.get(k) != now.get(k) and not isinstance(saved.get(k), dict)
        ]
        nested = [
            f'{k}.{_difference(saved[k], now.get(k))}'
            for k in keys
            if isinstance(saved.get(k), dict) and saved.get(k) != now.get(k)
        ]
        return ', '.join(parts + nested)
    return f'saved {saved!r}, now {now!r}'


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
        budget: QueryBudget,
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
            budget: the budget (pool size must equal ``len(ids)``).
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
            'labeled_ratio': self.budget.ratio,
            'alpha': self.budget.alpha,
            'beta': self.budget.beta,
            'seed_in_selection': self.budget.seed_in_selection,
            'seed': self.seed,
            'groups_sha256': None
            if self.groups is None
            else hashlib.sha256('\n'.join(self.groups).encode()).hexdigest(),
            **self.extra_settings,
        }

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
    def num_rounds(self) -> int:
        """Query rounds after the seed pool."""
        return 0 if not self.strategy.uses_model else len(self.budget.round_sizes)

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
                f'{k}: {_difference(a, b)}' for k, (a, b) in differ.items()
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
        if not self.strategy.uses_model:
            chosen = random_selection(self.ids, self.budget.ratio, self.seed)
            position = {pid: i for i, pid in enumerate(self.ids)}
            state.selected = [position[c] for c in chosen]
        else:
            order = np.random.default_rng(self.seed).permutation(len(self.ids))
            state.selected = sorted(order[: self.budget.seed].tolist())
        state.rounds = [0] * len(state.selected)
        state.scores = [np.nan] * len(state.selected)
        state.finished = self.num_rounds == 0
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
        sizes = self.budget.round_sizes
        for round_ in range(state.round + 1, self.num_rounds + 1):
            chosen = set(state.selected)
            remaining = [i for i in range(len(self.ids)) if i not in chosen]
            items = range(len(self.ids)) if self.strategy.diversity else remaining
            result = self.learner.score(
                round_, list(items), self.checkpoint(round_ - 1)
            )
            if self.is_writer():
                scores_file = self.state_dir / f'scores_round{round_:03d}.npy'
                np.save(scores_file, self._dense(result))
            picks, scores = self._choose(result, sizes[round_ - 1], state.selected)
            state.selected += picks
            state.rounds += [round_] * len(picks)
            state.scores += scores
            state.finished = round_ == self.num_rounds
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

        Without ``seed_in_selection`` the seed pool (round 0) is left out.

        Args:
            state: a state of this loop.

        Returns:
            The rows.
        """
        rows = zip(state.selected, state.rounds, state.scores, strict=True)
        keep_seed = self.budget.seed_in_selection or not self.strategy.uses_model
        return [row for row in rows if keep_seed or row[1] > 0]
