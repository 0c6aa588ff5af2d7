"""``als4gan query``: choose the items to label with the ALS4GAN pool loop."""

import contextlib
import copy
import json
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning import Callback, Trainer, seed_everything
from lightning.pytorch.cli import LightningArgumentParser
from lightning.pytorch.utilities import rank_zero_only

from ...checks import NonFiniteLossGuard, check_accelerator, check_positive, check_seed
from ...command_line import parse_command
from ...datamodules.groups import pool_groups
from ...datamodules.pool import PoolDataModule, QueryPool
from ...files import check_output_folder
from ...lightning_cli import config_command_parser
from ...trainers import ActiveLearnerTask
from ..budget import PricedBudget, QueryBudget, check_fraction
from ..choose import check_spacing
from ..costs import item_measures, selection_prices
from ..registry import get_strategy
from ..spend import spent
from .budgets import check_query_budget, describe_budget, spent_text
from .calibration import check_calibrate, check_calibration_pool
from .learner import LightningPoolLearner
from .outputs import OUTPUT_NAMES, write_selection
from .rounds import PoolLoop

__all__ = ('build_parser', 'main', 'run_query', 'run_settings')


#: Marks an option without a default.
REQUIRED = object()

#: The query options: name, type, default, help.
# fmt: off
QUERY_OPTIONS: tuple[tuple[str, Any, Any, str], ...] = (
    ('strategy', str, 'margin', 'random, entropy, margin, least_confidence, bald or diversity'),
    ('labeled_ratio', float | None, None, 'fraction of the pool to label, in (0, 1] (or budget)'),
    ('budget', float | None, None, 'what may be labelled, in budget_unit (instead of labeled_ratio)'),
    ('budget_unit', str, 'fraction', 'fraction, items, pixels (valid), area_km2 or cost'),
    ('cost_model', str, 'constant', 'cost budgets: constant (1 a patch), area (km²) or file'),
    ('cost_file', str | None, None, 'cost_model file: a CSV of id,cost'),
    ('alpha', float, 0.1, 'seed pool as a fraction of the target (or budget), in (0, 1]'),
    ('beta', float, 0.5, 'items (or spend) per round as a fraction of the seed pool, in (0, 1]'),
    ('seed', int, 0, 'seed of every random draw'),
    ('output', str, REQUIRED, 'output folder'),
    ('seed_in_selection', bool, True, 'the seed pool is part of the selection (ALS4GAN: false)'),
    ('uncertainty', str | None, None, 'diversity only: pre-filter candidates by this strategy'),
    ('candidates_factor', int, 10, 'with uncertainty: keep factor x round size candidates'),
    ('stratify_by', str | None, None, 'quotas per group: scene, source, file or region'),
    ('regions', str | None, None, 'stratify_by region: vector file of the regions'),
    ('region_column', str | None, None, 'stratify_by region: its column naming the region'),
    ('min_distance_m', float, 0.0, 'spaced rounds (georeferenced pools): metres between picked patch centres (0: off)'),
    ('label_key', str, 'label', 'label (multi-class) or label_multi (multi-label)'),
    ('calibrate', str | None, None, 'temperature: scale the classifier on the val items before each scoring round'),
    ('batch_size', int, 16, 'classifier training batch size'),
    ('predict_batch_size', int | None, None, 'scoring batch size (default batch_size)'),
    ('num_workers', int, 0, 'data loading workers'),
    ('figures', bool, True, 'draw selection.png (and selection_map.png)'),
    ('overwrite', bool, False, 'replace a previous selection in the output folder'),
    ('resume', bool, False, 'continue an interrupted run in the output folder'),
)
# fmt: on


def _global_rank() -> int:
    """Rank of this process (0 unless launched by a multi-process strategy)."""
    return int(getattr(rank_zero_only, 'rank', 0))


def build_parser() -> LightningArgumentParser:
    """The ``als4gan query`` argument parser (a config file with model/data/trainer).

    Returns:
        The parser.
    """
    parser = config_command_parser(
        'als4gan query',
        'Choose the items to label: train an image classifier on a random seed'
        ' pool, then add the most uncertain items in rounds (ALS4GAN).',
        'als4gan query --config configs/ucm_query.yaml --output out/query',
        ActiveLearnerTask,
    )
    group = parser.add_argument_group('query')
    for name, kind, default, text in QUERY_OPTIONS:
        required = default is REQUIRED
        group.add_argument(
            f'--{name}', type=kind, required=required,
            default=None if required else default, help=text,
        )  # fmt: skip
    return parser


