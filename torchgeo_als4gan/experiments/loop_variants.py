"""Variants of the ``stal`` strategy: the loop with other round options.

A grid compares STAL's loop with itself under other round rules, e.g. plain
top-k (``stal``), spatially spaced rounds and feature-diverse rounds, at the
same final budget::

    strategies: [random, entropy, stal, stal_spatial, stal_feature]
    loop_variants:
      stal_spatial: {min_distance_m: 300}
      stal_feature: {diversity: feature}

Each variant is a strategy name whose cells run ``als4gan loop`` like ``stal``
with these ``als4gan loop`` options on top of the grid's ``loop_scorer``.
"""

from collections.abc import Mapping
from typing import Any

from ..active.registry import STRATEGIES

__all__ = ('LOOP_VARIANT_KEYS', 'check_loop_variants', 'loop_options')

#: The ``als4gan loop`` options a variant may set.
LOOP_VARIANT_KEYS = (
    'scorer',
    'diversity',
    'diversity_candidates',
    'min_distance_m',
    'calibrate',
)


def check_loop_variants(variants: Mapping[str, Any], strategies: list[str]) -> None:
    """Check the variants' names and keys (their values are the loop's to check).

    Args:
        variants: name -> ``als4gan loop`` options.
        strategies: the grid's strategies.

    Raises:
        ValueError: If a name is not an identifier, clashes with another
            strategy, is not in ``strategies``, or sets an unknown option.
    """
    if not isinstance(variants, Mapping):
        msg = f'loop_variants must map names to loop options, got {variants!r}'
        raise ValueError(msg)
    for name, options in variants.items():
        where = f'loop_variants.{name}'
        if not str(name).isidentifier() or name in ('random', 'all', 'stal'):
            msg = (
                f'{where}: a variant name must be an identifier other than'
                " 'random', 'all' and 'stal'"
            )
            raise ValueError(msg)
        if name in STRATEGIES:
            msg = f'{where}: {name!r} is a query strategy; name the variant otherwise'
            raise ValueError(msg)
        if name not in strategies:
            msg = f'{where}: add {name!r} to strategies to run it'
            raise ValueError(msg)
        if not isinstance(options, Mapping):
            msg = f'{where} must map loop options to values, got {options!r}'
            raise ValueError(msg)
        unknown = sorted(set(map(str, options)) - set(LOOP_VARIANT_KEYS))
        if unknown:
            msg = f'{where}: unknown options {unknown}; expected some of {list(LOOP_VARIANT_KEYS)}'
            raise ValueError(msg)


def loop_options(
    variants: Mapping[str, Mapping[str, Any]], strategy: str, scorer: str
) -> dict[str, Any]:
    """The ``als4gan loop`` options of a loop strategy's cells.

    Args:
        variants: the grid's ``loop_variants``.
        strategy: ``stal`` or a variant's name.
        scorer: the grid's ``loop_scorer`` (a variant may replace it).

    Returns:
        ``scorer`` and the variant's options.
    """
    return {'scorer': scorer, **variants.get(strategy, {})}
