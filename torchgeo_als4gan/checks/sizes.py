"""Sizes that cannot fit: patch, tile and window sizes against the data and memory."""

import os

__all__ = ('available_memory', 'check_memory', 'check_window_size')


def available_memory() -> int:
    """Bytes of memory available to this process (MemAvailable on Linux).

    Returns:
        The bytes, or the physical memory where the kernel does not say.
    """
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    try:  # pragma: no cover - not Linux
        return int(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES'))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 1 << 40


def _gib(size: float) -> str:
    return f'{size / 2**30:.1f} GiB'


def check_memory(argument: str, needed: float, what: str) -> None:
    """Refuse a setting whose buffers alone would not fit in memory.

    Args:
        argument: the option that decides the size (e.g. ``--patch_size 100000``).
        needed: bytes the setting implies.
        what: what those bytes hold, for the message.

    Raises:
        ValueError: If ``needed`` exceeds the available memory.
    """
    free = available_memory()
    if needed > free:
        msg = (
            f'{argument} implies {_gib(needed)} for {what}, more than the'
            f' {_gib(free)} of memory available: choose a smaller value'
        )
        raise ValueError(msg)


def check_window_size(
    argument: str,
    size: int | None,
    height: int,
    width: int,
    source: str,
    bands: int = 3,
    batch: int = 1,
    allow_padding: int = 512,
) -> None:
    """Refuse a square patch/tile larger than the data it is cut from.

    A window larger than every image is nothing but padding (and a very large
    one exhausts memory before anything is learnt or predicted), so it is
    refused before any pixel is read, naming the data's size.

    Args:
        argument: the option, e.g. ``patch_size`` or ``--patch_size``.
        size: the window side in pixels (None: not set, nothing to check).
        height: rows of the largest image.
        width: columns of the largest image.
        source: what the data is (a file or folder), for the message.
        bands: bands per pixel (for the memory estimate).
        batch: windows held at once (for the memory estimate).
        allow_padding: windows up to this side may be larger than the data
            (a small raster padded to the default tile is harmless).

    Raises:
        ValueError: If the window is larger than the data in both directions,
            or a batch of windows would not fit in memory.
    """
    if size is None or height <= 0 or width <= 0:
        return
    if size > allow_padding and size > height and size > width:
        msg = (
            f'{argument} {size} is larger than the data: the largest image of'
            f' {source} is {height}x{width} pixels; use {argument}'
            f' {max(height, width)} or less'
        )
        raise ValueError(msg)
    check_memory(
        f'{argument} {size}',
        float(size) * size * max(bands, 1) * 4 * max(batch, 1) * 2,
        f'a batch of {batch} float32 window(s) of {bands} band(s) and their copy',
    )
