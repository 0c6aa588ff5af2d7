"""Throughput options every task honours: channels-last layout and torch.compile.

Precision is Lightning's own ``trainer.precision`` (``bf16-mixed``,
``16-mixed``); the tasks keep what must stay in fp32 there (softmax before
pseudo-labels and thresholds, the EMA update on fp32 weights, the
discriminator's BCE on logits). This callback adds the two options Lightning
does not have, for any LightningModule, TorchGeo's own tasks included::

    trainer:
      precision: bf16-mixed
      callbacks:
      - class_path: torchgeo_als4gan.trainers.speed.TrainingSpeed
        init_args: {channels_last: true, compile_network: true}

Both leave the checkpoint's keys and values as they are (``nn.Module.compile``
compiles in place; memory format is not part of a state dict), so a checkpoint
written under one option loads under any other and in ``predict-raster``.
"""

import importlib.util
import os
import shutil
from collections.abc import Sequence
from typing import Any

import torch
from lightning import Callback, LightningModule, Trainer
from torch import Tensor, nn

__all__ = ('COMPILED_MODULES', 'TrainingSpeed', 'check_compile_backend')

#: Attributes of a task that hold networks run every step, compiled when present.
COMPILED_MODULES = ('model', 'teacher', 'student_ema', 'discriminator')


def check_compile_backend(backend: str, device: torch.device) -> None:
    """Refuse a ``torch.compile`` backend this machine cannot run, before any step.

    Args:
        backend: a backend name (``inductor``, ``aot_eager``, ``eager``, ...).
        device: where the network runs.

    Raises:
        ValueError: If torch does not know the backend, or ``inductor`` lacks
            what it needs here (a C++ compiler on CPU, Triton on CUDA).
    """
    import torch._dynamo

    known = torch._dynamo.list_backends(exclude_tags=())
    if backend not in known:
        msg = f'compile_backend: {backend!r} is not a torch.compile backend; known: {known}'
        raise ValueError(msg)
    if backend != 'inductor':
        return
    if device.type == 'cpu':
        compiler = os.environ.get('CXX', 'g++')
        if shutil.which(compiler) is None:
            msg = (
                f'compile_network: the inductor backend needs a C++ compiler on CPU'
                f' ({compiler!r} is not on PATH); install one, set CXX, or use'
                " compile_backend: 'aot_eager'"
            )
            raise ValueError(msg)
    elif device.type == 'cuda' and importlib.util.find_spec('triton') is None:
        msg = (
            'compile_network: the inductor backend needs Triton on CUDA (pip install'
            " triton), or use compile_backend: 'cudagraphs'"
        )
        raise ValueError(msg)


def _to_channels_last(batch: Any) -> None:
    """Images (4-D tensors) of a batch, nested dicts included, in place."""
    if not isinstance(batch, dict):
        return
    for key, value in batch.items():
        if isinstance(value, Tensor) and value.ndim == 4 and value.is_floating_point():
            batch[key] = value.contiguous(memory_format=torch.channels_last)
        else:
            _to_channels_last(value)


class TrainingSpeed(Callback):
    """Channels-last memory layout and ``torch.compile`` for any task's networks."""

    def __init__(
        self,
        channels_last: bool = False,
        compile_network: bool = False,
        compile_backend: str = 'inductor',
        compile_mode: str | None = None,
        modules: Sequence[str] = COMPILED_MODULES,
    ) -> None:
        """Initialize the options.

        Args:
            channels_last: keep 4-D weights and images in channels-last layout
                (NHWC; faster convolutions with Tensor Cores and oneDNN).
            compile_network: compile the task's networks in place
                (``nn.Module.compile``) at the start of fit, validation, test
                or prediction.
            compile_backend: the ``torch.compile`` backend.
            compile_mode: its mode (``default``, ``reduce-overhead``,
                ``max-autotune``; None: torch's default).
            modules: the task's attributes to compile (those present).

        Raises:
            ValueError: If an option has the wrong type or ``modules`` is empty.
        """
        super().__init__()
        for name, value in (
            ('channels_last', channels_last),
            ('compile_network', compile_network),
        ):
            if not isinstance(value, bool):
                msg = f'{name} must be true or false, got {value!r}'
                raise ValueError(msg)
        modes = (None, 'default', 'reduce-overhead', 'max-autotune',
                 'max-autotune-no-cudagraphs')  # fmt: skip
        if compile_mode not in modes:
            msg = f'compile_mode must be one of {list(modes)}, got {compile_mode!r}'
            raise ValueError(msg)
        if isinstance(modules, str) or not modules:
            msg = (
                f'modules must be a non-empty list of attribute names, got {modules!r}'
            )
            raise ValueError(msg)
        self.channels_last = channels_last
        self.compile_network = compile_network
        self.compile_backend = compile_backend
        self.compile_mode = compile_mode
        self.modules = tuple(modules)
        self.compiled: list[str] = []

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Check the backend, then change the layout and compile, once.

        Args:
            trainer: the trainer.
            pl_module: the task.
            stage: ``fit``, ``validate``, ``test`` or ``predict``.

        Raises:
            ValueError: If the compile backend cannot run here, or no attribute
                of ``modules`` is a network of the task.
        """
        if self.compile_network:
            check_compile_backend(self.compile_backend, trainer.strategy.root_device)
        if self.channels_last:
            pl_module.to(memory_format=torch.channels_last)
        if not self.compile_network or self.compiled:
            return
        found = [
            name
            for name in self.modules
            if isinstance(getattr(pl_module, name, None), nn.Module)
        ]
        if not found:
            msg = (
                f'compile_network: {type(pl_module).__name__} has none of the'
                f' networks {list(self.modules)}'
            )
            raise ValueError(msg)
        for name in found:
            network = getattr(pl_module, name)
            assert isinstance(network, nn.Module)
            network.compile(backend=self.compile_backend, mode=self.compile_mode)
        self.compiled = found

    def _batch_start(self, batch: Any) -> None:
        if self.channels_last:
            _to_channels_last(batch)

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Images in channels-last layout (the batch dict is changed in place).

        Args:
            trainer: the trainer.
            pl_module: the task.
            batch: the batch.
            batch_idx: its index.
        """
        self._batch_start(batch)

    def on_validation_batch_start(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Images in channels-last layout (the batch dict is changed in place).

        Args:
            trainer: the trainer.
            pl_module: the task.
            batch: the batch.
            batch_idx: its index.
            dataloader_idx: its loader.
        """
        self._batch_start(batch)
