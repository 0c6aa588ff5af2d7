"""Run an experiment grid cell by cell; finished cells are skipped on resume."""

import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..active.loop import run_loop
from ..files import atomic_write, folder_lock
from ..runs import (
    SELECTION_FILE_ARG,
    TEST_CONFUSION,
    evaluate_run,
    fit_run,
    method_processes,
    resume_checkpoint,
)
from ..runs.claims import read_claim
from ..runtime import quiet_lightning
from .budgets import query_budget_args
from .compare import paired_differences
from .config import Cell, ExperimentConfig
from .executor import RESULT_FILE, finished_row, run_in_children, run_on_slurm
from .report import write_reports
from .results_table import (
    RESULT_COLUMNS,
    cell_settings,
    changed_cells,
    done_keys,
    in_cell_order,
    read_results,
    settings_text,
)
from .status import FAILURES, clear_failure, read_failures, record_failure

__all__ = ('RESULT_COLUMNS', 'run_cell', 'run_experiment')


def selection_args(config: ExperimentConfig, cell: Cell) -> list[str]:
    """Datamodule arguments that choose the cell's labelled set.

    ``random`` is the datamodule's own seeded draw of ``ceil(ratio * N)`` items;
    other strategies run ``als4gan query`` once per (strategy, ratio, seed),
    shared by all methods, and pass its ``selection.npy``. With a
    ``budget_unit`` other than ``fraction`` every selection, random included,
    is bought by ``als4gan query --budget`` (:mod:`.budgets`).

    Args:
        config: the experiment.
        cell: the cell.

    Returns:
        ``--data.init_args.*`` overrides.
    """
    seed = f'--data.init_args.seed={cell.seed}'
    priced = config.budget_unit != 'fraction'
    if cell.strategy == 'random' and not priced:
        return [f'--data.init_args.labeled_ratio={cell.ratio}', seed]
    if cell.strategy == 'all':  # the ceiling: every train item labelled
        return ['--data.init_args.labeled_ratio=null', seed]
    folder = (
        config.output / 'selections' / f'{cell.strategy}_r{cell.ratio:g}_s{cell.seed}'
    )
    selection = folder / 'selection.npy'
    stamp = folder / 'experiment_settings.json'
    settings = cell_settings(config, cell)
    query_settings: dict[str, Any] = {
        k: settings[k]
        for k in ('data_args', 'query_config', 'query_args', 'budget')
        if k in settings
    }
    current = settings_text(query_settings)
    if not selection.is_file() or not stamp.is_file() or stamp.read_text() != current:
        from ..active.query.cli import main as query_main

        assert config.query_config is not None
        query_main([
            '--config', os.fspath(config.query_config), *config.data_args,
            *config.query_args, f'--strategy={cell.strategy}',
            *query_budget_args(cell.ratio, config.budget_unit, config.cost_model,
                               config.cost_file),
            f'--seed={cell.seed}', f'--output={folder}', '--overwrite=true',
        ])  # fmt: skip
        with atomic_write(stamp) as tmp:
            tmp.write_text(current)
    return [
        f'{SELECTION_FILE_ARG}{selection}',
        '--data.init_args.labeled_ratio=null',
        seed,
    ]


def fit_cell(config: ExperimentConfig, cell: Cell, data: list[str], run: Path) -> int:
    """Train one cell into ``run`` under the experiment's policy.

    Args:
        config: the experiment.
        cell: the cell.
        data: selection arguments.
        run: the run folder (logs and checkpoints).

    Returns:
        The number of labelled items the run trained on.
    """
    method = config.methods[cell.method]
    own = config.executor != 'inprocess' and method_processes(
        method, config.trainer_args
    )
    return fit_run(
        method, config.policy(cell.method), data, run, cell.seed, own_process=own
    )


def evaluate_cell(
    config: ExperimentConfig, cell: Cell, data: list[str], run: Path
) -> dict[str, Any]:
    """Choose the run's checkpoint on val by mIoU and score it on test.

    Args:
        config: the experiment.
        cell: the cell.
        data: selection arguments.
        run: the run folder.

    Returns:
        The result row (without timing), with ``test_class_iou`` (class index
        -> IoU or None), which ``results.csv`` leaves out.
    """
    scores = evaluate_run(
        config.methods[cell.method], config.policy(cell.method), data, run
    )
    return {
        'ratio': cell.ratio, 'strategy': cell.strategy, 'method': cell.method,
        'seed': cell.seed, **scores,
    }  # fmt: skip


