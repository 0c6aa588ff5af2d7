"""Apply a segmentation model to whole georeferenced rasters, tile by tile."""

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rasterio
import rasterio.errors
import torch
from rasterio.crs import CRS
from tqdm.auto import tqdm

from ..checks import (
    check_non_negative,
    check_pixel_range,
    check_window_size,
    file_pixel_statistics,
)
from ..files import check_output_folder
from ..runtime import release_free_memory
from ..samplers.tiles import TileGrid
from .geotiff import PredictionGeoTIFFs, gdal_env, output_paths
from .model import SegmentationModel
from .sources import RasterSource, check_vector_path, read_tile, read_valid
from .tiling import StreamingBlender
from .vectorize import write_vectors

__all__ = (
    'PredictionPlan',
    'RasterPrediction',
    'plan_prediction',
    'predict_raster',
    'run_plan',
    'write_plan_vectors',
)


@dataclass
class RasterPrediction:
    """What was written for one input raster.

    Attributes:
        input: the input raster.
        outputs: written GeoTIFFs by kind (``classes``, ``probabilities``,
            ``uncertainty``).
        tiles: number of tiles predicted.
        vector_layer: layer of the vector file holding its polygons, if any.
    """

    input: Path
    outputs: dict[str, Path]
    tiles: int
    vector_layer: str | None = None
    #: NaN / inf input pixels, written as nodata (class 255).
    non_finite: int = 0


def _windows(grid: TileGrid, batch_size: int) -> Iterator[list[tuple[int, int]]]:
    tiles = grid.tiles()
    for start in range(0, len(tiles), batch_size):
        yield tiles[start : start + batch_size]


def _predict_one(
    model: SegmentationModel,
    source: RasterSource,
    writer: PredictionGeoTIFFs,
    grid: TileGrid,
    batch_size: int,
    bar: Any,
) -> None:
    with_score = model.discriminator is not None
    channels = model.num_classes + int(with_score)
    blender = StreamingBlender(grid, channels, model.device)
    th, tw = grid.tile_height, grid.tile_width
    with rasterio.open(source.path) as src:
        for number, batch in enumerate(_windows(grid, batch_size)):
            images = torch.stack(
                [
                    read_tile(src, source, grid, grid.rows[i], grid.cols[j])
                    for i, j in batch
                ]
            )
            probs, score = model.predict(images)
            for k in range(len(batch)):
                values = probs[k, :, :th, :tw]
                if score is not None:
                    values = torch.cat([values, score[k].expand(1, th, tw)])
                window = blender.add(values)
                h, w = window.values.shape[1:]
                valid = read_valid(src, source, window.row, window.col, h, w)
                tile_score = window.values[-1] if with_score else None
                writer.write(
                    window.row, window.col, window.values[: model.num_classes],
                    tile_score, valid,
                )  # fmt: skip
            bar.update(len(batch))
            if number % 16 == 15:
                release_free_memory()


def predict_raster(
    model: SegmentationModel,
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    patch_size: int = 512,
    overlap: int = 64,
    batch_size: int = 8,
    probabilities: bool = False,
    uncertainty: bool = False,
    vector: str | os.PathLike[str] | None = None,
    min_area: float = 0.0,
    crs: str | CRS | None = None,
    overwrite: bool = False,
    progress: bool = True,
    bands: Sequence[int | str] | None = None,
    allow_range: bool = False,
) -> list[RasterPrediction]:
    """Predict whole rasters tile by tile and write GeoTIFFs (and polygons).

    Each input is read in ``patch_size`` windows overlapping by ``overlap``
    pixels, normalized as in training and predicted ``batch_size`` tiles at a
    time. Overlaps are blended with smooth weights and every finished window is
    written at once, so memory depends on the tile and batch size, not on the
    raster size. Outputs have the input's CRS, transform and size (see
    :class:`PredictionGeoTIFFs`). Everything is checked before the first tile
    (inputs, band counts, CRS, output folder, existing outputs), and outputs
    appear under their final names only when complete.

    Args:
        model: the model (e.g. from :func:`load_segmentation_checkpoint`).
        inputs: rasters to predict (one path, or several).
        output: output folder.
        patch_size: tile side in pixels.
        overlap: pixels shared by neighbouring tiles.
        batch_size: tiles per forward pass.
        probabilities: also write per-class probabilities.
        uncertainty: also write entropy (and D's score for S4GAN models).
        vector: also write class polygons to this GeoPackage, one layer per input.
        min_area: drop polygons smaller than this many pixels.
        crs: CRS of inputs that have none.
        overwrite: replace existing outputs.
        progress: show a progress bar over tiles.
        bands: bands to read from every input, as 1-based indexes or band
            descriptions (default: the bands the model was trained on, recorded
            in its checkpoint, else all bands).
        allow_range: predict inputs whose data type or value range differs
            from the training imagery's (recorded in the checkpoint) with a
            warning, instead of refusing them.

    Returns:
        What was written, per input.

    Raises:
        ValueError: For bad arguments or inputs (the message names them).
        FileExistsError: If an output exists and ``overwrite`` is False.
        RasterPredictionError: If reading a window fails (nothing is written).
    """
    check_non_negative('--min_area', min_area)
    plan = plan_prediction(
        model, inputs, output, patch_size, overlap, batch_size, probabilities,
        uncertainty, vector, crs, overwrite, bands, allow_range,
    )  # fmt: skip
    results = run_plan(model, plan, range(len(plan.sources)), progress)
    write_plan_vectors(plan, results, model.classes, min_area)
    return results


