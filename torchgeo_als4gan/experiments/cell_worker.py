"""One experiment cell in its own process (``executor: local``).

``python -m torchgeo_als4gan.experiments.cell_worker runs/<cell>/cell_job.pkl``
reads the pickled (experiment, cell, run folder) the runner wrote, runs the
cell exactly as the in-process runner does and writes its result row to
``cell_result.json`` (atomically: no file, no result).
"""

import json
import pickle
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..files import atomic_write
from ..runtime import quiet_known_warnings, quiet_lightning
from .executor import RESULT_FILE
from .runner import run_cell

__all__ = ('main',)


def _plain(value: Any) -> Any:
    """Numpy scalars as Python numbers, anything else as text (for JSON)."""
    return value.item() if hasattr(value, 'item') else str(value)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the cell of a job file.

    Args:
        argv: the job file (default: ``sys.argv[1:]``).
    """
    (job,) = list(sys.argv[1:] if argv is None else argv)
    with Path(job).open('rb') as f:
        config, cell, run = pickle.load(f)  # written by this package's runner
    quiet_known_warnings()
    with quiet_lightning():
        row = run_cell(config, cell, run)
    with atomic_write(Path(run) / RESULT_FILE) as tmp:
        tmp.write_text(json.dumps(row, default=_plain))


if __name__ == '__main__':
    main()
