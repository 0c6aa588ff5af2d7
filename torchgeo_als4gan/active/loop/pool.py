"""What every step of the loop builds from its config: the pool and the models."""

import os
from dataclasses import dataclass
from typing import Any

from lightning import LightningModule

from ...datamodules.metadata import datamodule_classes
from ...datamodules.pool import QueryPool
from ...models.weights import read_state_dict
from .config import LoopConfig

__all__ = (
    'LoopPool',
    'added_labels',
    'build_pool',
    'check_bands',
    'instantiate',
    'trained_model',
)


@dataclass
class LoopPool:
    """The items the loop chooses from."""

    #: The pool (ids, items, normalization, footprints of georeferenced pools).
    pool: QueryPool
    #: Pool ids with a mask on disk (labelling mode: the others must be drawn).
    labelled: set[str]
    #: Class names of the segmentation data.
    classes: list[str]


def instantiate(config: LoopConfig, data: list[str]) -> Any:
    """The method config's model and datamodule, with the loop's overrides.

    Args:
        config: the loop.
        data: more ``--data.init_args.*`` overrides (the round's selection).

    Returns:
        jsonargparse's namespace with ``model`` and ``data``.
    """
    from ...evaluation.cli import build_parser

    parser = build_parser()
    cfg = parser.parse_args([
        '--config', os.fspath(config.method), *config.data_args, *data,
        *config.model_args, f'--checkpoints={config.output}',
    ])  # fmt: skip
    return parser.instantiate_classes(cfg)


def added_labels(config: LoopConfig) -> list[str]:
    """The datamodule override reading the drawn masks (labelling mode).

    Args:
        config: the loop.

    Returns:
        ``--data.init_args.added_label_paths=<output>/labels`` once it holds a
        mask, else nothing.
    """
    folder = config.labels_folder
    if config.mode != 'labelling' or not any(folder.glob('*.tif')):
        return []
    return [f'--data.init_args.added_label_paths={folder}']


def build_pool(config: LoopConfig) -> LoopPool:
    """The pool of the loop's mode, from the method config's datamodule.

    Args:
        config: the loop.

    Returns:
        The pool, its ids with masks, and the class names.

    Raises:
        TypeError: If the datamodule cannot give the pool of the mode.
    """
    module = instantiate(
        config, ['--data.init_args.labeled_ratio=null', *added_labels(config)]
    ).data
    pool: QueryPool
    if config.mode == 'labelling':
        if not hasattr(module, 'labelling_pool'):
            msg = (
                'mode: labelling needs a datamodule whose patches `als4gan'
                ' labels` can label (GeoSegmentationDataModule: georeferenced'
                f' rasters); {type(module).__name__} cannot; use mode: simulation'
            )
            raise TypeError(msg)
        pool, labelled = module.labelling_pool()
    else:
        if not hasattr(module, 'query_pool'):
            msg = f'data class {type(module).__name__} cannot provide a pool'
            raise TypeError(msg)
        pool = module.query_pool()
        labelled = set(pool.ids)
    names = datamodule_classes(module) or getattr(pool.dataset, 'classes', None)
    return LoopPool(pool, labelled, [str(c) for c in names or ()])


def trained_model(
    config: LoopConfig, data: list[str], checkpoint: str | os.PathLike[str]
) -> LightningModule:
    """The method's task with a round's chosen weights.

    Args:
        config: the loop.
        data: the round's datamodule overrides.
        checkpoint: the chosen checkpoint.

    Returns:
        The task, weights loaded strictly.
    """
    model: LightningModule = instantiate(config, data).model
    model.load_state_dict(read_state_dict(checkpoint), strict=True)
    return model


def check_bands(pool: QueryPool, model: LightningModule) -> None:
    """Refuse a scorer whose network takes other bands than the pool's items.

    Args:
        pool: the loop's pool.
        model: the round's trained task.

    Raises:
        ValueError: If the task's ``in_channels`` is not the items' band count.
    """
    expected = model.hparams.get('in_channels')
    bands = int(pool.dataset[0]['image'].shape[0])
    if expected is not None and int(expected) != bands:
        msg = f'the scorer checkpoint takes {expected} band(s) but the pool items have {bands}'
        raise ValueError(msg)
