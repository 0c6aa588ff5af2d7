"""Writing files so that nothing half-written ever stands under the final name."""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ('atomic_path', 'atomic_write')


def atomic_path(path: Path) -> Path:
    """A temporary sibling of ``path`` to write to before renaming onto it.

    Args:
        path: the final file.

    Returns:
        ``<dir>/.<name>.tmp<pid><suffix>`` (the suffix kept for format detection).
    """
    return path.with_name(f'.{path.stem}.tmp{os.getpid()}{path.suffix}')


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Give a temporary path to write to; rename it onto ``path`` on success.

    If the block fails, the temporary file is removed and ``path`` is untouched.

    Args:
        path: the final file.

    Yields:
        The temporary path.
    """
    tmp = atomic_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
