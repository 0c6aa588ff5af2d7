"""The experiment's ``results.csv``: its columns, rows, settings and order."""

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..checks import read_yaml
from .config import Cell, ExperimentConfig

__all__ = (
    'RESULT_COLUMNS', 'cell_settings', 'changed_cells', 'done_keys', 'in_cell_order',
    'read_results', 'settings_text',
)  # fmt: skip

#: Columns of ``results.csv``.
RESULT_COLUMNS = (
    'ratio', 'strategy', 'method', 'seed', 'labeled', 'val_miou', 'test_miou',
    'test_miou_low', 'test_miou_high', 'test_items', 'test_pixel_accuracy',
    'test_fw_iou', 'checkpoint', 'checkpoint_policy', 'seconds', 'settings',
)  # fmt: skip


def _file_digest(path: Path) -> str:
    """Digest of a YAML config's content (comments and layout do not count)."""
    content = json.dumps(
        read_yaml(path, 'config', mapping=False), sort_keys=True, default=str
    )
    return hashlib.sha256(content.encode()).hexdigest()[:16]


def cell_settings(config: ExperimentConfig, cell: Cell) -> dict[str, Any]:
    """Everything a cell's result depends on besides its grid coordinates.

    Saved with each result; a rerun whose settings differ from a finished
    cell's is refused (or, when asked, reruns that cell) instead of reporting
    the old number for new settings.

    Args:
        config: the experiment.
        cell: the cell.

    Returns:
        Config file digests and the override lists.
    """
    settings: dict[str, Any] = {
        'method_config': _file_digest(config.methods[cell.method]),
        'data_args': list(config.data_args),
        'model_args': config.model_args_for(cell.method),
        'trainer_args': list(config.trainer_args),
        'checkpoint_policy': config.checkpoint_policy,
    }
    if config.budget_unit != 'fraction':  # amounts, not shares of the pool
        settings['budget'] = [config.budget_unit, config.cost_model,
                              None if config.cost_file is None
                              else _file_digest(config.cost_file)]  # fmt: skip
    if config.is_loop(cell.strategy):
        settings['loop'] = [list(config.loop_fractions), config.loop_scorer]
        if cell.strategy in config.loop_variants:
            settings['loop_variant'] = dict(config.loop_variants[cell.strategy])
    elif cell.strategy != 'all' and (
        cell.strategy != 'random' or config.budget_unit != 'fraction'
    ):  # the selection comes from `als4gan query`
        assert config.query_config is not None
        settings['query_config'] = _file_digest(config.query_config)
        settings['query_args'] = list(config.query_args)
    return settings


def settings_text(settings: dict[str, Any]) -> str:
    """The settings as the compact JSON a ``results.csv`` row keeps.

    Args:
        settings: :func:`cell_settings`.

    Returns:
        The text.
    """
    return json.dumps(settings, sort_keys=True, separators=(',', ':'))


def _changed_keys(saved: Any, settings: dict[str, Any]) -> list[str]:
    if not isinstance(saved, str) or not saved:
        return ['(not recorded)']
    try:
        old = json.loads(saved)
    except json.JSONDecodeError:
        return ['(unreadable)']
    keys = sorted(set(old) | set(settings))
    return [k for k in keys if old.get(k) != settings.get(k)]


def read_results(path: Path) -> pd.DataFrame:
    """Finished cells so far (an empty table when there is none).

    Args:
        path: ``results.csv``.

    Returns:
        The table.
    """
    if not path.is_file():
        return pd.DataFrame(columns=list(RESULT_COLUMNS))
    return pd.read_csv(path)


def done_keys(results: pd.DataFrame) -> set[tuple[float, str, str, int]]:
    """The keys (:attr:`Cell.key`) of the finished cells.

    Args:
        results: the rows of ``results.csv``.

    Returns:
        ``(ratio, strategy, method, seed)`` of every row.
    """
    return {
        (round(float(r.ratio), 9), str(r.strategy), str(r.method), int(r.seed))
        for r in results.itertuples()
    }


def changed_cells(
    config: ExperimentConfig, results: pd.DataFrame
) -> dict[tuple[float, str, str, int], list[str]]:
    """Finished cells whose recorded settings differ from the config's now."""
    changed = {}
    cells = {cell.key: cell for cell in config.cells()}
    for row in results.itertuples():
        key = (
            round(float(row.ratio), 9),
            str(row.strategy),
            str(row.method),
            int(row.seed),
        )
        if key in cells:
            keys = _changed_keys(
                getattr(row, 'settings', None), cell_settings(config, cells[key])
            )
            if keys:
                changed[key] = keys
    return changed


def in_cell_order(results: pd.DataFrame, order: dict[Any, int]) -> pd.DataFrame:
    """Rows in the grid's cell order (cells no longer in the grid last)."""
    keys = [
        order.get(
            (round(float(r.ratio), 9), str(r.strategy), str(r.method), int(r.seed)),
            len(order),
        )
        for r in results.itertuples()
    ]
    return results.iloc[sorted(range(len(keys)), key=keys.__getitem__)].reset_index(
        drop=True
    )
