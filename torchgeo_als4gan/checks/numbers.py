"""Numbers given as arguments: one message style, the name first."""

import math
from typing import Any

__all__ = (
    'check_class_names',
    'check_fraction',
    'check_non_negative',
    'check_positive',
    'check_seed',
)


def check_class_names(classes: Any, name: str = 'classes') -> tuple[str, ...]:
    """Check a list of class names: at least two, none empty, none twice.

    Args:
        classes: the names, in mask-value order.
        name: the argument, for the message.

    Returns:
        The names as a tuple.

    Raises:
        ValueError: If a name repeats or is empty (two classes of one name would
            swap silently in every table and colour map).
    """
    names = tuple(str(c) for c in classes)
    twice = sorted({c for c in names if names.count(c) > 1})
    if twice:
        msg = f'{name} must name each class once; {twice} appear twice in {list(names)}'
        raise ValueError(msg)
    if any(not c.strip() for c in names):
        msg = f'{name} holds an empty class name: {list(names)}'
        raise ValueError(msg)
    return names


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_positive(name: str, value: Any, optional: bool = False) -> Any:
    """Check that a count or size is a positive integer (or None when optional).

    ``0`` is an error, never "not set": an option that may be left out takes
    None for that.

    Args:
        name: the argument, as the user writes it.
        value: its value.
        optional: whether None is allowed.

    Returns:
        The value.

    Raises:
        ValueError: If it is not a positive integer.
    """
    if value is None and optional:
        return value
    if not (_is_number(value) and float(value).is_integer() and value >= 1):
        hint = ' (leave it out, or null, for the default)' if optional else ''
        msg = f'{name} must be a positive integer, got {value!r}{hint}'
        raise ValueError(msg)
    return int(value)


def check_non_negative(name: str, value: Any) -> Any:
    """Check that a number is finite and not negative.

    Args:
        name: the argument.
        value: its value.

    Returns:
        The value.

    Raises:
        ValueError: If it is negative, not finite or not a number.
    """
    if not (_is_number(value) and math.isfinite(value) and value >= 0):
        msg = f'{name} must be a non-negative number, got {value!r}'
        raise ValueError(msg)
    return value


#: Seeds numpy's and torch's generators both take.
MAX_SEED = 2**32 - 1


def check_seed(name: str, value: Any) -> int:
    """Check a random seed: an integer in [0, 2**32 - 1].

    Args:
        name: the argument.
        value: its value.

    Returns:
        The seed.

    Raises:
        ValueError: If it is not an integer in that range.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= MAX_SEED
    ):
        msg = f'{name} must be an integer in [0, {MAX_SEED}], got {value!r}'
        raise ValueError(msg)
    return value


def check_fraction(
    name: str, value: Any, low_open: bool = False, high_open: bool = False
) -> Any:
    """Check that a number lies in [0, 1] (ends open as asked).

    Args:
        name: the argument.
        value: its value.
        low_open: 0 is not allowed.
        high_open: 1 is not allowed.

    Returns:
        The value.

    Raises:
        ValueError: If it is outside the interval.
    """
    ok = _is_number(value) and math.isfinite(value)
    if ok:
        ok = (value > 0 if low_open else value >= 0) and (
            value < 1 if high_open else value <= 1
        )
    if not ok:
        interval = f'{"(" if low_open else "["}0, 1{")" if high_open else "]"}'
        msg = f'{name} must be in {interval}, got {value!r}'
        raise ValueError(msg)
    return value
