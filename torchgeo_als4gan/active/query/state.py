"""What a query run saves after every round, and how a resume is compared with it."""

from dataclasses import dataclass
from typing import Any

from ..state import PickedItems

__all__ = ('QueryState', 'settings_difference')


@dataclass(kw_only=True)
class QueryState(PickedItems):
    """Progress of a query run, saved after every round (round 0: the seed pool)."""

    #: Settings the run was started with; a resume must match them.
    settings: dict[str, Any]
    #: Whether the target was reached.
    finished: bool = False


def settings_difference(saved: Any, now: Any) -> str:
    """The keys where two settings differ, or both values when not dicts.

    Args:
        saved: the settings in the state file.
        now: this run's settings.

    Returns:
        ``key saved X, now Y`` parts (nested keys dotted), comma-separated.
    """
    if isinstance(saved, dict) and isinstance(now, dict):
        keys = sorted(set(saved) | set(now))
        parts = [
            f'{k} saved {saved.get(k)!r}, now {now.get(k)!r}'
            for k in keys
            if saved.get(k) != now.get(k) and not isinstance(saved.get(k), dict)
        ]
        nested = [
            f'{k}.{settings_difference(saved[k], now.get(k))}'
            for k in keys
            if isinstance(saved.get(k), dict) and saved.get(k) != now.get(k)
        ]
        return ', '.join(parts + nested)
    return f'saved {saved!r}, now {now!r}'
