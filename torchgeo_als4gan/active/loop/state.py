"""A round of the loop: what it labelled, how far it got, its result."""

from dataclasses import dataclass, field
from typing import Any

from ..state import PickedItems

__all__ = ('STAGES', 'RoundState')

#: Stages of a round, in order.
STAGES = ('selected', 'trained', 'evaluated', 'scored', 'done')


@dataclass(kw_only=True)
class RoundState(PickedItems):
    """Progress of one round of the loop, saved after every stage.

    ``selected`` is cumulative: every item labelled for this round.
    """

    #: Labelled fraction of the pool this round trains on.
    budget: float
    #: Last finished stage.
    stage: str = 'selected'
    #: The round's result row once evaluated.
    result: dict[str, Any] | None = None
    #: Seconds spent on each finished stage.
    seconds: dict[str, float] = field(default_factory=dict)

    def reached(self, stage: str) -> bool:
        """Whether ``stage`` is finished.

        Args:
            stage: one of :data:`STAGES`.

        Returns:
            True when it is.
        """
        return STAGES.index(self.stage) >= STAGES.index(stage)
