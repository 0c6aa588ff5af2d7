"""Checkpoints: one reader that says what a file is, one check of resumed settings."""

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = ('compare_resume_settings', 'read_checkpoint', 'read_torch_file')


def read_torch_file(
    path: str | os.PathLike[str], argument: str = '--checkpoint'
) -> Any:
    """Load any PyTorch file on the CPU, naming the file and what it is on error.

    Args:
        path: the file (``.ckpt``, ``.pt``, ``.pth``).
        argument: the option that named it, for the message.

    Returns:
        Whatever the file holds.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is truncated or not a PyTorch file.
    """
    file = Path(path)
    if not file.is_file():
        what = 'is a folder' if file.is_dir() else 'does not exist'
        msg = f'{argument} {os.fspath(file)!r} {what}; expected a checkpoint file'
        raise FileNotFoundError(msg)
    size = file.stat().st_size
    if file.suffix == '.safetensors':  # timm / Hugging Face weights
        from safetensors.torch import load_file

        try:
            return load_file(file, device='cpu')
        except Exception as e:
            msg = f'{argument} {os.fspath(file)!r} is not a readable safetensors file: {e}'
            raise ValueError(msg) from e
    try:
        return torch.load(file, map_location='cpu', weights_only=False)
    except Exception as e:  # torch.load raises many types on foreign files
        with open(file, 'rb') as f:
            head = f.read(4)
        kind = (
            'a truncated or damaged PyTorch checkpoint'
            if head.startswith(b'PK') or size == 0
            else 'not a PyTorch checkpoint'
        )
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        msg = f'{argument} {os.fspath(file)!r} is {kind} ({size} bytes: {reason})'
        raise ValueError(msg) from None


def read_checkpoint(
    path: str | os.PathLike[str], argument: str = '--checkpoint', lightning: bool = True
) -> dict[str, Any]:
    """Load a checkpoint file on the CPU, naming the file and what it is on error.

    Args:
        path: the file.
        argument: the option that named it, for the message.
        lightning: it must be a Lightning checkpoint (a dict with
            ``state_dict``); else any dict (a weights file).

    Returns:
        The loaded dict.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is truncated, not a PyTorch file, or not a Lightning
            checkpoint when one is needed.
    """
    file = Path(path)
    loaded = read_torch_file(file, argument)
    if not isinstance(loaded, dict):
        msg = (
            f'{argument} {os.fspath(file)!r} holds a {type(loaded).__name__}, not a'
            ' checkpoint dict'
        )
        raise ValueError(msg)
    if lightning and not isinstance(loaded.get('state_dict'), dict):
        keys = sorted(str(k) for k in loaded)[:6]
        msg = (
            f'{argument} {os.fspath(file)!r} is not a Lightning checkpoint (no'
            f' state_dict; its keys: {keys}): expected a .ckpt written by'
            ' `als4gan fit` / `torchgeo fit`'
        )
        raise ValueError(msg)
    return loaded


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b)
    except Exception:  # tensors, arrays
        return repr(a) == repr(b)


def compare_resume_settings(
    saved: Mapping[str, Any],
    current: Mapping[str, Any],
    source: str,
    ignore: Iterable[str] = (),
    what: str = 'model',
) -> list[str]:
    """Refuse to resume when the settings differ from the checkpoint's.

    Resuming restores the checkpoint's weights, optimizer and schedule: a
    different backbone or learning rate in the command would silently lose to
    the checkpoint's (or break on the weights).

    Args:
        saved: settings stored with the checkpoint (e.g. its hyper-parameters).
        current: the settings of this run.
        source: the checkpoint, for the message.
        ignore: keys that may differ (e.g. weights to start from).
        what: the settings' section, for the message (``model``, ``data``).

    Returns:
        The differing keys (always empty: a difference raises).

    Raises:
        ValueError: Listing each setting that differs (checkpoint vs now).
    """
    skip = set(ignore)
    differ = [
        key
        for key in sorted(set(saved) & set(current))
        if key not in skip and not _same(saved[key], current[key])
    ]
    if not differ:
        return []
    listing = '; '.join(
        f'{what}.{k}: checkpoint {saved[k]!r}, now {current[k]!r}' for k in differ
    )
    msg = (
        f"Cannot resume from {source}: its settings differ from this run's"
        f" ({listing}). Resuming would keep the checkpoint's; restore them, or"
        ' start a new run without the checkpoint'
    )
    raise ValueError(msg)
