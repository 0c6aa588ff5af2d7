"""The query strategies by name, and how to score a batch of probabilities."""

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from .image_scores import as_two_class, bald, entropy, least_confidence, margin

__all__ = ('STRATEGIES', 'QueryStrategy', 'get_strategy', 'score_probabilities')


@dataclass(frozen=True)
class QueryStrategy:
    """A named query strategy."""

    #: Name used in configs and on the command line.
    name: str
    #: Score function over probabilities [..., C] (over [T, ..., C] when ``mc``).
    score: Callable[[Tensor], Tensor] | None
    #: Whether larger scores are more uncertain (taken first).
    largest: bool = True
    #: Needs Monte-Carlo dropout samples.
    mc: bool = False
    #: Chooses by diversity of the classifier's embeddings (k-center greedy).
    diversity: bool = False
    #: Needs a classifier at all (``random`` does not).
    uses_model: bool = True


#: Every strategy, by name.
STRATEGIES: dict[str, QueryStrategy] = {
    s.name: s
    for s in (
        QueryStrategy('random', None, uses_model=False),
        QueryStrategy('entropy', entropy),
        QueryStrategy('margin', margin, largest=False),
        QueryStrategy('least_confidence', least_confidence),
        QueryStrategy('bald', bald, mc=True),
        QueryStrategy('diversity', None, diversity=True),
    )
}


def get_strategy(name: str, role: str = 'strategy') -> QueryStrategy:
    """Look a strategy up by name.

    Args:
        name: strategy name.
        role: argument name, used in the message.

    Returns:
        The strategy.

    Raises:
        ValueError: If the name is unknown (the message lists the valid ones).
    """
    if name not in STRATEGIES:
        msg = f'Unknown {role} {name!r}; valid: {", ".join(STRATEGIES)}'
        raise ValueError(msg)
    return STRATEGIES[name]


def score_probabilities(
    strategy: QueryStrategy, probs: Tensor, multilabel: bool = False
) -> Tensor:
    """Score each item of a batch.

    Args:
        strategy: an uncertainty strategy.
        probs: probabilities [B, C] (softmax), or per-label sigmoid outputs [B, L]
            when ``multilabel``; with a leading MC dimension [T, B, ...] for
            ``bald``.
        multilabel: score each label as a two-class problem and average.

    Returns:
        One score per item [B].

    Raises:
        ValueError: If the strategy has no score function.
    """
    if strategy.score is None:
        msg = f'Strategy {strategy.name!r} does not score probabilities'
        raise ValueError(msg)
    if multilabel:
        return strategy.score(as_two_class(probs)).mean(dim=-1)
    return strategy.score(probs)
