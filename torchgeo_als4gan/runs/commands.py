"""The command line shared by the orchestration commands (experiment, loop)."""

import argparse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..files import check_output_folder

__all__ = ('load_with_output', 'orchestration_parser')


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
