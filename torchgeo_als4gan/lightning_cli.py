"""TorchGeo's LightningCLI with this package's checks (``fit``/``validate``/...)."""

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import torch
from jsonargparse import ActionConfigFile  # type: ignore[attr-defined]
from lightning.pytorch import Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from torchgeo.datamodules import BaseDataModule
from torchgeo.trainers import BaseTask

from . import __version__
from .checks import (
    NonFiniteLossGuard,
    check_accelerator,
    compare_resume_settings,
    read_checkpoint,
)

__all__ = (
    'CheckedLightningCLI',
    'check_checkpoint_fits',
    'config_command_parser',
    'run_lightning_cli',
)

#: Model settings that may differ when resuming: where the weights started.
RESUME_MAY_DIFFER = ('weights', 'freeze_backbone', 'freeze_decoder')


def config_command_parser(
    prog: str,
    description: str,
    example: str,
    model_class: type[Any] = BaseTask,
    trainer: bool = True,
) -> LightningArgumentParser:
    """The parser of a command that reads a fit-style config (model, data, trainer).

    ``--config FILE`` and dotted overrides work as in ``als4gan fit``.

    Args:
        prog: the command, e.g. ``als4gan query``.
        description: what it does.
        example: a runnable command line, shown at the end of ``--help``.
        model_class: the base class of ``model`` (subclasses by ``class_path``).
        trainer: whether the command reads a ``trainer`` section.

    Returns:
        The parser; the command adds its own options.
    """
    parser = LightningArgumentParser(
        prog=prog, description=description, epilog=f'example: {example}'
    )
    parser.add_argument('--config', action=ActionConfigFile)
    parser.add_lightning_class_args(model_class, 'model', subclass_mode=True)
    parser.add_lightning_class_args(BaseDataModule, 'data', subclass_mode=True)
    if trainer:
        parser.add_lightning_class_args(Trainer, 'trainer')
    return parser


def check_checkpoint_fits(
    checkpoint: dict[str, Any], model: torch.nn.Module, source: str, resume: bool
) -> None:
    """Refuse a checkpoint that is not one of this model (or, to resume, its settings).

    Args:
        checkpoint: the loaded Lightning checkpoint.
        model: the task built from the command's config.
        source: the checkpoint option and file, for the message.
        resume: training resumes from it (``fit``): settings must match too.

    Raises:
        ValueError: If its weights do not fit the model (missing/unexpected
            tensors, other shapes), or when resuming, its hyper-parameters
            differ from the config's.
    """
    saved = checkpoint.get('hyper_parameters')
    current = dict(getattr(model, 'hparams', {}))
    if resume and isinstance(saved, dict):
        compare_resume_settings(saved, current, source, RESUME_MAY_DIFFER)
    state = checkpoint['state_dict']
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        k
        for k in own
        if k in state
        and hasattr(state[k], 'shape')
        and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        model_name = saved.get('model', '?') if isinstance(saved, dict) else '?'
        parts = []
        if missing:
            parts.append(f'{len(missing)} missing (e.g. {missing[0]})')
        if unexpected:
            parts.append(f'{len(unexpected)} unexpected (e.g. {unexpected[0]})')
        if shapes:
            k = shapes[0]
            parts.append(
                f'{len(shapes)} of another shape (e.g. {k}: checkpoint'
                f' {tuple(state[k].shape)}, model {tuple(own[k].shape)})'
            )
        msg = (
            f'{source} is not a checkpoint of this {type(model).__name__}: its'
            f' weights (model {model_name!r}) do not fit, tensors '
            + ', '.join(parts)
            + '; give the config it was trained with'
        )
        raise ValueError(msg)


