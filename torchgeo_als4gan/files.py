"""Writing files so that nothing half-written ever stands under the final name."""

import contextlib
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = (
    'atomic_path',
    'atomic_write',
    'check_output_folder',
    'folder_lock',
    'lock_holder',
    'pid_alive',
)


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


def pid_alive(pid: int) -> bool:
    """Whether a process of this host with that pid is alive.

    Args:
        pid: the process id.

    Returns:
        True for a live process, someone else's included.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def lock_holder(folder: Path) -> int | None:
    """The pid of the live process holding :func:`folder_lock` on a folder, if any.

    Args:
        folder: the folder.

    Returns:
        The pid, or None when the folder is not locked (or its lock is stale). A
        lock taken on another host counts as held.
    """
    lock = folder / '.lock'
    try:
        owner = lock.read_text().split()
    except OSError:
        return None
    pid = int(owner[0]) if owner and owner[0].isdigit() else -1
    same_host = len(owner) < 2 or owner[1] == socket.gethostname()
    return pid if pid > 0 and (not same_host or pid_alive(pid)) else None


@contextlib.contextmanager
def folder_lock(folder: Path, what: str) -> Iterator[None]:
    """Let one process at a time write into a folder (a lock file with its pid).

    A lock left by a process that no longer runs on this host is taken over.

    Args:
        folder: the folder.
        what: the command, for the message.

    Yields:
        Nothing; the lock is held meanwhile.

    Raises:
        FileExistsError: If another live process holds the lock.
    """
    lock = folder / '.lock'
    host = socket.gethostname()
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            owner = lock.read_text().split()
            pid = int(owner[0]) if owner and owner[0].isdigit() else -1
            same_host = len(owner) < 2 or owner[1] == host
            if pid > 0 and (not same_host or pid_alive(pid)):
                msg = (
                    f'{what} is already running on {os.fspath(folder)!r} (pid {pid}'
                    f' on {owner[1] if len(owner) > 1 else host}); wait for it, or'
                    f' remove {os.fspath(lock)!r} if it is not running'
                )
                raise FileExistsError(msg) from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, 'w') as f:
            f.write(f'{os.getpid()} {host}\n')
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
