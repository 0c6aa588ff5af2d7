"""The STAL loop: train, choose on val, score on test, let the segmenter pick, repeat.

Each round is a folder ``round_XX/`` with its own ``state.json``, written after
every stage (``selected`` -> ``trained`` -> ``evaluated`` -> ``scored`` ->
``done``); a resumed loop redoes only the unfinished stage (a training stage
from the start: every fit is seeded, so the result is the same as without the
interruption).
"""

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from torchgeo.datasets import DatasetNotFoundError

from ...datamodules.groups import pool_groups
from ...datamodules.selection import random_selection
from ...files import atomic_write, folder_lock
from ...runs import (
    check_unclaimed,
    evaluate_run,
    finished_by_job,
    fit_run,
    method_processes,
    run_as_job,
)
from ...runtime import quiet_lightning
from ..choose import choose_rows
from ..diversity import diverse_rows
from ..query.outputs import write_selection
from .budgets import RoundBudgets
from .config import LoopConfig
from .pool import added_labels, build_pool, check_bands, trained_model
from .report import write_loop_reports
from .scoring import check_scorer
from .settings import SETTINGS_FILE, check_loop_settings
from .state import STAGES, RoundState
from .workers import EMBEDDINGS_FILE, ScoringJob, score_round

__all__ = ('STAGES', 'LoopSetupError', 'RoundState', 'run_loop')


class LoopSetupError(ValueError):
    """The loop cannot start: its settings, data, pool or budgets are wrong."""


