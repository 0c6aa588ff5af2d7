"""Writing files so that nothing half-written ever stands under the final name."""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ('atomic_path', 'atomic_write', 'check_output_folder')


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


def check_output_folder(folder: str | os.PathLike[str], name: str = '--output') -> Path:
    """Create an output folder and prove it is writable, before any work.

    ``os.access`` is not enough (it says yes to root on read-only mounts), so a
    temporary file is created and removed.

    Args:
        folder: the folder.
        name: the argument, for the message.

    Returns:
        The folder.

    Raises:
        OSError: If it cannot be created or written to (the message names it).
    """
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix='.write-test'):
            pass
    except OSError as error:
        msg = f'{name} {os.fspath(path)!r} is not a writable folder: {error}'
        raise OSError(msg) from error
    return path
