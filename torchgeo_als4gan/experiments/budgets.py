"""The grid's budgets: labelled fractions (``ratios``) or amounts in the team's unit.

With ``budget_unit: fraction`` (the default) ``ratios`` are shares of the train
pool. With ``items``, ``pixels``, ``area_km2`` or ``cost`` they are amounts in
that unit: every selection, random included, is bought by ``als4gan query``
with ``--budget`` (the random one buys the seeded random order, the others
ALS4GAN's priced rounds) and the ``stal`` loop spends ``loop_fractions`` of the
amount in the same unit, so the methods of a cell compare at the same spend.
"""

import os
from pathlib import Path
from typing import Any

from ..active.costs import check_cost_model
from ..active.spend import BUDGET_UNITS, check_budget_amounts

__all__ = ('budget_label', 'check_grid_budgets', 'query_budget_args')

#: How an amount of each unit reads in tables and sentences.
_UNIT_SUFFIX = {'items': ' items', 'pixels': ' valid px', 'area_km2': ' km²',
                'cost': ' cost'}  # fmt: skip


def check_grid_budgets(
    ratios: list[float],
    unit: str,
    cost_model: str,
    cost_file: Path | None,
    query_config: Path | None,
    ceiling: bool = False,
) -> None:
    """Refuse budgets the grid cannot spend, naming the option.

    Args:
        ratios: the grid's budgets.
        unit: ``budget_unit``.
        cost_model: ``cost_model`` (``cost`` budgets).
        cost_file: ``cost_file`` (``cost_model: file``).
        query_config: the query config (prices the pool for other units).
        ceiling: whether the grid has the ceiling (its cells' ratio is 1).

    Raises:
        ValueError: If the unit is unknown, an amount is out of range, or a
            priced unit has no query config.
    """
    if unit not in BUDGET_UNITS:
        msg = f'budget_unit must be one of {list(BUDGET_UNITS)}, got {unit!r}'
        raise ValueError(msg)
    check_cost_model(cost_model, cost_file)
    if unit == 'fraction':
        if not ratios or any(not 0 < r <= 1 for r in ratios):
            msg = f'ratios must be a non-empty list in (0, 1], got {ratios}'
            raise ValueError(msg)
        return
    if not ratios:
        msg = f'ratios must be a non-empty list of budgets in {unit}'
        raise ValueError(msg)
    for amount in ratios:
        check_budget_amounts(unit, [amount], 'ratios')
    if ceiling and 1.0 in ratios:
        msg = (
            f'ratios: a budget of 1 {unit} shares its column with the ceiling (whose'
            ' cells have ratio 1); use another amount or ceiling: false'
        )
        raise ValueError(msg)
    if query_config is None:
        msg = (
            f'budget_unit {unit} needs query_config: every selection (random'
            ' included) is bought by `als4gan query --budget`, which prices the pool'
        )
        raise ValueError(msg)


def query_budget_args(
    amount: float, unit: str, cost_model: str, cost_file: Path | None
) -> list[str]:
    """The ``als4gan query`` options that spend ``amount`` in ``unit``.

    Args:
        amount: the cell's budget.
        unit: ``budget_unit``.
        cost_model: ``cost_model``.
        cost_file: ``cost_file``.

    Returns:
        ``--labeled_ratio`` for fractions, else ``--budget`` and its unit.
    """
    if unit == 'fraction':
        return [f'--labeled_ratio={amount}']
    args = ['--labeled_ratio=null', f'--budget={amount}', f'--budget_unit={unit}',
            f'--cost_model={cost_model}']  # fmt: skip
    if cost_file is not None:
        args.append(f'--cost_file={os.fspath(cost_file)}')
    return args


def budget_label(amount: Any, unit: str = 'fraction') -> str:
    """A budget as tables and sentences show it.

    Args:
        amount: the cell's ``ratio`` column.
        unit: ``budget_unit``.

    Returns:
        ``5%`` for fractions, ``2 km²``-like text for the other units.
    """
    if unit == 'fraction':
        return f'{100 * float(amount):g}%'
    return f'{float(amount):g}{_UNIT_SUFFIX[unit]}'