class _Loop:
    """One ``als4gan loop`` run; see :func:`run_loop`."""

    def __init__(self, config: LoopConfig, log: Callable[[str], None]) -> None:
        self.config = config
        self.log = log
        self.fit_config = config.fit_method()
        self.policy = config.policy()
        self.method = config.method.stem
        self.jobs = config.output / 'slurm'  # submitit's folder (executor: slurm)
        built = build_pool(config)
        self.pool, self.labelled = built.pool, built.labelled
        self.classes = built.classes
        self.ids = list(self.pool.ids)
        self.groups = pool_groups(
            self.pool, config.stratify_by, config.regions, config.region_column
        )
        self.centres = (
            self.pool.centres_m() if config.min_distance_m > 0 else None
        )  # checked before the first fit
        self.budgets = RoundBudgets(config, self.pool)

    # -- building blocks -----------------------------------------------------------
    def folder(self, round_: int) -> Path:
        return self.config.output / f'round_{round_:02d}'

    def data_args(self, round_: int) -> list[str]:
        return [
            f'--data.init_args.selection_file={self.folder(round_) / "selection.npy"}',
            '--data.init_args.labeled_ratio=null',
            f'--data.init_args.seed={self.config.seed}',
            *added_labels(self.config),
        ]

    def _write_selection(self, state: RoundState) -> None:
        folder = self.folder(state.round)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(folder / 'selection.npy') as tmp, tmp.open('wb') as f:
            np.save(f, np.asarray([self.ids[i] for i in state.selected]))
        state.save(folder / 'state.json')

    def missing_masks(self, state: RoundState) -> list[int]:
        """The round's chosen items that have no mask yet (labelling mode)."""
        return [i for i in state.selected if self.ids[i] not in self.labelled]

    def request_labels(self, state: RoundState, missing: list[int]) -> dict[str, Path]:
        """Write the labelling task of ``missing``, or refuse a resume without masks.

        Returns:
            The task's files (``selection.gpkg`` ...) by name.

        Raises:
            LoopSetupError: If the task was written before (a resume) and some of
                its masks are still missing; the message names them.
        """
        config = self.config
        task = self.folder(state.round) / 'labelling'
        labels = config.labels_folder
        expected = [labels / f'{self.ids[i]}.tif' for i in missing]
        command = (
            f'als4gan labels --patches {task / "selection.gpkg"} --drawn <your'
            f' polygons> --classes {" ".join(self.classes)} --output {labels}'
        )
        if (task / 'selection.gpkg').is_file():
            shown = ', '.join(repr(os.fspath(e)) for e in expected[:5])
            more = f' and {len(expected) - 5} more' if len(expected) > 5 else ''
            msg = (
                f'round {state.round} waits for the masks of {len(missing)} patches'
                f' of its labelling task {os.fspath(task / "selection.gpkg")!r}:'
                f' {shown}{more} do not exist. Draw polygons with a class attribute'
                f' inside those patches, run `{command}`, then resume'
            )
            raise LoopSetupError(msg)
        where = {i: k for k, i in enumerate(state.selected)}
        rows = [(i, state.rounds[where[i]], state.scores[where[i]]) for i in missing]
        written = write_selection(
            task, self.pool, rows, f'loop_{config.scorer}', config.seed
        )
        self.log(
            f'round {state.round}: {len(missing)} chosen patches need masks; their'
            f' labelling task is {task / "selection.gpkg"} (thumbnails:'
            f' selection.png). Draw polygons with a class attribute inside them,'
            f' then run: {command}'
        )
        return written

    # -- stages --------------------------------------------------------------------
    def first_round(self) -> RoundState:
        if self.config.mode == 'labelling':
            # patches the labels already cover cost nothing: they come first
            rng = np.random.default_rng(self.config.seed)
            have = [i for i, pid in enumerate(self.ids) if pid in self.labelled]
            others = [i for i, pid in enumerate(self.ids) if pid not in self.labelled]
            order = [have[j] for j in rng.permutation(len(have))]
            order += [others[j] for j in rng.permutation(len(others))]
            selected = self.budgets.take(order, 0, [])
        elif self.budgets.unit != 'fraction':
            rng = np.random.default_rng(self.config.seed)
            selected = self.budgets.take(rng.permutation(len(self.ids)).tolist(), 0, [])
        else:
            chosen = random_selection(
                self.ids, self.config.budgets[0], self.config.seed
            )
            position = {pid: i for i, pid in enumerate(self.ids)}
            selected = [position[c] for c in chosen]
        state = RoundState(
            round=0, budget=self.config.budgets[0], selected=selected,
            rounds=[0] * len(selected), scores=[np.nan] * len(selected),
        )  # fmt: skip
        self._write_selection(state)
        return state

    def train(self, state: RoundState) -> None:
        config, folder, jobs = self.config, self.folder(state.round), self.jobs
        run = folder / 'run'
        check_unclaimed(folder, jobs, f'round {state.round}')
        if (
            job := finished_by_job(folder, jobs)
        ) is not None and run.is_dir():  # it ended after the loop died
            self.log(f'round {state.round}: its fit finished as job {job}; kept')
            return
        if run.exists():
            shutil.rmtree(run)  # an interrupted fit starts again (seeded)
        extra: list[str] = []
        if config.warm_start and state.round > 0:
            previous = self.folder(state.round - 1) / 'state.json'
            best = RoundState.load(previous).result
            assert best is not None
            extra = [
                '--trainer.callbacks+=torchgeo_als4gan.active.loop.InitialWeights',
                f'--trainer.callbacks.checkpoint={best["checkpoint"]}',
            ]
        # a multi-device (DDP) method trains as its own `als4gan fit` process
        own = method_processes(self.fit_config, config.trainer_args)
        self.log(
            f'round {state.round}: training {self.method} on {len(state.selected)}'
            f' labelled items ({self.budgets.describe(state.round)})'
            + (', as its own multi-process `als4gan fit`' if own else '')
        )
        data = config.retarget(self.data_args(state.round))
        args = (self.fit_config, self.policy, data, run, config.seed, extra, own)
        if config.executor == 'slurm':  # one job per fit; the loop waits for it
            run_as_job(config.slurm, jobs, folder, self.log,
                       f'round {state.round}', fit_run, *args)  # fmt: skip
        else:
            fit_run(*args)

    def evaluate(self, state: RoundState) -> None:
        config, folder = self.config, self.folder(state.round)
        row = evaluate_run(
            self.fit_config, self.policy,
            config.retarget(self.data_args(state.round)), folder / 'run',
        )  # fmt: skip
        unit = self.budgets.unit
        row.update({
            'ratio': state.budget if unit == 'fraction' else len(state.selected) / len(self.ids),
            'strategy': config.scorer, 'seed': config.seed, 'budget': state.budget,
            'budget_unit': unit,
            **{f'spent_{k}': v for k, v in self.budgets.spent(state.selected).items()},
        })  # fmt: skip
        per_class = row.pop('test_class_iou')
        row.update({
            'round': state.round, 'method': self.method, 'labeled': len(state.selected),
            'labeled_percent': 100 * len(state.selected) / len(self.ids),
        })  # fmt: skip
        for index, value in per_class.items():
            i = int(index)
            name = self.classes[i] if i < len(self.classes) else index
            row[f'iou_{name}'] = value
        state.result = row
        self.log(
            f'round {state.round}: test mIoU {row["test_miou"]:.4f}'
            f' [{row["test_miou_low"]:.4f}, {row["test_miou_high"]:.4f}],'
            f' val {row["val_miou"]:.4f}'
        )

    def score(self, state: RoundState) -> None:
        config, folder = self.config, self.folder(state.round)
        chosen = set(state.selected)
        items = [i for i in range(len(self.ids)) if i not in chosen]
        # the feature core-set starts from the labelled items' features
        scored = list(range(len(self.ids))) if config.diversity == 'feature' else items
        if config.scorer == 'random':
            rng = np.random.default_rng([config.seed, state.round])
            values = rng.random(len(items))
        else:
            assert state.result is not None
            data, checkpoint = self.data_args(state.round), state.result['checkpoint']
            model = trained_model(config, data, checkpoint)
            check_bands(self.pool, model)
            where = (
                f'{config.score_devices} processes' if config.score_devices > 1
                else 'one device'
            ) + (', as a job' if config.executor == 'slurm' else '')  # fmt: skip
            self.log(
                f'round {state.round}: scoring {len(scored)} pool items'
                f' ({config.scorer}, {where})'
            )
            job = ScoringJob(config, data, checkpoint, scored, folder)
            values = score_round(
                job, self.pool, model, self.jobs, self.log, f'round {state.round}'
            )
            if scored != items:  # keep the unlabelled items' scores
                values = values[np.asarray(items, dtype=np.int64)]
        table = pd.DataFrame({
            'id': [self.ids[i] for i in items], 'score': values,
            'group': [self.groups[i] for i in items] if self.groups else None,
        })  # fmt: skip
        with atomic_write(folder / 'scores.csv') as tmp:
            table.to_csv(tmp, index=False)

    def _diverse(
        self,
        state: RoundState,
        values: NDArray[np.float64],
        items: NDArray[np.int64],
        largest: bool,
        groups: list[Any] | None,
    ) -> NDArray[np.int64]:
        """The next round's rows under ``feature`` / ``badge`` diversity."""
        config = self.config
        embeddings = np.load(self.folder(state.round) / EMBEDDINGS_FILE, mmap_mode='r')
        k = self.budgets.most_items(state.round + 1, items.tolist(), state.selected)
        labelled = (
            np.asarray(embeddings[np.sort(np.asarray(state.selected))])
            if config.diversity == 'feature'
            else None
        )
        return diverse_rows(
            config.diversity, np.asarray(embeddings[items]), values, items, k,
            largest, [config.seed, state.round + 1], groups,
            config.diversity_candidates, labelled,
        )  # fmt: skip

    def next_round(self, state: RoundState) -> RoundState:
        config, folder = self.config, self.folder(state.round)
        table = pd.read_csv(folder / 'scores.csv', dtype={'id': str, 'group': str})
        position = {pid: i for i, pid in enumerate(self.ids)}
        items = np.asarray([position[i] for i in table['id']], dtype=np.int64)
        values = table['score'].to_numpy(dtype=np.float64)
        k = self.budgets.round_size(state.round + 1, len(values))
        largest = True if config.scorer == 'random' else check_scorer(config.scorer)[1]
        groups = [self.groups[i] for i in items] if self.groups is not None else None
        if config.embedding is not None:
            order, filled = self._diverse(state, values, items, largest, groups), 0
        else:
            order, filled = choose_rows(
                values, items, k, largest, groups, self.centres, state.selected,
                config.min_distance_m,
            )  # fmt: skip
        if filled and self.budgets.unit == 'fraction':
            self.log(
                f'round {state.round + 1}: only {k - filled} of {k} patches are'
                f' {config.min_distance_m:g} m apart; the best {filled} closer ones'
                ' complete the round'
            )
        order = self.budgets.take_rows(order, items, state.round + 1, state.selected)
        picks = items[order].tolist()
        scored = [
            np.nan if config.scorer == 'random' else float(v) for v in values[order]
        ]
        nxt = RoundState(
            round=state.round + 1, budget=config.budgets[state.round + 1],
            selected=state.selected + picks,
            rounds=state.rounds + [state.round + 1] * len(picks),
            scores=state.scores + scored,
        )  # fmt: skip
        self._write_selection(nxt)
        return nxt


