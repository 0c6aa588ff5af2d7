"""Process-level helpers for long streaming runs (pool scoring, raster prediction)."""

import ctypes
import ctypes.util
import functools
import sys
from typing import Any

import torch

__all__ = ('release_free_memory', 'resolve_device')


@functools.cache
def _libc() -> Any:
    if not sys.platform.startswith('linux'):  # pragma: no cover - CI runs Linux
        return None
    name = ctypes.util.find_library('c')
    libc = ctypes.CDLL(name) if name else None
    return libc if libc is not None and hasattr(libc, 'malloc_trim') else None


def release_free_memory() -> bool:
    """Give memory freed by finished batches back to the operating system.

    On the CPU, batch-sized tensors are allocated and freed by glibc in several
    per-thread arenas; freed blocks stay resident and fragment, so the resident
    memory of a long scoring or prediction run can creep up with the number of
    batches (measured: +350 MiB over 60 batches of pool scoring, not every run).
    Calling ``malloc_trim`` every few batches keeps it flat, i.e. bounded by the
    batch, not the pool or raster size, at no measurable cost. A no-op where the
    C library is not glibc.

    Returns:
        Whether memory was released.
    """
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


def resolve_device(name: str) -> torch.device:
    """The device of a ``--device`` option.

    Args:
        name: ``auto`` (CUDA when available, else CPU) or a torch device name.

    Returns:
        The device.
    """
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(name)
