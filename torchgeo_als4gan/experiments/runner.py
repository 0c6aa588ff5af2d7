"""Run an experiment grid cell by cell; finished cells are skipped on resume."""

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ..files import atomic_write
from ..runtime import resolve_device
from .config import Cell, ExperimentConfig
from .report import write_reports

__all__ = ('RESULT_COLUMNS', 'run_experiment')

#: Columns of ``results.csv``.
RESULT_COLUMNS = (
    'ratio', 'strategy', 'method', 'seed', 'labeled', 'val_miou', 'test_miou',
    'test_pixel_accuracy', 'test_fw_iou', 'checkpoint', 'seconds',
)  # fmt: skip


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


def _done(results: pd.DataFrame) -> set[tuple[float, str, str, int]]:
    return {
        (round(float(r.ratio), 9), str(r.strategy), str(r.method), int(r.seed))
        for r in results.itertuples()
    }


def selection_args(config: ExperimentConfig, cell: Cell) -> list[str]:
    """Datamodule arguments that choose the cell's labelled set.

    ``random`` is the datamodule's own seeded draw of ``ceil(ratio * N)`` items;
    other strategies run ``als4gan query`` once per (strategy, ratio, seed),
    shared by all methods, and pass its ``selection.npy``.

    Args:
        config: the experiment.
        cell: the cell.

    Returns:
        ``--data.init_args.*`` overrides.
    """
    seed = f'--data.init_args.seed={cell.seed}'
    if cell.strategy == 'random':
        return [f'--data.init_args.labeled_ratio={cell.ratio}', seed]
    folder = (
        config.output / 'selections' / f'{cell.strategy}_r{cell.ratio:g}_s{cell.seed}'
    )
    selection = folder / 'selection.npy'
    if not selection.is_file():
        from ..query.cli import main as query_main

        assert config.query_config is not None
        query_main([
            '--config', os.fspath(config.query_config), *config.data_args,
            *config.query_args, f'--strategy={cell.strategy}',
            f'--labeled_ratio={cell.ratio}', f'--seed={cell.seed}',
            f'--output={folder}', '--overwrite=true',
        ])  # fmt: skip
    return [
        f'--data.init_args.selection_file={selection}',
        '--data.init_args.labeled_ratio=null',
        seed,
    ]


def fit_cell(config: ExperimentConfig, cell: Cell, data: list[str], run: Path) -> None:
    """Train one cell with ``als4gan fit`` into ``run``.

    Args:
        config: the experiment.
        cell: the cell.
        data: selection arguments.
        run: the run folder (logs and checkpoints).
    """
    from ..main import main as als4gan

    als4gan([
        'fit', '--config', os.fspath(config.methods[cell.method]), *config.data_args,
        *data, *config.model_args, *config.trainer_args,
        f'--seed_everything={cell.seed}', f'--trainer.default_root_dir={run}',
    ])  # fmt: skip


def evaluate_cell(
    config: ExperimentConfig, cell: Cell, data: list[str], run: Path
) -> dict[str, Any]:
    """Choose the run's checkpoint on val by mIoU and score it on test.

    Both methods are scored by the same code (a confusion matrix over the split,
    mIoU over the classes present), whatever their training logs.

    Args:
        config: the experiment.
        cell: the cell.
        data: selection arguments.
        run: the run folder.

    Returns:
        The result row (without timing).

    Raises:
        FileNotFoundError: If the run wrote no checkpoint.
    """
    from ..evaluation.cli import build_parser, evaluate_checkpoints

    checkpoints = sorted(run.rglob('*.ckpt'))
    if not checkpoints:
        msg = f'run {os.fspath(run)!r} wrote no checkpoint'
        raise FileNotFoundError(msg)
    parser = build_parser()
    cfg = parser.parse_args([
        '--config', os.fspath(config.methods[cell.method]), *config.data_args, *data,
        *config.model_args, f'--checkpoints={run}',
    ])  # fmt: skip
    init = parser.instantiate_classes(cfg)
    device = resolve_device(config.device)
    val = evaluate_checkpoints(init.model, init.data, checkpoints, 'val', device)
    best = Path(val['best']['checkpoint'])
    test = evaluate_checkpoints(init.model, init.data, [best], 'test', device)
    scores = test['checkpoints'][0]
    return {
        'ratio': cell.ratio, 'strategy': cell.strategy, 'method': cell.method,
        'seed': cell.seed, 'labeled': len(getattr(init.data, 'labeled_ids', [])),
        'val_miou': val['best']['miou'], 'test_miou': scores['miou'],
        'test_pixel_accuracy': scores['pixel_accuracy'],
        'test_fw_iou': scores['fw_iou'], 'checkpoint': os.fspath(best),
    }  # fmt: skip


def run_experiment(
    config: ExperimentConfig, log: Callable[[str], None] = print
) -> dict[str, Path]:
    """Run every unfinished cell, then write the CSV, plot and table.

    Each finished cell is appended to ``results.csv`` at once (rewritten
    atomically), so an interrupted experiment resumes with the next cell; an
    unfinished cell's run folder is cleared and the cell runs again.

    Args:
        config: the experiment.
        log: where progress lines go.

    Returns:
        ``results`` (CSV), ``plot`` (PNG) and ``table`` (markdown) paths.
    """
    output = config.output
    output.mkdir(parents=True, exist_ok=True)
    csv = output / 'results.csv'
    results = read_results(csv)
    cells = config.cells()
    done = _done(results)
    for number, cell in enumerate(cells, start=1):
        if cell.key in done:
            log(f'[{number}/{len(cells)}] {cell.name}: done, skipped')
            continue
        log(f'[{number}/{len(cells)}] {cell.name}: running')
        start = time.perf_counter()
        data = selection_args(config, cell)
        run = output / 'runs' / cell.name
        if run.exists():
            shutil.rmtree(run)  # an interrupted attempt
        fit_cell(config, cell, data, run)
        row = evaluate_cell(config, cell, data, run)
        row['seconds'] = round(time.perf_counter() - start, 1)
        results = pd.concat([results, pd.DataFrame([row])], ignore_index=True)
        with atomic_write(csv) as tmp:
            results[list(RESULT_COLUMNS)].to_csv(tmp, index=False)
        log(f'[{number}/{len(cells)}] {cell.name}: test mIoU {row["test_miou"]:.4f}')
    return {'results': csv, **write_reports(results, output)}
