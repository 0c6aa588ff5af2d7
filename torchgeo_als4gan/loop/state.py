"""A round of the loop: what it labelled, how far it got, its result."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..strategies.loop import read_state, save_state

__all__ = ('STAGES', 'RoundState')

#: Stages of a round, in order.
STAGES = ('selected', 'trained', 'evaluated', 'scored', 'done')


@dataclass
class RoundState:
    """Progress of one round, saved after every stage."""

    #: Round number (0: the random start).
    round: int
    #: Labelled fraction of the pool this round trains on.
    budget: float
    #: Pool indices labelled for this round (cumulative), in choice order.
    selected: list[int]
    #: Round in which each of ``selected`` was chosen.
    rounds: list[int]
    #: Score of each when chosen (NaN: random picks).
    scores: list[float]
    #: Last finished stage.
    stage: str = 'selected'
    #: The round's result row once evaluated.
    result: dict[str, Any] | None = None
    #: Seconds spent on each finished stage.
    seconds: dict[str, float] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        """Write the state atomically.

        Args:
            path: the state file.
        """
        save_state(self, path)

    @classmethod
    def load(cls, path: Path) -> 'RoundState':
        """Read a state file.

        Args:
            path: the state file.

        Returns:
            The state.
        """
        return cls(**read_state(path))

    def reached(self, stage: str) -> bool:
        """Whether ``stage`` is finished.

        Args:
            stage: one of :data:`STAGES`.

        Returns:
            True when it is.
        """
        return STAGES.index(self.stage) >= STAGES.index(stage)
