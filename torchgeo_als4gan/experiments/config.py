"""The grid of an experiment: labelled ratios x strategies x methods x seeds."""

import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..active import get_strategy
from ..checks import check_device, check_positive, check_seed
from ..runs import (
    RunPolicy,
    build_config,
    check_extra_tests,
    check_method_config,
    check_single_process,
    check_slurm_options,
    read_config_file,
)
from .budgets import check_grid_budgets
from .loop_variants import check_loop_variants, loop_options

if TYPE_CHECKING:
    from ..active.loop.config import LoopConfig

__all__ = ('Cell', 'ExperimentConfig', 'load_experiment')


@dataclass(frozen=True)
class Cell:
    """One run of the grid.

    Attributes:
        ratio: labelled fraction of the train pool.
        strategy: ``random`` (the datamodule's seeded draw) or a query strategy.
        method: key of :attr:`ExperimentConfig.methods`.
        seed: seed of the selection and of training.
    """

    ratio: float
    strategy: str
    method: str
    seed: int

    @property
    def name(self) -> str:
        """Folder name of the run (``<method>_<strategy>_r<ratio>_s<seed>``)."""
        return f'{self.method}_{self.strategy}_r{self.ratio:g}_s{self.seed}'

    @property
    def key(self) -> tuple[float, str, str, int]:
        """Identity in the results table."""
        return (round(self.ratio, 9), self.strategy, self.method, self.seed)