def _check_output(folder: Path, overwrite: bool, resume: bool) -> bool:
    """Refuse to clobber a previous selection unless asked to; nothing is deleted.

    Returns:
        Whether the folder holds a previous selection to replace.
    """
    check_output_folder(folder)
    previous = [n for n in OUTPUT_NAMES if (folder / n).exists()]
    if (folder / 'state' / 'state.json').exists():
        previous.append('state/state.json')
    if not previous or resume:
        return False
    if not overwrite:
        msg = (
            f'Output folder {str(folder)!r} already holds a selection'
            f' ({", ".join(previous)}); pass --overwrite true to replace it or'
            ' --resume true to continue it'
        )
        raise FileExistsError(msg)
    return True


#: Trainer options that do not change what a query selects.
_RUNTIME_TRAINER_KEYS = {
    'accelerator', 'strategy', 'devices', 'num_nodes', 'callbacks', 'logger',
    'default_root_dir', 'enable_progress_bar', 'enable_model_summary',
    'log_every_n_steps', 'enable_checkpointing',
}  # fmt: skip


def _plain(value: Any) -> Any:
    """A JSON-comparable copy of a parsed config value."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def run_settings(cfg: Namespace) -> dict[str, Any]:
    """The model, data and trainer settings a resumed query must share.

    Args:
        cfg: parsed arguments.

    Returns:
        ``model``, ``data`` and ``trainer`` (without run-time options such as
        devices) and the query options that change the result.
    """
    trainer = {
        k: v for k, v in cfg.trainer.as_dict().items() if k not in _RUNTIME_TRAINER_KEYS
    }
    return {
        'model': _plain(cfg.model.as_dict()),
        'data': _plain(cfg.data.as_dict()),
        'trainer': _plain(trainer),
        'label_key': cfg.label_key,
        'batch_size': cfg.batch_size,
        'candidates_factor': cfg.candidates_factor,
        **({'calibrate': cfg.calibrate} if cfg.calibrate is not None else {}),
    }


@contextlib.contextmanager
def _replacing(folder: Path, replace: bool) -> Iterator[None]:
    """Set a previous run's state aside; restore it if the new run fails.

    The previous ``selection.*`` files stay in place until the new run writes
    its own (each renamed over the old one); files the new run does not write
    are removed only once it has finished.
    """
    state, aside = folder / 'state', folder / '.state.previous'
    moved = replace and state.exists()
    if moved:
        shutil.rmtree(aside, ignore_errors=True)
        state.rename(aside)
    try:
        yield
    except BaseException:
        if moved:
            shutil.rmtree(state, ignore_errors=True)
            aside.rename(state)
        raise
    if moved:
        shutil.rmtree(aside, ignore_errors=True)


def _check_classes(model: ActiveLearnerTask, pool: QueryPool, label_key: str) -> None:
    classes = pool.multi_classes if label_key == 'label_multi' else pool.label_classes
    if classes is None:
        msg = f'label_key {label_key!r}: the pool items have no such labels'
        raise ValueError(msg)
    key = 'num_labels' if model.multilabel else 'num_classes'
    expected = model.hparams[key]
    if model.hparams['task'] != 'binary' and expected != len(classes):
        msg = (
            f'model {key}={expected} but the pool has {len(classes)} {label_key!r}'
            f' classes: {list(classes)}'
        )
        raise ValueError(msg)


def run_query(cfg: Namespace, parser: LightningArgumentParser) -> dict[str, Path]:
    """Run the pool loop of a parsed config and write the selection.

    Args:
        cfg: parsed arguments.
        parser: the parser that parsed them (it instantiates the classes).

    Returns:
        The written files by name.
    """
    # Every argument is checked before anything is read or trained.
    strategy = get_strategy(cfg.strategy)
    uncertainty = None
    if cfg.uncertainty is not None:
        uncertainty = get_strategy(cfg.uncertainty, 'uncertainty')
    ratio = check_query_budget(cfg)
    check_seed('seed', cfg.seed)
    check_fraction('alpha', cfg.alpha)
    check_fraction('beta', cfg.beta)
    if cfg.label_key not in ('label', 'label_multi'):
        msg = f"label_key must be 'label' or 'label_multi', got {cfg.label_key!r}"
        raise ValueError(msg)
    for name in ('batch_size', 'candidates_factor'):
        check_positive(name, getattr(cfg, name))
    check_positive('predict_batch_size', cfg.predict_batch_size, optional=True)
    if cfg.num_workers < 0:
        msg = f'num_workers must not be negative, got {cfg.num_workers}'
        raise ValueError(msg)
    check_accelerator(cfg.trainer.accelerator, cfg.trainer.devices)
    check_spacing(cfg.min_distance_m, strategy, cfg.stratify_by)
    check_calibrate(cfg.calibrate)
    output = Path(cfg.output)
    replace = _check_output(output, cfg.overwrite, cfg.resume)

    seed_everything(cfg.seed, workers=True, verbose=False)
    init = parser.instantiate_classes(cfg)
    model: ActiveLearnerTask = init.model
    data = init.data
    if not hasattr(data, 'query_pool'):
        msg = f'data class {type(data).__name__} cannot provide a query pool'
        raise TypeError(msg)
    pool: QueryPool = data.query_pool()
    _check_classes(model, pool, cfg.label_key)
    if model.needs_metadata and 'metadata' not in pool.dataset[0]:
        msg = (
            f'{type(model).__name__} reads metadata, but the pool of'
            f" {type(data).__name__} has none: set the data's context: true"
        )
        raise ValueError(msg)
    held_out = None
    if cfg.calibrate is not None:  # before any training
        held_out = data.query_pool(split='val')
        check_calibration_pool(held_out, cfg.label_key)
    groups = pool_groups(pool, cfg.stratify_by, cfg.regions, cfg.region_column)
    centres = pool.centres_m() if cfg.min_distance_m > 0 else None
    prices = item_measures(
        pool.ids, pool.footprints, [cfg.budget_unit], cfg.cost_model, cfg.cost_file
    )
    budget: QueryBudget | PricedBudget
    if ratio is not None:
        budget = QueryBudget(
            len(pool), ratio, cfg.alpha, cfg.beta, cfg.seed_in_selection
        )
    else:
        budget = PricedBudget(
            cfg.budget, cfg.budget_unit, prices[cfg.budget_unit], cfg.alpha, cfg.beta
        )
    if strategy.mc and float(model.hparams['dropout']) == 0:
        msg = 'strategy bald needs model dropout > 0'
        raise ValueError(msg)
    trainer_kwargs: dict[str, Any] = dict(vars(init.trainer))
    user_callbacks = list(trainer_kwargs.pop('callbacks', None) or [])
    trainer_kwargs['enable_checkpointing'] = False
    state_dir = output / 'state'

    def make_trainer(name: str, callbacks: list[Callback]) -> Trainer:
        kwargs = dict(trainer_kwargs, default_root_dir=str(output / 'logs' / name))
        return Trainer(
            **kwargs, callbacks=[*user_callbacks, *callbacks, NonFiniteLossGuard()]
        )

    def make_datamodule(
        round_: int, labeled: Sequence[int], predict: Sequence[int]
    ) -> PoolDataModule:
        # a semi-supervised classifier also learns from the unselected items
        unlabeled = range(len(pool)) if labeled and model.semi_supervised else ()
        return PoolDataModule(
            pool, labeled, predict, cfg.label_key, cfg.batch_size,
            cfg.predict_batch_size, cfg.num_workers, cfg.seed + round_,
            unlabeled=unlabeled,
        )  # fmt: skip

    template = copy.deepcopy(model)
    learner = LightningPoolLearner(
        pool, lambda: copy.deepcopy(template), make_trainer, make_datamodule,
        strategy, state_dir, uncertainty, cfg.seed, held_out, cfg.label_key,
        cfg.predict_batch_size or cfg.batch_size,
    )  # fmt: skip
    loop = PoolLoop(
        learner, pool.ids, budget, strategy, state_dir, cfg.seed, uncertainty,
        cfg.candidates_factor, lambda: _global_rank() == 0, run_settings(cfg),
        groups, centres, cfg.min_distance_m,
    )  # fmt: skip
    if cfg.resume:
        loop.load_state()  # refuses other settings before any training
    print(f'[als4gan query] {strategy.name}: {describe_budget(budget, len(pool))}')
    with _replacing(output, replace and _global_rank() == 0):
        state = loop.run(resume=cfg.resume)
        if _global_rank() != 0:
            return {}
        rows = loop.selection(state)
        written = write_selection(
            output, pool, rows, strategy.name, cfg.seed, cfg.figures,
            selection_prices(prices),
        )  # fmt: skip
        print(
            f'[als4gan query] spent {spent_text(spent([r[0] for r in rows], prices))}'
        )
    if replace:
        for name in OUTPUT_NAMES:
            if name not in written:
                (output / name).unlink(missing_ok=True)
    for path in written.values():
        print(f'[als4gan query] wrote {path}')
    return written


def main(args: list[str] | None = None) -> None:
    """Entry point of ``als4gan query``.

    Args:
        args: command-line arguments after ``query``.
    """
    parser = build_parser()
    cfg = parse_command(parser, args, 'query')
    run_query(cfg, parser)