def run_loop(
    config: LoopConfig, resume: bool = False, log: Callable[[str], None] = print
) -> dict[str, Path]:
    """Run (or resume) the loop until the last budget's round is evaluated.

    Args:
        config: the loop.
        resume: continue a run in ``config.output``.
        log: where progress lines go.

    Returns:
        The written files by name (``results``, ``table``, ``plot``, the
        cumulative selection files); in labelling mode, when a round's chosen
        patches have no mask yet, its labelling task instead (``labelling``:
        the GeoPackage for ``als4gan labels``, and the other selection files):
        the loop stopped there, to be resumed once the masks exist.

    Raises:
        FileExistsError: If the output holds a run and ``resume`` is False, or
            another loop is writing it.
        LoopSetupError: If a resumed run used other settings (the keys are
            listed), the data cannot be read, the pool cannot be grouped as
            ``stratify_by`` asks, the budgets are too small for the pool, or a
            labelling-mode round resumed before its masks exist (named).
    """
    output = config.output
    output.mkdir(parents=True, exist_ok=True)
    with folder_lock(output, 'als4gan loop'), quiet_lightning():
        try:  # everything checked before anything is written
            new = check_loop_settings(config, resume)
            loop = _Loop(config, lambda line: log(f'[als4gan loop] {line}'))
        except (ValueError, TypeError, DatasetNotFoundError) as error:
            raise LoopSetupError(str(error)) from error
        if new is not None:
            with atomic_write(output / SETTINGS_FILE) as tmp:
                tmp.write_text(json.dumps(new, indent=1, sort_keys=True))
        first = loop.folder(0) / 'state.json'
        state = RoundState.load(first) if first.is_file() else loop.first_round()
        last = len(config.budgets) - 1
        while True:
            folder = loop.folder(state.round)
            missing = [] if state.reached('trained') else loop.missing_masks(state)
            if missing:
                task = loop.request_labels(state, missing)
                return {'labelling': task['selection.gpkg'], **task}
            stages: list[tuple[str, Callable[[RoundState], None]]] = [
                ('trained', loop.train), ('evaluated', loop.evaluate),
            ]  # fmt: skip
            if state.round < last:
                stages.append(('scored', loop.score))
            for stage, run in stages:
                if not state.reached(stage):
                    start = time.perf_counter()
                    run(state)
                    state.seconds[stage] = round(time.perf_counter() - start, 1)
                    state.stage = stage
                    state.save(folder / 'state.json')
            if state.round == last:
                state.stage = 'done'
                state.save(folder / 'state.json')
                break
            following = loop.folder(state.round + 1) / 'state.json'
            if following.is_file():
                nxt = RoundState.load(following)
            else:
                nxt = loop.next_round(state)
            state.stage = 'done'
            state.save(folder / 'state.json')
            state = nxt
        rounds = [
            RoundState.load(loop.folder(r) / 'state.json') for r in range(last + 1)
        ]
        return write_loop_reports(
            output, rounds, loop.pool, config, loop.budgets.item_prices()
        )
