"""Where a grid stands: finished, failed, running, interrupted and pending cells."""

import json
import traceback
from pathlib import Path

import pandas as pd

from ..files import atomic_write, lock_holder
from ..runs.claims import read_claim
from .config import Cell, ExperimentConfig

__all__ = (
    'FAILURES',
    'cell_states',
    'clear_failure',
    'read_failures',
    'record_failure',
    'status_table',
)

#: The file of the grid's failed cells: cell name -> error (JSON).
FAILURES = 'failures.json'


def read_failures(output: Path) -> dict[str, dict[str, str]]:
    """The failed cells of a grid, by name.

    Args:
        output: the experiment's output folder.

    Returns:
        ``{cell name: {'error': ..., 'traceback': ...}}`` (empty when none).
    """
    path = output / FAILURES
    if not path.is_file():
        return {}
    failures: dict[str, dict[str, str]] = json.loads(path.read_text())
    return failures


def _write_failures(output: Path, failures: dict[str, dict[str, str]]) -> None:
    with atomic_write(output / FAILURES) as tmp:
        tmp.write_text(json.dumps(failures, indent=2) + '\n')


def record_failure(output: Path, cell: Cell, error: BaseException) -> None:
    """Record that a cell failed, with its error and the end of its traceback.

    Args:
        output: the experiment's output folder.
        cell: the cell.
        error: what it raised.
    """
    failures = read_failures(output)
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    failures[cell.name] = {
        'error': f'{type(error).__name__}: {error}',
        'traceback': ''.join(lines[-6:]),
    }
    _write_failures(output, failures)


def clear_failure(output: Path, cell: Cell) -> None:
    """Forget a cell's failure (it finished since).

    Args:
        output: the experiment's output folder.
        cell: the cell.
    """
    failures = read_failures(output)
    if failures.pop(cell.name, None) is not None:
        _write_failures(output, failures)


def cell_states(
    config: ExperimentConfig, done: set[tuple[float, str, str, int]]
) -> list[tuple[Cell, str]]:
    """The state of every cell of a grid, without starting anything.

    ``done`` (a row in ``results.csv``), ``failed`` (in ``failures.json``),
    ``running`` (a live ``als4gan experiment`` holds the folder and the cell's
    run folder exists, or a SLURM job that has not ended claimed the cell:
    :mod:`.claims`), ``interrupted`` (a run folder and nobody running it:
    the next run starts it again) or ``pending``.

    Args:
        config: the experiment.
        done: keys of the finished cells.

    Returns:
        ``(cell, state)`` in the grid's order.
    """
    output = config.output
    failures = read_failures(output)
    held = lock_holder(output) is not None
    states = []
    for cell in config.cells():
        if cell.key in done:
            state = 'done'
        elif cell.name in failures:
            state = 'failed'
        elif (output / 'runs' / cell.name).exists():
            claim = read_claim(output / 'runs' / cell.name, output / 'slurm')
            active = claim is not None and claim.active
            state = 'running' if held or active else 'interrupted'
        else:
            state = 'pending'
        states.append((cell, state))
    return states


def status_table(
    config: ExperimentConfig,
    results: pd.DataFrame,
    done: set[tuple[float, str, str, int]],
) -> str:
    """What ``als4gan experiment --status`` prints.

    Args:
        config: the experiment.
        results: the finished cells' rows.
        done: their keys.

    Returns:
        One line per cell (state, test mIoU when done, the error when failed),
        then the counts.
    """
    failures = read_failures(config.output)
    scores = {
        (round(float(r.ratio), 9), str(r.strategy), str(r.method), int(r.seed)): r
        for r in results.itertuples()
    }
    lines = []
    counts: dict[str, int] = {}
    for cell, state in cell_states(config, done):
        counts[state] = counts.get(state, 0) + 1
        detail = ''
        if state == 'done':
            row = scores[cell.key]
            detail = (
                f'  test mIoU {float(row.test_miou):.4f}, val {float(row.val_miou):.4f}'
            )
        elif state == 'failed':
            detail = f'  {failures[cell.name]["error"]}'
        lines.append(f'{state:<12}{cell.name}{detail}')
    summary = ', '.join(f'{n} {state}' for state, n in counts.items())
    return '\n'.join([*lines, f'{len(lines)} cells: {summary}'])
