"""Spreading raster prediction over processes: whole rasters per rank, one summary."""

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from ..runtime import assign_to_ranks
from .model import SegmentationModel
from .raster import (
    PredictionPlan,
    RasterPrediction,
    plan_prediction,
    run_plan,
    write_plan_vectors,
)
from .sources import RasterPredictionError

__all__ = ('RankSummary', 'gather_summaries', 'predict_raster_distributed')


@dataclass
class RankSummary:
    """What one process did."""

    #: Global rank.
    rank: int
    #: Rasters it predicted (input paths) and the files it wrote.
    written: list[tuple[str, dict[str, str]]]
    #: The error that stopped it, or None.
    error: str | None = None

    def line(self) -> str:
        """One line for the log.

        Returns:
            The line.
        """
        if self.error is not None:
            return f'rank {self.rank}: failed: {self.error}'
        names = ', '.join(Path(path).name for path, _ in self.written) or 'nothing'
        return f'rank {self.rank}: wrote {len(self.written)} raster(s): {names}'


def gather_summaries(summary: RankSummary) -> list[RankSummary]:
    """Every rank's summary, on every rank (just this one without a process group).

    Args:
        summary: this rank's summary.

    Returns:
        The summaries by rank.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return [summary]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, summary)
    return [s for s in gathered if isinstance(s, RankSummary)]


def predict_raster_distributed(
    load_model: Callable[[torch.device], SegmentationModel],
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    devices: int,
    num_nodes: int = 1,
    accelerator: str = 'auto',
    min_area: float = 0.0,
    progress: bool = True,
    **plan_kwargs: Any,
) -> tuple[list[RasterPrediction], list[RankSummary]] | None:
    """Predict rasters with several processes (Lightning's DDP launcher).

    Every process checks every input and output first (so a bad input stops
    all of them before any tile), then predicts whole rasters: the largest
    first, each to the least loaded process, one raster per process at a time,
    each written atomically as in :func:`predict_raster`. The processes then
    exchange what they wrote; the first one writes the polygons (``vector``)
    of all rasters and returns the results and one summary per process.

    Args:
        load_model: builds the model on a device (each process loads its own).
        inputs: the rasters.
        output: the output folder.
        devices: processes per node.
        num_nodes: nodes.
        accelerator: ``cpu``, ``gpu`` / ``cuda`` or ``auto``.
        min_area: drop polygons smaller than this many pixels.
        progress: show rank 0's progress bar.
        **plan_kwargs: other arguments of :func:`plan_prediction`.

    Returns:
        On the first process: every raster's result (input order) and the
        summaries by rank; None on the other processes.

    Raises:
        RasterPredictionError: If any process failed (the message names it and
            its error); rasters that other processes finished stay written.
    """
    from lightning.fabric import Fabric

    fabric = Fabric(
        accelerator='gpu' if accelerator == 'cuda' else accelerator,
        devices=devices, num_nodes=num_nodes, strategy='ddp',
    )  # fmt: skip
    fabric.launch()
    rank, world_size = fabric.global_rank, fabric.world_size
    plan: PredictionPlan | None = None
    results: list[RasterPrediction] = []
    summary = RankSummary(rank, [])
    try:
        model = load_model(fabric.device)
        plan = plan_prediction(model, inputs, output, **plan_kwargs)
        sizes = [s.width * s.height for s in plan.sources]
        mine = assign_to_ranks(sizes, world_size)[rank]
        results = run_plan(model, plan, mine, progress and rank == 0)
        summary.written = [
            (os.fspath(r.input), {k: os.fspath(v) for k, v in r.outputs.items()})
            for r in results
        ]
    except Exception as error:
        summary.error = f'{type(error).__name__}: {error}'
    summaries = gather_summaries(summary)
    failed = [s for s in summaries if s.error is not None]
    if failed:
        # on every rank, so that none waits for the others
        lines = '; '.join(s.line() for s in failed)
        raise RasterPredictionError(lines)
    if rank != 0:
        return None
    assert plan is not None
    written = {path: outputs for s in summaries for path, outputs in s.written}
    everything = [
        RasterPrediction(
            source.path,
            {k: Path(v) for k, v in written[os.fspath(source.path)].items()},
            len(grid),
        )
        for source, grid in zip(plan.sources, plan.grids, strict=True)
    ]
    write_plan_vectors(plan, everything, model.classes, min_area)
    return everything, summaries
