"""The ``als4gan`` command: TorchGeo's LightningCLI plus this package's commands."""

import importlib
import os
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from lightning.pytorch.cli import ArgsType
from rasterio.errors import RasterioError
from torchgeo.datasets import DatasetNotFoundError

# Imported so that short class_path names of this package resolve in configs.
import torchgeo_als4gan.datamodules
import torchgeo_als4gan.inference
import torchgeo_als4gan.models
import torchgeo_als4gan.trainers  # noqa: F401

from .command_line import lightning_args
from .lightning_cli import run_lightning_cli
from .runtime import quiet_known_warnings, show_package_logs

__all__ = (
    'COMMANDS',
    'INPUT_ERRORS',
    'Command',
    'main',
    'run_lightning_cli',
    'top_level_help',
)


@dataclass(frozen=True)
class Command:
    """One subcommand: where it lives and the line ``als4gan --help`` shows."""

    #: Heading it is listed under.
    group: str
    #: What it does, in one line.
    summary: str
    #: ``module:function`` taking the arguments after the command name, or
    #: None for TorchGeo's LightningCLI subcommands.
    target: str | None = None


#: Every subcommand, in the order ``als4gan --help`` lists them.
COMMANDS: dict[str, Command] = {
    'fit': Command(
        'train', 'train a model from a YAML config (LightningCLI, as TorchGeo)'
    ),
    'validate': Command('train', 'score a checkpoint on the validation split'),
    'test': Command('train', 'score a checkpoint on the test split'),
    'predict': Command('train', "run a datamodule's predict stage"),
    'pretrain': Command(
        'train',
        'self-supervised encoder on the unlabelled pool',
        'torchgeo_als4gan.pretrain.cli:main',
    ),
    'query': Command(
        'choose labels',
        "ALS4GAN's classifier picks the items worth labelling",
        'torchgeo_als4gan.active.query.cli:main',
    ),
    'loop': Command(
        'choose labels',
        "STAL's rounds: train, score the pool, label, repeat",
        'torchgeo_als4gan.active.loop.cli:main',
    ),
    'labels': Command(
        'choose labels',
        'polygons drawn in queried patches -> mask GeoTIFFs',
        'torchgeo_als4gan.inference.cli:labels_main',
    ),
    'evaluate': Command(
        'results',
        'score a folder of checkpoints on val and test',
        'torchgeo_als4gan.evaluation.cli:main',
    ),
    'experiment': Command(
        'results',
        'label-efficiency grid: ratios x selections x methods x seeds',
        'torchgeo_als4gan.experiments.cli:main',
    ),
    'predict-raster': Command(
        'apply',
        'a checkpoint on whole GeoTIFFs -> class, probability rasters',
        'torchgeo_als4gan.inference.cli:predict_raster_main',
    ),
    'demo': Command(
        'try it',
        'the whole pipeline on a generated scene (minutes, CPU)',
        'torchgeo_als4gan.demo:main',
    ),
    'demo-context': Command(
        'try it',
        'a teacher that reads location and date, on generated regions',
        'torchgeo_als4gan.demo.context_demo:main',
    ),
}


#: Errors that mean the input is wrong, not the code: an argument out of range, a
#: file that is missing, unreadable or already there, a dataset root without the
#: dataset. Every command's checks raise these with a message naming the argument
#: or file; :func:`main` prints that message instead of a traceback.
INPUT_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    OSError,
    DatasetNotFoundError,
    RasterioError,
)

#: Set to 1 to see the traceback of an input error as well.
TRACEBACK_VARIABLE = 'ALS4GAN_TRACEBACK'


def versions() -> str:
    """This package's version and those of the libraries it runs on.

    Returns:
        One line per package.
    """
    lines = []
    for name in ('torchgeo-als4gan', 'torchgeo', 'torch', 'lightning'):
        try:
            lines.append(f'{name} {version(name)}')
        except PackageNotFoundError:
            lines.append(f'{name} (not installed)')
    return '\n'.join(lines)


def top_level_help() -> str:
    """What ``als4gan --help`` prints: every command, grouped, one line each.

    Returns:
        The help text.
    """
    lines = [
        'usage: als4gan <command> [options]   (als4gan <command> --help for its options)',
        '',
        'Semantic segmentation of satellite and aerial imagery with few labels:',
        'choose what to label, train on the labelled and the unlabelled imagery,',
        'apply the model to georeferenced rasters.',
    ]
    groups: dict[str, list[str]] = {}
    for name, command in COMMANDS.items():
        groups.setdefault(command.group, []).append(f'  {name:<16}{command.summary}')
    for group, rows in groups.items():
        lines += ['', f'{group}:', *rows]
    lines += [
        '',
        'options:',
        '  -h, --help      show this list and exit',
        '  --version       print the versions of this package, TorchGeo, torch, Lightning',
        '',
        'example: als4gan demo --output demo_output',
    ]
    return '\n'.join(lines)


def main(args: ArgsType = None) -> None:
    """Run ``als4gan``: one of :data:`COMMANDS`, or the top-level help.

    ``fit``/``validate``/``test``/``predict`` (and a leading ``--config``) go to
    TorchGeo's LightningCLI, as ``torchgeo`` does; the other commands go to
    their module. An input error (:data:`INPUT_ERRORS`) of any command ends in
    one line that names the command and what was wrong, not a traceback
    (``ALS4GAN_TRACEBACK=1`` shows the traceback).

    Args:
        args: command-line arguments (default: ``sys.argv[1:]``).

    Raises:
        SystemExit: On an input error, with its message.
    """
    argv = list(sys.argv[1:] if args is None else args)
    if not argv or argv[0] in ('-h', '--help'):
        print(top_level_help())
        return
    if argv[0] == '--version':
        print(versions())
        return
    quiet_known_warnings()
    show_package_logs()
    command = COMMANDS.get(argv[0])
    if command is None and not argv[0].startswith('-'):
        print(
            f'als4gan: unknown command {argv[0]!r}; choose one of'
            f' {", ".join(COMMANDS)} (als4gan --help lists them)',
            file=sys.stderr,
        )
        raise SystemExit(2)
    prefix = f'als4gan {argv[0]}' if command is not None else 'als4gan'
    try:
        if command is not None and command.target is not None:
            module, function = command.target.split(':')
            getattr(importlib.import_module(module), function)(argv[1:])
        else:
            run_lightning_cli(lightning_args(argv))
    except INPUT_ERRORS as error:
        if os.environ.get(TRACEBACK_VARIABLE) == '1':
            raise
        msg = (
            f'{prefix}: error: {error}\n'
            f'({TRACEBACK_VARIABLE}=1 shows where it was raised)'
        )
        raise SystemExit(msg) from error


if __name__ == '__main__':
    main()