def loop_cell(config: ExperimentConfig, cell: Cell, run: Path) -> dict[str, Any]:
    """Run a loop cell (``stal`` or a variant): ``als4gan loop`` of the cell's method.

    The loop's budgets are ``loop_fractions`` of the ratio; its rounds go to
    ``loops/<cell>/`` (an interrupted attempt starts again), and its last round
    is the cell's result (its test confusions are copied into ``run`` for the
    paired comparisons).

    Args:
        config: the experiment.
        cell: the cell.
        run: the cell's run folder.

    Returns:
        The result row.
    """
    loop = config.loop_config(cell)
    folder = loop.output
    if folder.exists():
        shutil.rmtree(folder)
    written = run_loop(loop, log=print)
    last = pd.read_csv(written['results']).iloc[-1]
    run.mkdir(parents=True, exist_ok=True)
    final = folder / f'round_{int(last["round"]):02d}' / 'run' / TEST_CONFUSION
    shutil.copyfile(final, run / TEST_CONFUSION)
    extra = [f'test_{k}_{n}{end}' for n in config.extra_tests
             for k, end in (('miou', ''), ('miou', '_low'), ('miou', '_high'),
                            ('items', ''))]  # fmt: skip
    row = {c: last[c] for c in [*RESULT_COLUMNS, *extra] if c in last.index}
    row.update({
        'ratio': cell.ratio, 'strategy': cell.strategy, 'method': cell.method,
        'seed': cell.seed, 'labeled': int(last['labeled']),
    })  # fmt: skip
    return row


def run_experiment(
    config: ExperimentConfig,
    log: Callable[[str], None] = print,
    rerun_changed: bool = False,
    keep_going: bool = False,
) -> dict[str, Path]:
    """Run every unfinished cell, then write the CSV, plot and table.

    Each finished cell is appended to ``results.csv`` at once (rewritten
    atomically), so an interrupted experiment resumes with the next cell; an
    unfinished cell's run folder is cleared and the cell runs again. Each row
    records the cell's settings (:func:`cell_settings`): finished cells whose
    settings changed since are refused, or rerun with ``rerun_changed``.

    Args:
        config: the experiment.
        log: where progress lines go.
        rerun_changed: rerun finished cells whose settings changed (their old
            rows are replaced) instead of refusing.
        keep_going: a cell that fails is recorded in ``failures.json`` (its
            error and traceback) and the grid goes on; without it the error is
            recorded and raised. A failed cell runs again on the next call.

    Returns:
        ``results`` (CSV), ``plot`` (PNG) and ``table`` (markdown) paths, and
        ``failures`` (JSON) when cells failed.

    Raises:
        ValueError: If finished cells were run with other settings and
            ``rerun_changed`` is False (the message lists them).
        FileExistsError: If another ``als4gan experiment`` is running on the
            same output folder (a lock file holds its pid).
    """
    output = config.output
    output.mkdir(parents=True, exist_ok=True)
    with folder_lock(output, 'als4gan experiment'):
        return _run_cells(config, log, rerun_changed, keep_going)


def run_cell(config: ExperimentConfig, cell: Cell, run: Path) -> dict[str, Any]:
    """Fit and score one cell; its result row (without timing and settings).

    Args:
        config: the experiment.
        cell: the cell.
        run: its run folder.

    Returns:
        The row.
    """
    if config.is_loop(cell.strategy):
        return loop_cell(config, cell, run)
    data = selection_args(config, cell)
    labeled = fit_cell(config, cell, data, run)
    row = evaluate_cell(config, cell, data, run)
    row.pop('test_class_iou')
    row['labeled'] = labeled
    return row


def _run_in_process(
    config: ExperimentConfig,
    todo: Sequence[tuple[str, Cell, Path]],
    log: Callable[[str], None],
) -> Iterator[tuple[Cell, dict[str, Any] | BaseException, float]]:
    """The cells one after the other in this process (``executor: inprocess``)."""
    for tag, cell, run in todo:
        log(f'{tag}: running')
        start = time.perf_counter()
        try:
            outcome: dict[str, Any] | BaseException = run_cell(config, cell, run)
        except Exception as error:
            outcome = error
        yield cell, outcome, time.perf_counter() - start