class CheckedLightningCLI(LightningCLI):
    """LightningCLI that checks devices and checkpoints before any work.

    - ``trainer.accelerator`` / ``devices`` the machine lacks: refused before
      the data or model are built (:func:`~torchgeo_als4gan.checks.check_accelerator`).
    - ``--ckpt_path``: read through one loader that says what a bad file is;
      ``fit`` refuses to resume with settings other than the checkpoint's
      (:meth:`_parse_ckpt_path`) and every command refuses weights that do
      not fit the model (:func:`check_checkpoint_fits`).
    - every trainer stops at a NaN loss (:class:`~torchgeo_als4gan.checks.NonFiniteLossGuard`).
    """

    def _parse_ckpt_path(self) -> None:
        """Read ``--ckpt_path`` through one loader; ``fit`` compares settings first.

        Lightning replaces the config's model settings by the checkpoint's here,
        so a resumed ``fit`` whose command asks for another backbone or ``lr``
        would silently run with the checkpoint's: it is refused instead, listing
        each difference.
        """
        subcommand = self.config.get('subcommand')
        if subcommand:
            config = self.config[subcommand]
            trainer = config.get('trainer') or {}
            check_accelerator(trainer.get('accelerator'), trainer.get('devices'))
            path = config.get('ckpt_path')
            if path and str(path) not in ('last', 'best', 'hpc', 'registry'):
                checkpoint = read_checkpoint(path, '--ckpt_path')
                self._checkpoint = checkpoint
                model = config.get('model')
                init = model.get('init_args') if model is not None else None
                saved = checkpoint.get('hyper_parameters')
                if subcommand == 'fit' and init is not None and isinstance(saved, dict):
                    current = init.as_dict() if hasattr(init, 'as_dict') else dict(init)
                    compare_resume_settings(
                        saved, current, f'--ckpt_path {path!r}', RESUME_MAY_DIFFER
                    )
        super()._parse_ckpt_path()

    def _check_checkpoint(self, resume: bool) -> None:
        checkpoint = getattr(self, '_checkpoint', None)
        if checkpoint is not None:
            config = self.config.get(str(self.subcommand), self.config)
            check_checkpoint_fits(
                checkpoint, self.model, f'--ckpt_path {config["ckpt_path"]!r}', resume
            )

    def before_fit(self) -> None:
        """Refuse a checkpoint of another model (settings were compared on parsing)."""
        self._check_checkpoint(resume=False)

    def before_validate(self) -> None:
        """Refuse a checkpoint of another model."""
        self._check_checkpoint(resume=False)

    def before_test(self) -> None:
        """Refuse a checkpoint of another model."""
        self._check_checkpoint(resume=False)

    def before_predict(self) -> None:
        """Refuse a checkpoint of another model."""
        self._check_checkpoint(resume=False)


@contextlib.contextmanager
def _command_line(argv: list[str]) -> Iterator[None]:
    """Make ``sys.argv`` the command being run (restored afterwards).

    Commands run in process (the experiment runner, the demo) would otherwise
    hand LightningCLI both ``args`` and the outer command's ``sys.argv``, which
    it warns about; a DDP launcher that re-runs ``sys.argv`` also needs the
    inner command.
    """
    saved = sys.argv
    sys.argv = [saved[0] if saved else 'als4gan', *argv]
    try:
        yield
    finally:
        sys.argv = saved


def run_lightning_cli(argv: list[str]) -> LightningCLI:
    """Run a ``fit``/``validate``/``test``/``predict`` command in process.

    Args:
        argv: the command line after ``als4gan``.

    Returns:
        The finished CLI (its ``model``, ``datamodule`` and ``trainer``).
    """
    # Same reading settings and defaults as the ``torchgeo`` command.
    os.environ.setdefault('GDAL_DISABLE_READDIR_ON_OPEN', 'EMPTY_DIR')
    with _command_line(argv):
        return CheckedLightningCLI(
            model_class=BaseTask,
            datamodule_class=BaseDataModule,
            seed_everything_default=0,
            parser_kwargs={'version': f'torchgeo-als4gan {__version__}'},
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_kwargs={'overwrite': True},
            trainer_defaults={'callbacks': [NonFiniteLossGuard()]},
            args=None,  # read from sys.argv, which _command_line set
        )
