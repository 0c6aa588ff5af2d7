"""The ``als4gan loop`` YAML: budgets, method, scorer, strata and policy."""

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ...checks import (
    check_device,
    check_fraction,
    check_positive,
    check_seed,
    read_yaml,
)
from ...datamodules.groups import STRATIFY_BY
from ...files import atomic_write
from ...runs import (
    RunPolicy,
    build_config,
    check_extra_tests,
    check_method_config,
    check_slurm_options,
    read_config_file,
)
from ..choose import check_min_distance
from ..costs import check_cost_model
from ..diversity import check_diversity
from ..query.calibration import check_calibrate
from ..spend import check_budget_amounts
from .scoring import SEGMENTER_SCORERS

__all__ = ('CALIBRATE_ARGS', 'MODES', 'SCORERS', 'LoopConfig', 'load_loop')

#: Trainer overrides of each ``calibrate`` choice.
CALIBRATE_ARGS: dict[str | None, tuple[str, ...]] = {
    'temperature': (
        '--trainer.callbacks+=torchgeo_als4gan.evaluation.TemperatureCalibration',
    )
}

#: What ``scorer`` accepts: the segmenter's scores, or a random draw.
SCORERS = (*SEGMENTER_SCORERS, 'random')

#: Where the masks of the chosen items come from: already on disk, or drawn
#: by annotators between rounds.
MODES = ('simulation', 'labelling')


