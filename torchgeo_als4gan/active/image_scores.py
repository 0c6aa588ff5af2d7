"""Uncertainty scores: small pure functions over class probabilities.

Every function takes probabilities with the classes on the last dimension and
returns one score per item (all leading dimensions kept). For multi-label
classifiers, :func:`as_two_class` turns per-label sigmoid outputs into per-label
two-class distributions; the scores of the labels are then averaged.
"""

import torch
from torch import Tensor

__all__ = ('as_two_class', 'bald', 'entropy', 'least_confidence', 'margin')

_EPS = 1e-12


def as_two_class(probs: Tensor) -> Tensor:
    """Turn per-label probabilities ``p`` into distributions ``(1 - p, p)``.

    Args:
        probs: sigmoid outputs [..., L].

    Returns:
        Probabilities [..., L, 2].
    """
    return torch.stack([1 - probs, probs], dim=-1)


def entropy(probs: Tensor) -> Tensor:
    """Shannon entropy ``-sum p log p`` (nats); larger is more uncertain.

    Args:
        probs: probabilities [..., C].

    Returns:
        Entropy [...].
    """
    return -(probs * probs.clamp_min(_EPS).log()).sum(dim=-1)


def margin(probs: Tensor) -> Tensor:
    """Gap between the two most probable classes; smaller is more uncertain.

    Args:
        probs: probabilities [..., C] with C >= 2.

    Returns:
        ``p(1st) - p(2nd)`` [...].
    """
    top2 = probs.topk(2, dim=-1).values
    return top2[..., 0] - top2[..., 1]


def least_confidence(probs: Tensor) -> Tensor:
    """One minus the largest probability; larger is more uncertain.

    Args:
        probs: probabilities [..., C].

    Returns:
        ``1 - max p`` [...].
    """
    return 1 - probs.max(dim=-1).values


def bald(mc_probs: Tensor) -> Tensor:
    """BALD mutual information from Monte-Carlo dropout samples.

    ``I = H(mean_t p_t) - mean_t H(p_t)``: large when the dropout samples are each
    confident but disagree, i.e. when the uncertainty is in the model rather than
    in the data.

    Args:
        mc_probs: probabilities [T, ..., C] of T stochastic forward passes.

    Returns:
        Mutual information [...], non-negative up to rounding.
    """
    return entropy(mc_probs.mean(dim=0)) - entropy(mc_probs).mean(dim=0)
