"""Devices that are not there: one check for ``--device`` and ``trainer.accelerator``."""

from typing import Any

import torch

__all__ = ('check_accelerator', 'check_device')


def _cuda_facts() -> str:
    build = 'yes' if torch.version.cuda else 'no'
    return f'torch {torch.__version__}, CUDA build: {build}'


def _mps_available() -> bool:
    backend = getattr(torch.backends, 'mps', None)
    return bool(backend is not None and backend.is_available())


def check_device(name: Any, argument: str = '--device') -> torch.device:
    """Turn a ``--device`` value into a device this machine has.

    Args:
        name: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``,
            ``cuda:N`` or ``mps``.
        argument: the option, for the message.

    Returns:
        The device.

    Raises:
        ValueError: If the name is not a device or the machine lacks it (the
            message names the option, what is available and the fix).
    """
    text = str(name).strip().lower()
    if text == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        device = torch.device(text)
    except (RuntimeError, TypeError) as error:
        msg = (
            f'{argument} {name!r} is not a device: expected auto, cpu, cuda,'
            f' cuda:N or mps ({error})'
        )
        raise ValueError(msg) from None
    if device.type == 'cuda':
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            msg = (
                f'{argument} {name} was asked for but no CUDA device is available'
                f' ({_cuda_facts()}); use {argument} cpu or auto'
            )
            raise ValueError(msg)
        if device.index is not None and device.index >= count:
            msg = (
                f'{argument} {name} was asked for but this machine has {count} CUDA'
                f' device(s) (cuda:0..cuda:{count - 1}); use one of those, cpu or auto'
            )
            raise ValueError(msg)
    elif device.type == 'mps' and not _mps_available():
        msg = (
            f'{argument} {name} was asked for but no Apple MPS device is available'
            f' (torch {torch.__version__}); use {argument} cpu or auto'
        )
        raise ValueError(msg)
    elif device.type not in ('cpu', 'cuda', 'mps'):
        msg = f'{argument} {name!r}: expected auto, cpu, cuda, cuda:N or mps'
        raise ValueError(msg)
    return device


def _device_count(devices: Any) -> int | None:
    """How many devices a Lightning ``devices`` value asks for (None: auto/-1)."""
    if isinstance(devices, bool):
        return None
    if isinstance(devices, int):
        return devices if devices > 0 else None
    if isinstance(devices, list | tuple):
        return max((int(d) for d in devices), default=-1) + 1
    text = str(devices).strip()
    if text.isdigit():
        return int(text) or None
    if ',' in text:
        ids = [int(p) for p in text.split(',') if p.strip().isdigit()]
        return max(ids, default=-1) + 1
    return None


def check_accelerator(
    accelerator: Any, devices: Any = None, argument: str = '--trainer.accelerator'
) -> None:
    """Refuse a Lightning accelerator (and device count) the machine lacks.

    Checked before any data is read or model built, by every command that
    builds a Lightning ``Trainer`` (``fit`` and the other LightningCLI
    commands, ``query``, ``loop``, ``pretrain``, ``experiment``).

    Args:
        accelerator: the trainer's ``accelerator`` (``auto``, ``cpu``, ``gpu``,
            ``cuda``, ``mps``, ``tpu`` or an accelerator object, not checked).
        devices: the trainer's ``devices``.
        argument: the option, for the message.

    Raises:
        ValueError: If the accelerator is missing or fewer devices exist than
            asked for.
    """
    if accelerator is None or not isinstance(accelerator, str):
        return
    name = accelerator.strip().lower()
    wanted = _device_count(devices)
    if name in ('gpu', 'cuda'):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 and not _mps_available():
            msg = (
                f'{argument} {accelerator} was asked for but no CUDA device is'
                f' available ({_cuda_facts()}); use {argument} cpu or auto'
            )
            raise ValueError(msg)
        if count and wanted is not None and wanted > count:
            msg = (
                f'--trainer.devices {devices} asks for {wanted} GPU(s) but this'
                f' machine has {count}; use --trainer.devices {count} or fewer'
            )
            raise ValueError(msg)
    elif name == 'mps' and not _mps_available():
        msg = (
            f'{argument} mps was asked for but no Apple MPS device is available'
            f' (torch {torch.__version__}); use {argument} cpu or auto'
        )
        raise ValueError(msg)
    elif name == 'tpu':
        try:
            import torch_xla  # noqa: F401
        except ImportError:
            msg = (
                f'{argument} tpu was asked for but torch_xla is not installed'
                f' (no TPU backend); use {argument} cpu or auto'
            )
            raise ValueError(msg) from None
    elif name not in ('auto', 'cpu', 'gpu', 'cuda', 'mps', 'tpu', 'hpu'):
        msg = f'{argument} {accelerator!r}: expected auto, cpu, gpu, cuda, mps or tpu'
        raise ValueError(msg)