@dataclass
class PredictionPlan:
    """Checked inputs and outputs of a prediction run (see :func:`plan_prediction`).

    Attributes:
        sources: the checked input rasters.
        grids: the tile grid of each.
        targets: output paths of each, by kind.
        batch_size: tiles per forward pass.
        vector: the GeoPackage of polygons, if asked for.
    """

    sources: list[RasterSource]
    grids: list[TileGrid]
    targets: list[dict[str, Path]]
    batch_size: int
    vector: Path | None = None


def plan_prediction(
    model: SegmentationModel,
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    patch_size: int = 512,
    overlap: int = 64,
    batch_size: int = 8,
    probabilities: bool = False,
    uncertainty: bool = False,
    vector: str | os.PathLike[str] | None = None,
    crs: str | CRS | None = None,
    overwrite: bool = False,
    bands: Sequence[int | str] | None = None,
    allow_range: bool = False,
) -> PredictionPlan:
    """Check every input and output of a prediction before any tile is read.

    See :func:`predict_raster` for the arguments.

    Returns:
        The plan.

    Raises:
        ValueError: For bad arguments or inputs (the message names them).
        FileExistsError: If an output exists and ``overwrite`` is False.
    """
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    if not inputs:
        msg = '--input needs at least one raster'
        raise ValueError(msg)
    if batch_size < 1:
        msg = f'--batch_size must be at least 1, got {batch_size}'
        raise ValueError(msg)
    if patch_size < 1 or not 0 <= overlap < patch_size:
        msg = (
            f'need --patch_size >= 1 and 0 <= --overlap < --patch_size, got'
            f' {patch_size} and {overlap}'
        )
        raise ValueError(msg)
    override = CRS.from_user_input(crs) if crs is not None else None
    selection = bands if bands is not None else model.bands
    sources = [
        RasterSource.open(path, model.in_channels, override, selection)
        for path in inputs
    ]
    largest = max(sources, key=lambda s: s.height * s.width)
    check_window_size(
        '--patch_size', patch_size, max(s.height for s in sources),
        max(s.width for s in sources), f'the --input rasters (e.g. {largest.stem})',
        model.in_channels + model.num_classes, batch_size, allow_padding=512,
    )  # fmt: skip
    for source in sources:
        check_pixel_range(
            model.pixel_range,
            file_pixel_statistics([source.path], source.indexes),
            f'--input {os.fspath(source.path)!r}', allow_range,
        )  # fmt: skip
    stems = [source.stem for source in sources]
    if len(set(stems)) != len(stems):
        msg = f'--input names must differ (outputs are named after them): {stems}'
        raise ValueError(msg)
    folder = check_output_folder(output)
    targets = [output_paths(folder, s, probabilities, uncertainty) for s in stems]
    existing = [p for paths in targets for p in paths.values() if p.exists()]
    vector_path = check_vector_path(vector) if vector is not None else None
    if vector_path is not None and vector_path.exists():
        existing.append(vector_path)
    if existing and not overwrite:
        msg = f'{os.fspath(existing[0])!r} exists; pass --overwrite to replace it'
        raise FileExistsError(msg)
    grids = [TileGrid(s.height, s.width, patch_size, overlap) for s in sources]
    return PredictionPlan(sources, grids, targets, batch_size, vector_path)


def run_plan(
    model: SegmentationModel,
    plan: PredictionPlan,
    indices: Iterable[int],
    progress: bool = True,
) -> list[RasterPrediction]:
    """Predict the chosen rasters of a plan, one after the other.

    Args:
        model: the model.
        plan: the checked plan.
        indices: which of its rasters (positions in ``plan.sources``).
        progress: show a progress bar over tiles.

    Returns:
        What was written, per raster.

    Raises:
        RasterPredictionError: If reading a window fails (the raster being
            predicted leaves no output; finished ones stay).
    """
    chosen = list(indices)
    results = []
    total = sum(len(plan.grids[i]) for i in chosen)
    with gdal_env(), tqdm(total=total, unit='tile', disable=not progress) as bar:
        for i in chosen:
            source, grid = plan.sources[i], plan.grids[i]
            bar.set_description(source.stem)
            writer = PredictionGeoTIFFs(
                plan.targets[i], source.crs, source.transform, source.width,
                source.height, model.classes, model.colors,
                model.discriminator is not None,
            )  # fmt: skip
            try:
                _predict_one(model, source, writer, grid, plan.batch_size, bar)
            except BaseException:
                writer.abort()
                raise
            written = writer.commit()
            results.append(
                RasterPrediction(
                    source.path, written, len(grid), non_finite=source.non_finite
                )
            )
    return results


def write_plan_vectors(
    plan: PredictionPlan,
    results: Sequence[RasterPrediction],
    classes: Sequence[str],
    min_area: float,
) -> None:
    """Write the polygons of the predicted class rasters, when the plan asks for them.

    Args:
        plan: the plan.
        results: the predicted rasters (their ``vector_layer`` is set).
        classes: class names.
        min_area: drop polygons smaller than this many pixels.
    """
    if plan.vector is None:
        return
    with gdal_env():
        layers = write_vectors(
            plan.vector, [(r.input.stem, r.outputs['classes']) for r in results],
            classes, min_area,
        )  # fmt: skip
    for result, layer in zip(results, layers, strict=True):
        result.vector_layer = layer