def _run_cells(
    config: ExperimentConfig,
    log: Callable[[str], None],
    rerun_changed: bool,
    keep_going: bool,
) -> dict[str, Path]:
    output = config.output
    csv = output / 'results.csv'
    results = read_results(csv)
    changed = changed_cells(config, results)
    if changed and not rerun_changed:
        names = [
            f'{Cell(*key).name} ({", ".join(keys)})'
            for key, keys in list(changed.items())[:5]
        ]
        msg = (
            f'{len(changed)} finished cell(s) in {os.fspath(csv)!r} were run with other'
            f' settings: {"; ".join(names)}. Use another --output, or'
            ' --rerun_changed to rerun them (their rows are replaced)'
        )
        raise ValueError(msg)
    if changed:
        stale = [
            (round(float(r.ratio), 9), str(r.strategy), str(r.method), int(r.seed))
            in changed
            for r in results.itertuples()
        ]
        results = results[[not s for s in stale]].reset_index(drop=True)
    cells = config.cells()
    done = done_keys(results)
    order = {cell.key: i for i, cell in enumerate(cells)}
    todo = []
    collected: list[tuple[Cell, dict[str, Any], float]] = []
    for number, cell in enumerate(cells, start=1):
        tag = f'[{number}/{len(cells)}] {cell.name}'
        if cell.key in done:
            log(f'{tag}: done, skipped')
            continue
        run = output / 'runs' / cell.name
        claim = None
        if config.executor == 'slurm' and cell.key not in changed:
            claim = read_claim(run, output / 'slurm')
        if claim is not None and claim.active:
            log(
                f'{tag}: claimed by job {claim.job_id}, which has not ended: not'
                ' submitted twice (run the command again once it has)'
            )
            continue
        row = None if claim is None else finished_row(run)
        if row is not None:
            assert claim is not None
            log(f'{tag}: finished by job {claim.job_id} after the runner stopped')
            seconds = (run / RESULT_FILE).stat().st_mtime - claim.claimed_at
            collected.append((cell, row, seconds))
            continue
        resume = None
        if cell.key not in changed:
            resume = resume_checkpoint(config.policy(cell.method), run)
        if resume is not None:
            log(f'{tag}: interrupted, its fit continues from {resume}')
        elif run.exists():
            shutil.rmtree(run)  # an interrupted (or replaced) attempt
        if cell.key in changed:
            log(f'{tag}: settings changed, rerunning')
        todo.append((tag, cell, run))
    tags = {cell.key: tag for tag, cell, _ in todo}
    tags.update({cell.key: cell.name for cell, _, _ in collected})

    def record(
        cell: Cell, outcome: dict[str, Any] | BaseException, seconds: float
    ) -> None:
        nonlocal results
        tag = tags[cell.key]
        if isinstance(outcome, BaseException):
            record_failure(output, cell, outcome)
            log(f'{tag}: failed: {type(outcome).__name__}: {outcome}')
            if not keep_going:
                raise outcome
            return
        clear_failure(output, cell)
        row = {**outcome, 'seconds': round(seconds, 1)}
        row['settings'] = settings_text(cell_settings(config, cell))
        results = pd.concat([results, pd.DataFrame([row])], ignore_index=True)
        results = in_cell_order(results, order)
        with atomic_write(csv) as tmp:
            extra = [c for c in results.columns if c not in RESULT_COLUMNS]
            extra = [c for c in extra if c.split('_')[0] == 'test']
            results[[*RESULT_COLUMNS, *extra]].to_csv(tmp, index=False)
        log(
            f'{tag}: test mIoU {row["test_miou"]:.4f}'
            f' [{row["test_miou_low"]:.4f}, {row["test_miou_high"]:.4f}]'
            f' ({row["labeled"]} labelled)'
        )

    executors = {'inprocess': _run_in_process, 'local': run_in_children,
                 'slurm': run_on_slurm}  # fmt: skip
    for cell, row, seconds in collected:
        record(cell, row, seconds)
    with quiet_lightning():
        for cell, outcome, seconds in executors[config.executor](config, todo, log):
            record(cell, outcome, seconds)
    differences = paired_differences(config, results)
    differences_csv = output / 'differences.csv'
    with atomic_write(differences_csv) as tmp:
        differences.to_csv(tmp, index=False)
    reports = write_reports(
        results, output, differences, config.reference, config.budget_unit
    )
    written = {'results': csv, 'differences': differences_csv, **reports}
    if read_failures(output):
        written['failures'] = output / FAILURES
    return written
