"""The command line shared by the orchestration commands (experiment, loop)."""

import argparse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..checks import check_positive
from ..files import check_output_folder

__all__ = (
    'add_device_options',
    'device_overrides',
    'load_with_output',
    'orchestration_parser',
)


class _HasOutput(Protocol):
    output: Path


Config = TypeVar('Config', bound=_HasOutput)


def orchestration_parser(
    prog: str, description: str, config_help: str, example: str
) -> argparse.ArgumentParser:
    """A parser with ``--config``, ``--output`` and repeatable ``--data_arg``.

    Args:
        prog: the command, e.g. ``als4gan loop``.
        description: what it does.
        config_help: what the YAML is.
        example: a runnable command line, shown at the end of ``--help``.

    Returns:
        The parser; the command adds its own options.
    """
    parser = argparse.ArgumentParser(
        prog=prog, description=description, epilog=f'example: {example}'
    )
    parser.add_argument('--config', required=True, help=config_help)
    parser.add_argument('--output', help='override the output folder')
    parser.add_argument(
        '--data_arg', action='append', default=[],
        help='extra datamodule override for every step, e.g. --data_arg=--data.init_args.root=data/ucm',
    )  # fmt: skip
    return parser


def add_device_options(
    parser: argparse.ArgumentParser, devices_help: str | None = None
) -> None:
    """``--device`` and (with ``devices_help``) ``--devices``, as every command spells them.

    ``--device`` is where a single-process step runs (evaluation, scoring,
    prediction): ``auto`` (a GPU when there is one), ``cpu``, ``cuda``,
    ``cuda:1``. ``--devices N`` is how many processes the command's parallel
    step starts (Lightning DDP). Training takes LightningCLI's
    ``--trainer.accelerator`` / ``--trainer.devices`` or the method config's.

    Args:
        parser: the command's parser.
        devices_help: what ``--devices`` spreads over processes (None: the
            command has no such step).
    """
    parser.add_argument(
        '--device', help='where evaluation and scoring run: auto, cpu, cuda, cuda:1'
        " (default: the config's device:)",
    )  # fmt: skip
    if devices_help is not None:
        parser.add_argument('--devices', type=int, help=devices_help)


def device_overrides(
    cfg: argparse.Namespace, devices_key: str | None = None
) -> dict[str, Any]:
    """The config keys that ``--device`` / ``--devices`` set on the command line.

    Args:
        cfg: the parsed command line.
        devices_key: the config key ``--devices`` overrides.

    Returns:
        ``device`` and ``devices_key`` where given.

    Raises:
        ValueError: If ``--devices`` is not a positive integer.
    """
    overrides: dict[str, Any] = {}
    if cfg.device is not None:
        overrides['device'] = cfg.device
    if devices_key is not None and getattr(cfg, 'devices', None) is not None:
        overrides[devices_key] = check_positive('--devices', cfg.devices)
    return overrides


def load_with_output(
    parser: argparse.ArgumentParser,
    load: Callable[[str, Sequence[str], Mapping[str, Any]], Config],
    cfg: argparse.Namespace,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Read the config, apply ``--output`` and check the folder is writable.

    Args:
        parser: the command's parser (its ``error`` reports a bad config).
        load: reads the YAML with the extra ``data_args`` and the keys the
            command line overrides.
        cfg: the parsed command line.
        overrides: config keys set on the command line (``--seed``), checked
            as the YAML's are.

    Returns:
        The checked config.
    """
    try:
        config = load(cfg.config, cfg.data_arg, overrides or {})
        if cfg.output:
            config.output = check_output_folder(cfg.output, '--output')
        else:
            check_output_folder(config.output, 'output')
    except (OSError, ValueError) as error:
        parser.error(str(error))
    return config