@dataclass
class ExperimentConfig:
    """What an ``als4gan experiment`` YAML file holds.

    Attributes:
        output: folder of selections, runs and results.
        ratios: labelled fractions, e.g. ``[0.02, 0.05, 0.125]`` (ALS4GAN), or
            amounts in ``budget_unit``.
        budget_unit: ``fraction`` (default), ``items``, ``pixels``,
            ``area_km2`` or ``cost`` (:mod:`.budgets`: every selection then
            goes through ``als4gan query --budget``).
        cost_model: ``cost`` budgets' prices: ``constant``, ``area`` or
            ``file`` (``cost_file``, a CSV of id,cost).
        cost_file: the ``file`` cost model's CSV.
        strategies: ``random``, query strategies (entropy, margin, ...) and/or
            ``stal``: the ``als4gan loop`` of the method itself, whose budgets
            are ``loop_fractions`` of the cell's ratio (so it ends with as many
            labels as the one-shot selections).
        methods: method name -> fit config (e.g. ``supervised``, ``s4gan``).
        seeds: seeds of each cell.
        query_config: config of ``als4gan query`` (needed unless all strategies
            are random).
        data_args: overrides for every step (e.g. ``--data.init_args.root=...``).
        model_args: overrides of the segmentation model (fit and evaluation).
        trainer_args: overrides of the trainer (fit only).
        query_args: overrides of the query only.
        device: where checkpoints are evaluated (``auto``, ``cpu``, ``cuda``).
        checkpoint_top_k: checkpoints kept per run by validation mIoU, the
            same for every method (the best is chosen on val, scored on test).
        val_check_interval: validate every this many training iterations
            (batches; one S4GAN iteration is one batch), the same for every
            method; None: at the end of every epoch.
        bootstrap_samples: resamples of the test items for intervals.
        bootstrap_seed: seed of the resamples (the same for every cell, so two
            methods are resampled identically).
        reference: method the others are compared with (default
            ``supervised`` when present, else the first method).
        ceiling: also train the reference method on the whole train split
            (strategy ``all``, ratio 1) per seed: the ceiling that shows how
            much of the gap each method recovers.
        loop_fractions: budgets of a ``stal`` cell as fractions of its ratio,
            strictly increasing, the last 1.
        loop_scorer: the ``stal`` cells' scorer (``als4gan loop``'s ``scorer``).
        loop_variants: more loop strategies, name -> ``als4gan loop`` options
            (:data:`~.loop_variants.LOOP_VARIANT_KEYS`, e.g. ``stal_feature:
            {diversity: feature}``); each name listed in ``strategies`` runs
            like ``stal`` with them.
        extra_tests: more test sets, name -> datamodule overrides applied on
            top of the others (e.g. held-out regions and seasons: an
            out-of-distribution test); each gives ``test_miou_<name>`` (with
            its interval) and a table of its own in ``results.md``.
        inits: an initialisation axis, name -> weights file (null: the
            config's own, e.g. random): every method runs once per entry, as
            ``<method>_<name>`` (e.g. ``random: null``, ``pretrained:
            output/pretrain/demo_resnet18.pt`` from ``als4gan pretrain``).
        method_args: model overrides of single methods (the ``inits`` axis
            fills it).
        executor: ``inprocess`` (cells one after the other in this process,
            the default) or ``local`` (every cell its own child process,
            ``max_parallel`` at once; :mod:`.executor`).
        max_parallel: cells at once with ``executor: local``.
        gpus_per_cell: GPUs given to each parallel cell (disjoint
            ``CUDA_VISIBLE_DEVICES``; 0: the cells choose).
        slurm: ``executor: slurm`` options (:data:`~torchgeo_als4gan.runs.slurm.SLURM_KEYS`).
        resume_every: save the fit's full state (weights, optimizer, loops,
            callbacks) every this many training iterations in
            ``runs/<cell>/resume/last.ckpt``, from which an interrupted cell
            (a killed runner, a preempted and requeued SLURM job) continues
            its fit instead of starting again; None (the default): no such
            file, an interrupted cell starts again.
    """

    output: Path
    ratios: list[float]
    strategies: list[str]
    methods: dict[str, Path]
    seeds: list[int] = field(default_factory=lambda: [0])
    query_config: Path | None = None
    budget_unit: str = 'fraction'
    cost_model: str = 'constant'
    cost_file: Path | None = None
    data_args: list[str] = field(default_factory=list)
    model_args: list[str] = field(default_factory=list)
    trainer_args: list[str] = field(default_factory=list)
    query_args: list[str] = field(default_factory=list)
    device: str = 'auto'
    checkpoint_top_k: int = 3
    val_check_interval: int | None = None
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 0
    reference: str | None = None
    ceiling: bool = False
    loop_fractions: list[float] = field(default_factory=lambda: [0.5, 0.75, 1.0])
    loop_scorer: str = 'pixel_entropy'
    loop_variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra_tests: dict[str, list[str]] = field(default_factory=dict)
    inits: dict[str, str | None] = field(default_factory=dict)
    method_args: dict[str, list[str]] = field(default_factory=dict)
    executor: str = 'inprocess'
    max_parallel: int = 1
    gpus_per_cell: int = 0
    slurm: dict[str, Any] = field(default_factory=dict)
    resume_every: int | None = None

    def __post_init__(self) -> None:
        """Check the grid.

        Raises:
            ValueError: If a ratio, strategy, method or config is invalid.
        """
        check_grid_budgets(self.ratios, self.budget_unit, self.cost_model,
                           self.cost_file, self.query_config, self.ceiling)  # fmt: skip
        for name in self.strategies:
            if name == 'all':
                msg = "strategy 'all' is the ceiling: set ceiling: true instead"
                raise ValueError(msg)
            if name != 'random' and not self.is_loop(name):
                get_strategy(name, 'strategies entry')
        if not self.strategies or not self.methods or not self.seeds:
            msg = 'strategies, methods and seeds must not be empty'
            raise ValueError(msg)
        for seed in self.seeds:
            check_seed('seeds entry', seed)
        if len(set(self.seeds)) < len(self.seeds):
            msg = f'seeds must not repeat, got {self.seeds}'
            raise ValueError(msg)
        _add_init_axis(self)
        if self.executor not in ('inprocess', 'local', 'slurm'):
            msg = (
                "executor must be 'inprocess', 'local' or 'slurm', got"
                f' {self.executor!r}'
            )
            raise ValueError(msg)
        check_slurm_options(self.slurm, self.executor)
        check_positive('max_parallel', self.max_parallel)
        if self.max_parallel > 1 and self.executor != 'local':
            msg = 'max_parallel > 1 needs executor: local (cells in child processes)'
            raise ValueError(msg)
        if (
            isinstance(self.gpus_per_cell, bool)
            or not isinstance(self.gpus_per_cell, int)
            or self.gpus_per_cell < 0
        ):
            msg = f'gpus_per_cell must be an integer >= 0, got {self.gpus_per_cell!r}'
            raise ValueError(msg)
        for name in ('checkpoint_top_k', 'bootstrap_samples'):
            check_positive(name, getattr(self, name))
        check_device(self.device, 'device')
        check_positive('val_check_interval', self.val_check_interval, optional=True)
        check_positive('resume_every', self.resume_every, optional=True)
        if self.reference is None:
            self.reference = (
                'supervised'
                if 'supervised' in self.methods
                else next(iter(self.methods))
            )
        elif self.reference not in self.methods:
            msg = f'reference {self.reference!r} is not one of the methods {list(self.methods)}'
            raise ValueError(msg)
        check_extra_tests(self.extra_tests)
        check_loop_variants(self.loop_variants, self.strategies)
        if any(map(self.is_loop, self.strategies)):
            self._check_loop()
        configs = dict(self.methods)
        if any(s != 'random' and not self.is_loop(s) for s in self.strategies):
            if self.query_config is None:
                msg = 'query_config is needed for strategies other than random'
                raise ValueError(msg)
            configs['query_config'] = self.query_config
        for name, path in configs.items():
            if not Path(path).is_file():
                msg = f'{name}: config {os.fspath(path)!r} does not exist'
                raise ValueError(msg)
        processes = self.executor != 'inprocess'  # fits as their own `als4gan fit`
        for name, path in self.methods.items():
            check_method_config(f'methods.{name}', Path(path), processes)
        for arg in [] if processes else self.trainer_args:
            key, _, value = str(arg).partition('=')
            if key in ('--trainer.devices', '--trainer.strategy'):
                devices = value if key == '--trainer.devices' else None
                strategy = value if key == '--trainer.strategy' else None
                check_single_process(f'trainer_args {arg!r}', devices, strategy)

    def _check_loop(self) -> None:
        from ..active.loop.config import SCORERS

        fractions = self.loop_fractions
        if (
            not fractions
            or any(not 0 < f <= 1 for f in fractions)
            or any(b >= a for b, a in itertools.pairwise(fractions))
            or fractions[-1] != 1
        ):
            msg = (
                'loop_fractions must increase strictly in (0, 1] and end with 1,'
                f' got {fractions}'
            )
            raise ValueError(msg)
        if self.loop_scorer not in SCORERS:
            msg = (
                f'loop_scorer must be one of {list(SCORERS)}, got {self.loop_scorer!r}'
            )
            raise ValueError(msg)
        # every variant's options as the loop reads them, before any fit
        for strategy in filter(self.is_loop, self.strategies):
            for method in self.methods:
                try:
                    self.loop_config(
                        Cell(self.ratios[0], strategy, method, self.seeds[0])
                    )
                except (TypeError, ValueError) as error:
                    where = 'loop_variants.' if strategy != 'stal' else ''
                    msg = f'{where}{strategy} (methods.{method}): {error}'
                    raise ValueError(msg) from error

    def is_loop(self, strategy: str) -> bool:
        """Whether a strategy's cells run ``als4gan loop`` (``stal`` or a variant).

        Args:
            strategy: an entry of :attr:`strategies`.

        Returns:
            True for ``stal`` and the names in :attr:`loop_variants`.
        """
        return strategy == 'stal' or strategy in self.loop_variants

    def loop_config(self, cell: Cell) -> 'LoopConfig':
        """The ``als4gan loop`` of a loop cell, into ``loops/<cell>/``.

        Its budgets are ``loop_fractions`` of the cell's ratio; its round
        options are the variant's (:func:`.loop_variants.loop_options`).

        Args:
            cell: a cell whose strategy :meth:`is_loop`.

        Returns:
            The checked loop configuration.
        """
        from ..active.loop.config import LoopConfig

        options = loop_options(self.loop_variants, cell.strategy, self.loop_scorer)
        return LoopConfig(
            output=self.output / 'loops' / cell.name,
            method=self.methods[cell.method],
            budgets=[round(f * cell.ratio, 9) for f in self.loop_fractions],
            budget_unit=self.budget_unit, cost_model=self.cost_model,
            cost_file=self.cost_file, seed=cell.seed,
            data_args=list(self.data_args),
            model_args=self.model_args_for(cell.method),
            trainer_args=list(self.trainer_args),
            device=self.device, checkpoint_top_k=self.checkpoint_top_k,
            val_check_interval=self.val_check_interval,
            bootstrap_samples=self.bootstrap_samples,
            bootstrap_seed=self.bootstrap_seed, extra_tests=dict(self.extra_tests),
            **options,
        )  # fmt: skip

    def model_args_for(self, method: str) -> list[str]:
        """The model overrides of one method: the shared ones, then its own.

        Args:
            method: a key of :attr:`methods`.

        Returns:
            The overrides.
        """
        return [*self.model_args, *self.method_args.get(method, [])]

    def policy(self, method: str) -> RunPolicy:
        """How the runs of one method are fitted and scored.

        Args:
            method: a key of :attr:`methods`.

        Returns:
            The shared overrides with the method's own, and the checkpoint,
            evaluation and bootstrap settings.
        """
        return RunPolicy(
            data_args=tuple(self.data_args),
            model_args=tuple(self.model_args_for(method)),
            trainer_args=tuple(self.trainer_args), device=self.device,
            checkpoint_top_k=self.checkpoint_top_k,
            val_check_interval=self.val_check_interval,
            bootstrap_samples=self.bootstrap_samples,
            bootstrap_seed=self.bootstrap_seed, extra_tests=dict(self.extra_tests),
            resume_every=self.resume_every,
        )  # fmt: skip

    @property
    def checkpoint_policy(self) -> str:
        """The checkpoint policy every method's run gets, in words."""
        return RunPolicy(
            checkpoint_top_k=self.checkpoint_top_k,
            val_check_interval=self.val_check_interval,
        ).description

    def cells(self) -> list[Cell]:
        """Every cell, ratios outermost so that early results cover all methods.

        Returns:
            The cells in run order (the ceiling last).
        """
        cells = [
            Cell(ratio, strategy, method, seed)
            for ratio in self.ratios
            for seed in self.seeds
            for strategy in self.strategies
            for method in self.methods
        ]
        if self.ceiling:
            assert self.reference is not None
            cells += [Cell(1.0, 'all', self.reference, seed) for seed in self.seeds]
        return cells


