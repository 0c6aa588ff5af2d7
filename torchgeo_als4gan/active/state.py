"""The state of a run of rounds: the items picked so far, saved after every step.

ALS4GAN's query rounds and STAL's loop rounds both keep which pool items were
picked, in which round and with which score, in one JSON format (NaN scores as
null); each adds its own progress fields.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np

from ..files import atomic_write

__all__ = ('PickedItems', 'read_state', 'save_state')


def save_state(state: Any, path: Path) -> None:
    """Write a dataclass with per-item ``scores`` as JSON, atomically (NaN: null).

    Args:
        state: a dataclass instance with a ``scores`` list.
        path: the state file.
    """
    data = asdict(state)
    data['scores'] = [None if np.isnan(s) else s for s in data['scores']]
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, default=str))


def read_state(path: Path) -> dict[str, Any]:
    """Read what :func:`save_state` wrote (null scores back to NaN).

    Args:
        path: the state file.

    Returns:
        The fields by name.
    """
    data: dict[str, Any] = json.loads(path.read_text())
    data['scores'] = [np.nan if s is None else s for s in data['scores']]
    return data


@dataclass(kw_only=True)
class PickedItems:
    """Pool items picked so far, in the order they were picked."""

    #: Current round (0: the random start).
    round: int = 0
    #: Picked pool indices, in choice order.
    selected: list[int] = field(default_factory=list)
    #: Round in which each of ``selected`` was picked.
    rounds: list[int] = field(default_factory=list)
    #: Score of each when picked (NaN: random picks).
    scores: list[float] = field(default_factory=list)

    def save(self, path: Path) -> None:
        """Write the state atomically as JSON.

        Args:
            path: the state file.
        """
        save_state(self, path)

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a state file.

        Args:
            path: the state file.

        Returns:
            The state.

        Raises:
            ValueError: If the file holds another kind of state (the fields
                that do not belong here are named).
        """
        data = read_state(path)
        try:
            return cls(**data)
        except TypeError as error:
            msg = (
                f'{path}: not a {cls.__name__} state file ({error}); it was written'
                ' by another command or version'
            )
            raise ValueError(msg) from error
