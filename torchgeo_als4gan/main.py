"""The ``als4gan`` command: TorchGeo's LightningCLI plus this package's commands."""

import sys
from collections.abc import Callable

from lightning.pytorch.cli import ArgsType

# Imported so that short class_path names of this package resolve in configs.
import torchgeo_als4gan.datamodules
import torchgeo_als4gan.inference
import torchgeo_als4gan.models
import torchgeo_als4gan.trainers  # noqa: F401

from .lightning_cli import run_lightning_cli
from .runtime import quiet_known_warnings, show_package_logs

__all__ = ('main', 'run_lightning_cli')

#: Subcommands of our own (query, evaluate, predict-raster, ...), name -> handler.
COMMANDS: dict[str, Callable[[list[str]], None]] = {}


def _run_demo(args: list[str]) -> None:
    from .demo import main as demo_main

    demo_main(args)


def _run_demo_context(args: list[str]) -> None:
    from .demo.context_demo import main as context_main

    context_main(args)


def _run_query(args: list[str]) -> None:
    from .active.query.cli import main as query_main

    query_main(args)


def _run_evaluate(args: list[str]) -> None:
    from .evaluation.cli import main as evaluate_main

    evaluate_main(args)


def _run_predict_raster(args: list[str]) -> None:
    from .inference.cli import predict_raster_main

    predict_raster_main(args)


def _run_labels(args: list[str]) -> None:
    from .inference.cli import labels_main

    labels_main(args)


def _run_loop(args: list[str]) -> None:
    from .active.loop.cli import main as loop_main

    loop_main(args)


def _run_pretrain(args: list[str]) -> None:
    from .pretrain.cli import main as pretrain_main

    pretrain_main(args)


def _run_experiment(args: list[str]) -> None:
    from .experiments.cli import main as experiment_main

    experiment_main(args)


COMMANDS['demo'] = _run_demo
COMMANDS['demo-context'] = _run_demo_context
COMMANDS['evaluate'] = _run_evaluate
COMMANDS['experiment'] = _run_experiment
COMMANDS['labels'] = _run_labels
COMMANDS['loop'] = _run_loop
COMMANDS['predict-raster'] = _run_predict_raster
COMMANDS['pretrain'] = _run_pretrain
COMMANDS['query'] = _run_query


def main(args: ArgsType = None) -> None:
    """Run ``als4gan``: ``fit``/``validate``/``test``/``predict`` or our commands.

    Our commands: ``demo``, ``demo-context`` (scenes of several regions and
    seasons), ``query`` (active learning), ``evaluate`` (score a
    folder of checkpoints), ``predict-raster`` (apply a checkpoint to rasters)
    ``labels`` (drawn polygons in queried patches -> labelled patches),
    ``experiment`` (the label-efficiency grid) and ``loop`` (STAL's rounds).

    Args:
        args: command-line arguments (default: ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if args is None else args)
    quiet_known_warnings()
    show_package_logs()
    if argv and argv[0] in COMMANDS:
        COMMANDS[argv[0]](argv[1:])
        return
    run_lightning_cli(argv)