def _add_init_axis(config: 'ExperimentConfig') -> None:
    """One method per (method, init): ``<method>_<init>`` with its weights."""
    if not config.inits:
        return
    for name, weights in config.inits.items():
        if weights is not None and not Path(weights).is_file():
            msg = f'inits.{name}: weights file {weights!r} does not exist'
            raise ValueError(msg)
    expanded: dict[str, Path] = {}
    for method, path in config.methods.items():
        for name, weights in config.inits.items():
            key = f'{method}_{name}'
            expanded[key] = path
            value = 'null' if weights is None else weights
            config.method_args[key] = [
                *config.method_args.get(method, []),
                f'--model.init_args.weights={value}',
            ]
    # the reference is the method at its own (null) initialisation, if listed
    own = [name for name, weights in config.inits.items() if weights is None]
    base = config.reference or (
        'supervised' if 'supervised' in config.methods else None
    )
    if base in config.methods:
        config.reference = f'{base}_{(own or list(config.inits))[0]}'
    config.methods = expanded
    config.inits = {}


def load_experiment(
    path: str | os.PathLike[str],
    extra: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
) -> ExperimentConfig:
    """Read an experiment YAML file.

    Config paths inside it are relative to the current folder (like
    ``--config`` paths of the other commands).

    Args:
        path: the YAML file.
        extra: additional ``data_args`` (e.g. from the command line).
        overrides: keys that replace the file's (``--seed`` on the command line).

    Returns:
        The checked configuration.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it has unknown keys or invalid values.
    """
    file = Path(path)
    raw = read_config_file(file, ExperimentConfig)
    raw.update(overrides or {})
    raw['methods'] = {str(k): Path(v) for k, v in (raw.get('methods') or {}).items()}
    for key in ('query_config', 'cost_file'):
        if raw.get(key) is not None:
            raw[key] = Path(raw[key])
    raw['ratios'] = [float(r) for r in raw.get('ratios', [])]
    return build_config(file, ExperimentConfig, raw, extra, 'output/experiments')
