"""A loop run's recorded settings: a resumed run must have the same ones."""

import json
import os
from typing import Any

from .config import LoopConfig

__all__ = ('SETTINGS_FILE', 'check_loop_settings')

#: The loop's settings, checked on resume.
SETTINGS_FILE = 'loop_settings.json'


def check_loop_settings(config: LoopConfig, resume: bool) -> dict[str, Any] | None:
    """Refuse an existing run (without resume) or one with other settings.

    Args:
        config: the loop.
        resume: whether the run is to be continued.

    Returns:
        The settings to record, for a new run (None: resuming).

    Raises:
        FileNotFoundError: If ``resume`` is set but the output holds no run.
        FileExistsError: If the output holds a run and ``resume`` is not set.
        ValueError: If the recorded settings differ (the keys are named).
    """
    output = config.output
    file = output / SETTINGS_FILE
    settings: dict[str, Any] = json.loads(json.dumps(config.settings(), default=str))
    if not file.is_file():
        if resume:
            msg = (
                f'--resume: {os.fspath(output)!r} holds no loop run to resume (no'
                f' {SETTINGS_FILE}); check --output, or leave out --resume to'
                ' start a new run there'
            )
            raise FileNotFoundError(msg)
        return settings
    if not resume:
        msg = (
            f'{os.fspath(output)!r} already holds a loop run: pass --resume to'
            ' continue it, or choose another output'
        )
        raise FileExistsError(msg)
    saved = json.loads(file.read_text())
    keys = sorted(
        k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k)
    )
    if keys:
        msg = (
            f'Cannot resume {os.fspath(output)!r}: it was run with other settings'
            f' ({", ".join(keys)} differ); use another output to run these'
        )
        raise ValueError(msg)
    return None
