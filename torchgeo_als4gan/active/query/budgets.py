"""``als4gan query``'s budget: a labelled fraction or an amount in the team's unit."""

from collections.abc import Mapping
from typing import Any

from ...datamodules.selection import check_labeled_ratio
from ..budget import PricedBudget, QueryBudget
from ..costs import check_cost_model
from ..spend import BUDGET_UNITS, check_budget_amounts

__all__ = ('check_query_budget', 'describe_budget', 'spent_text')

#: How a unit reads in the log.
UNIT_TEXT = {'fraction': 'of the pool', 'items': 'items', 'pixels': 'valid pixels',
             'area_km2': 'km²', 'cost': 'cost'}  # fmt: skip


def check_query_budget(cfg: Any) -> float | None:
    """Check the budget options of ``als4gan query`` before anything is read.

    Exactly one of ``labeled_ratio`` and ``budget`` is given; ``budget`` with
    ``budget_unit: fraction`` is a labelled ratio.

    Args:
        cfg: the parsed options (``labeled_ratio``, ``budget``, ``budget_unit``,
            ``cost_model``, ``cost_file``, ``seed_in_selection``).

    Returns:
        The labelled ratio of a fraction budget, or None for a priced one.

    Raises:
        ValueError: If the options are missing, contradict each other or are
            out of range (the message names them).
    """
    if cfg.budget_unit not in BUDGET_UNITS:
        msg = (
            f'budget_unit must be one of {list(BUDGET_UNITS)}, got {cfg.budget_unit!r}'
        )
        raise ValueError(msg)
    check_cost_model(cfg.cost_model, cfg.cost_file)
    if (cfg.labeled_ratio is None) == (cfg.budget is None):
        msg = (
            'give --labeled_ratio (a fraction of the pool) or --budget (an amount in'
            ' --budget_unit), not both'
            if cfg.labeled_ratio is not None
            else 'give --labeled_ratio (a fraction of the pool) or --budget (an'
            ' amount in --budget_unit)'
        )
        raise ValueError(msg)
    if cfg.labeled_ratio is not None and cfg.budget_unit != 'fraction':
        msg = (
            f'--labeled_ratio is a fraction; with --budget_unit {cfg.budget_unit}'
            ' give the amount as --budget'
        )
        raise ValueError(msg)
    if cfg.budget_unit == 'fraction':
        ratio = cfg.labeled_ratio if cfg.budget is None else cfg.budget
        check_labeled_ratio(ratio)
        return float(ratio)
    check_budget_amounts(cfg.budget_unit, [cfg.budget], 'budget')
    if not cfg.seed_in_selection:
        msg = (
            f'--seed_in_selection false needs a fraction budget: with --budget_unit'
            f' {cfg.budget_unit} the seed pool is part of what is spent'
        )
        raise ValueError(msg)
    return None


def describe_budget(budget: QueryBudget | PricedBudget, pool_size: int) -> str:
    """The budget as the log shows it.

    Args:
        budget: the budget.
        pool_size: items in the pool.

    Returns:
        ``40 of 400 items (seed pool 4, 8 rounds of up to 2)`` or
        ``2 km² of 400 items (seed pool 0.2 km², rounds of 0.5 x its spend)``.
    """
    if isinstance(budget, QueryBudget):
        sizes = budget.round_sizes
        return (
            f'{budget.target} of {pool_size} items (seed pool {budget.seed},'
            f' {len(sizes)} rounds of up to {budget.query_size})'
        )
    unit = UNIT_TEXT[budget.unit]
    return (
        f'{budget.amount:g} {unit} from {pool_size} items (seed pool'
        f' {budget.alpha * budget.amount:.6g} {unit}, then rounds of {budget.beta:g} x'
        ' what it spent until the budget buys no more)'
    )


def spent_text(totals: Mapping[str, float]) -> str:
    """What a selection spent, in every unit measured.

    Args:
        totals: unit -> sum (:func:`~torchgeo_als4gan.active.spend.spent`).

    Returns:
        ``12 items, 3.4 % of the pool, 196608 valid pixels, 0.72 km², cost 12``.
    """
    parts = [f'{totals["items"]:g} items']
    if 'fraction' in totals:
        parts.append(f'{100 * totals["fraction"]:.3g} % of the pool')
    if 'pixels' in totals:
        parts.append(f'{totals["pixels"]:.0f} valid pixels')
    if 'area_km2' in totals:
        parts.append(f'{totals["area_km2"]:.4g} km²')
    if 'cost' in totals:
        parts.append(f'cost {totals["cost"]:.4g}')
    return ', '.join(parts)