@dataclass
class LoopConfig:
    """An ``als4gan loop`` run (STAL: train, score the pool, label, retrain).

    In ``simulation`` mode the masks of the whole pool are on disk and the
    chosen items' masks are used from one round on (benchmarks, papers,
    choosing a scorer before a labelling campaign). In ``labelling`` mode
    (raster datamodules) the pool is every patch outside val and test, and a
    round whose chosen patches have no mask writes their labelling task and
    stops; ``als4gan labels --output <output>/labels`` turns the drawn
    polygons into masks and ``--resume`` goes on with them.

    Attributes:
        output: folder of the rounds, results and selection.
        method: fit config of the segmentation method (self-training by
            default in the shipped configs; S4GAN or supervised work too).
        mode: ``simulation`` or ``labelling``.
        budgets: cumulative budget after each round, strictly increasing, in
            ``budget_unit``: labelled fractions of the pool in (0, 1] by
            default, e.g. ``[0.01, 0.022, 0.05]``; or ``[0.5, 1.0, 2.0]`` km².
        budget_unit: ``fraction`` (``ceil(budget * N)`` items, as the random
            baseline), ``items``, ``pixels`` (valid, not nodata), ``area_km2``
            (valid area on the ground; georeferenced pools) or ``cost`` (the
            cost model's unit). Other than ``fraction``, each round buys the
            ranked items in order while they fit in what it has left.
        cost_model: prices of ``cost`` budgets: ``constant`` (1 a patch),
            ``area`` (its km²) or ``file`` (``cost_file``).
        cost_file: a CSV of ``id,cost`` (e.g. seconds per patch from a
            labelling log) for ``cost_model: file``.
        calibrate: ``temperature``: every round's fit also fits one
            temperature on its val pixels
            (:class:`~torchgeo_als4gan.evaluation.calibration.TemperatureCalibration`),
            stored in its checkpoints, and the pool is scored from the
            softmax at that temperature; None: raw softmax.
        scorer: ``pixel_entropy`` (STAL), ``pixel_margin``,
            ``region_impurity`` (RIPU) or ``random`` (the same rounds with
            random increments: the control).
        stratify_by: per-group quotas: ``scene``, ``source``, ``file`` or
            ``region`` (with ``regions`` and ``region_column``), or None.
        min_distance_m: spatially diverse rounds (georeferenced pools): no
            two patches of a round, nor a new patch and one labelled before,
            closer than this many metres between centres (0: off; the best
            skipped patches fill a round that cannot be spaced).
        diversity: how a round spreads its picks: ``none`` (top-k of the
            scorer), ``spatial`` (``min_distance_m``; implied by a distance),
            ``feature`` (k-center core-set over the segmenter's pooled
            classifier features among the ``diversity_candidates`` x k most
            uncertain, the labelled items as first centres) or ``badge``
            (k-means++ over its last layer's gradient embeddings, Ash et al.
            2020). See :mod:`torchgeo_als4gan.active.diversity`.
        diversity_candidates: ``feature``'s uncertain shortlist, in multiples
            of the round's items.
        regions: vector file of regions for ``stratify_by: region``.
        region_column: its column naming the region.
        warm_start: start each round from the previous round's chosen
            checkpoint (teacher included) instead of fresh weights (STAL's
            released code starts fresh).
        seed: seed of the first random draw and of every fit.
        data_args: overrides of the datamodule for every step.
        model_args: overrides of the model (fit, evaluation and scoring).
        trainer_args: overrides of the trainer (fit only).
        device: where checkpoints are evaluated and the pool scored (the
            fits use the method config's trainer).
        score_devices: devices that score the pool (several: DDP in child
            processes, the scores gathered; the result does not change).
        executor: where each round's fit runs: ``inprocess`` (here; a
            multi-device method as its own ``als4gan fit`` process) or
            ``slurm`` (one SLURM job per fit through submitit, the loop waiting
            for it; evaluation and scoring stay here).
        slurm: ``executor: slurm`` options
            (:data:`~torchgeo_als4gan.runs.slurm.SLURM_KEYS`, without arrays).
        score_batch_size: pool scoring batch size.
        region_k: window radius of ``region_impurity``.
        region_top: share of pixels averaged by ``region_impurity``.
        checkpoint_top_k: checkpoints kept per round by val mIoU.
        val_check_interval: validate every this many iterations (None: every
            epoch), as in ``als4gan experiment``.
        bootstrap_samples: resamples of the test items for intervals.
        bootstrap_seed: seed of the resamples.
        source: a labelled source datamodule (``class_path``, ``init_args``)
            joined to every round's fit (STAL's domain-adaptive setting): the
            fits see source + chosen target items
            (:class:`~torchgeo_als4gan.datamodules.SourceTargetDataModule`);
            pool, scoring, validation and test stay on the target.
        source_ratio: source items per target item in a labelled batch.
        class_map: source class -> target class (null: ignored).
        target_labels: with a ``source``, also train on the chosen target
            items (False: the "source only" baseline, scored on the same
            target val / test).
        extra_tests: more test sets, name -> datamodule overrides (as in
            ``als4gan experiment``): every round's chosen checkpoint is also
            scored on them (``test_miou_<name>`` in ``results.csv``).
    """

    output: Path
    method: Path
    budgets: list[float]
    budget_unit: str = 'fraction'
    cost_model: str = 'constant'
    cost_file: Path | None = None
    calibrate: str | None = None
    scorer: str = 'pixel_entropy'
    mode: str = 'simulation'
    stratify_by: str | None = None
    regions: Path | None = None
    region_column: str | None = None
    min_distance_m: float = 0.0
    diversity: str = 'none'
    diversity_candidates: int = 4
    warm_start: bool = False
    seed: int = 0
    data_args: list[str] = field(default_factory=list)
    model_args: list[str] = field(default_factory=list)
    trainer_args: list[str] = field(default_factory=list)
    device: str = 'auto'
    score_devices: int = 1
    executor: str = 'inprocess'
    slurm: dict[str, Any] = field(default_factory=dict)
    score_batch_size: int = 16
    region_k: int = 1
    region_top: float = 0.1
    checkpoint_top_k: int = 3
    val_check_interval: int | None = None
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 0
    source: dict[str, Any] | None = None
    source_ratio: float = 1.0
    class_map: dict[str, str | None] | None = None
    target_labels: bool = True
    extra_tests: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the settings.

        Raises:
            ValueError: If a budget, scorer, mode or other option is invalid.
        """
        check_budget_amounts(self.budget_unit, self.budgets, 'budgets')
        check_seed('seed', self.seed)
        check_cost_model(self.cost_model, self.cost_file)
        if self.cost_file is not None and not Path(self.cost_file).is_file():
            msg = f'cost_file {os.fspath(self.cost_file)!r} does not exist'
            raise ValueError(msg)
        check_calibrate(self.calibrate)
        if self.scorer not in SCORERS:
            msg = f'scorer must be one of {list(SCORERS)}, got {self.scorer!r}'
            raise ValueError(msg)
        if self.mode not in MODES:
            msg = f'mode must be one of {list(MODES)}, got {self.mode!r}'
            raise ValueError(msg)
        if self.stratify_by is not None and self.stratify_by not in STRATIFY_BY:
            msg = f'stratify_by must be one of {STRATIFY_BY} or null, got {self.stratify_by!r}'
            raise ValueError(msg)
        check_min_distance(self.min_distance_m, self.stratify_by)
        check_diversity(
            self.diversity, self.min_distance_m, self.scorer != 'random',
            self.diversity_candidates,
        )  # fmt: skip
        for name in (
            'checkpoint_top_k', 'bootstrap_samples', 'score_batch_size', 'score_devices',
        ):  # fmt: skip
            check_positive(name, getattr(self, name))
        check_device(self.device, 'device')
        check_positive('val_check_interval', self.val_check_interval, optional=True)
        check_fraction('region_top', self.region_top, low_open=True)
        if not isinstance(self.region_k, int) or self.region_k < 0:
            msg = f'region_k must be an integer >= 0, got {self.region_k!r}'
            raise ValueError(msg)
        if not Path(self.method).is_file():
            msg = f'method: config {os.fspath(self.method)!r} does not exist'
            raise ValueError(msg)
        if self.executor not in ('inprocess', 'slurm'):
            msg = f"executor must be 'inprocess' or 'slurm', got {self.executor!r}"
            raise ValueError(msg)
        check_slurm_options(self.slurm, self.executor, arrays=False)
        # a multi-device (DDP) method's fits run as their own `als4gan fit`
        check_method_config('method', Path(self.method), processes=True)
        if self.source is not None and (
            not isinstance(self.source, dict) or 'class_path' not in self.source
        ):
            msg = (
                'source must be a datamodule with class_path and init_args, got'
                f' {self.source!r}'
            )
            raise ValueError(msg)
        if self.source_ratio < 0:
            msg = f'source_ratio must not be negative, got {self.source_ratio!r}'
            raise ValueError(msg)
        check_extra_tests(self.extra_tests)
        if not self.target_labels and self.source is None:
            msg = 'target_labels: false needs a source (nothing would be labelled)'
            raise ValueError(msg)

    @property
    def embedding(self) -> str | None:
        """What the pool scoring embeds: ``feature``, ``badge`` or None."""
        return self.diversity if self.diversity in ('feature', 'badge') else None

    @property
    def labels_folder(self) -> Path:
        """Where labelling mode expects the masks (``<output>/labels``)."""
        return self.output / 'labels'

    def retarget(self, args: Sequence[str]) -> list[str]:
        """Datamodule overrides aimed at the target inside the joined datamodule.

        Args:
            args: ``--data.init_args.*`` overrides of the method's datamodule.

        Returns:
            The same overrides, as ``--data.init_args.target.init_args.*``
            when a ``source`` is joined (idempotent). Overrides to ``null``
            are left out: jsonargparse reads a nested ``null`` as the string
            ``'None'``, so :meth:`fit_method` writes them into the joined
            config instead.
        """
        if self.source is None:
            return list(args)
        plain, joined = '--data.init_args.', '--data.init_args.target.init_args.'
        out = []
        for arg in args:
            if _null_override(arg) is not None:
                continue
            nested = arg.startswith(
                ('--data.init_args.target.', '--data.init_args.source.')
            )
            out.append(
                joined + arg[len(plain) :]
                if arg.startswith(plain) and not nested
                else arg
            )
        return out

    def fit_method(self) -> Path:
        """The config every round fits: the method, or it joined to the source.

        Returns:
            ``method``, or ``<output>/method_source_target.yaml`` (written
            here) whose datamodule is the method's as ``target`` (with the
            loop's ``null`` overrides, ``labeled_ratio`` among them: the
            rounds' selections replace it) and the ``source``.
        """
        if self.source is None:
            return Path(self.method)
        raw = read_yaml(Path(self.method), 'method')
        target = raw['data']
        nulls = {'labeled_ratio', *filter(None, map(_null_override, self.data_args))}
        target.setdefault('init_args', {}).update(dict.fromkeys(nulls))
        raw['data'] = {
            'class_path': 'torchgeo_als4gan.datamodules.SourceTargetDataModule',
            'init_args': {
                'target': target, 'source': self.source,
                'source_ratio': self.source_ratio, 'class_map': self.class_map,
                'target_labels': self.target_labels,
            },
        }  # fmt: skip
        path = self.output / 'method_source_target.yaml'
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:
            tmp.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path

    def policy(self) -> RunPolicy:
        """How every round is fitted and scored.

        The same policy as a cell of ``als4gan experiment`` (checkpoints,
        evaluation code, intervals), so a loop's rows compare with an
        experiment's.

        Returns:
            The loop's overrides (aimed at the target when a source is
            joined) and its checkpoint, evaluation and bootstrap settings.
        """
        return RunPolicy(
            data_args=tuple(self.retarget(self.data_args)),
            model_args=tuple(self.model_args),
            trainer_args=(*self.trainer_args, *CALIBRATE_ARGS.get(self.calibrate, ())),
            device=self.device, checkpoint_top_k=self.checkpoint_top_k,
            val_check_interval=self.val_check_interval,
            bootstrap_samples=self.bootstrap_samples, bootstrap_seed=self.bootstrap_seed,
            extra_tests={k: self.retarget(v) for k, v in self.extra_tests.items()},
        )  # fmt: skip

    def settings(self) -> dict[str, Any]:
        """What a resumed loop must share with the interrupted one.

        Returns:
            Every option but where things run, with the method config's content
            instead of its path.
        """
        values = asdict(self)
        for key in ('output', 'device', 'score_batch_size', 'score_devices',
                    'executor', 'slurm'):  # fmt: skip
            values.pop(key)
        values['method'] = read_yaml(Path(self.method), 'method')
        values['regions'] = None if self.regions is None else os.fspath(self.regions)
        values['cost_file'] = (
            None if self.cost_file is None else os.fspath(self.cost_file)
        )
        for key, default in (('budget_unit', 'fraction'), ('cost_model', 'constant'),
                             ('cost_file', None), ('calibrate', None),
                             ('diversity', 'none'), ('diversity_candidates', 4),
                             ('extra_tests', {})):  # fmt: skip
            if values[key] == default:  # as loops from before these options saved
                values.pop(key)
        return values


def _null_override(arg: str) -> str | None:
    """The key of a ``--data.init_args.<key>=null`` override, else None."""
    prefix = '--data.init_args.'
    if not arg.startswith(prefix) or '=' not in arg:
        return None
    key, value = arg[len(prefix) :].split('=', 1)
    return key if value.strip().lower() in ('null', 'none') and '.' not in key else None


def load_loop(
    path: str | os.PathLike[str],
    extra: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
) -> LoopConfig:
    """Read an ``als4gan loop`` YAML file.

    Args:
        path: the YAML file (paths inside are relative to the current folder).
        extra: additional ``data_args``.
        overrides: keys that replace the file's (``--seed`` on the command line).

    Returns:
        The checked configuration.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it has unknown keys or invalid values.
    """
    file = Path(path)
    raw = read_config_file(file, LoopConfig)
    raw.update(overrides or {})
    for key in ('method', 'budgets'):
        if key not in raw:
            msg = f'{os.fspath(file)}: {key!r} is required'
            raise ValueError(msg)
    raw['method'] = Path(raw['method'])
    for key in ('regions', 'cost_file'):
        if raw.get(key) is not None:
            raw[key] = Path(raw[key])
    return build_config(file, LoopConfig, raw, extra, 'output/loop')
