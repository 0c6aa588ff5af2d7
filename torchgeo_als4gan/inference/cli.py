"""``als4gan predict-raster`` and ``als4gan labels``."""

import argparse
import os
import sys
from collections.abc import Sequence

import rasterio.errors

from ..checks import check_non_negative
from ..command_line import parse_command
from ..runtime import resolve_device
from .distributed import predict_raster_distributed
from .labels import cost_file, rasterize_patch_labels
from .model import load_segmentation_checkpoint
from .raster import RasterPrediction, predict_raster
from .sources import RasterPredictionError

__all__ = ('labels_main', 'predict_raster_main')

#: Errors reported as a one-line message instead of a traceback.
USER_ERRORS = (
    ValueError,
    OSError,
    RasterPredictionError,
    rasterio.errors.RasterioError,
)


def predict_raster_parser() -> argparse.ArgumentParser:
    """The ``als4gan predict-raster`` argument parser.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog='als4gan predict-raster',
        description=(
            'Predict georeferenced rasters tile by tile with a trained segmentation'
            ' checkpoint and write, per input, <stem>_classes.tif (uint8 classes'
            ' with colour map and class names) and optionally probabilities,'
            ' uncertainty and class polygons. Outputs keep the input CRS,'
            ' transform and size; normalization comes from the checkpoint.'
        ),
        epilog='example: als4gan predict-raster --checkpoint'
        ' lightning_logs/version_0/checkpoints/last.ckpt --input scene.tif'
        ' --output predictions/ --uncertainty',
    )
    parser.add_argument(
        '--checkpoint',
        required=True,
        help=(
            '.ckpt of a segmentation task: supervised (TorchGeo), S4GAN,'
            ' self-training, context teacher or hypercolumn'
        ),
    )
    parser.add_argument('--input', required=True, nargs='+', help='rasters to predict')
    parser.add_argument('--output', required=True, help='output folder')
    parser.add_argument(
        '--patch_size', type=int, default=512, help='tile side in pixels (default 512)'
    )
    parser.add_argument(
        '--overlap',
        type=int,
        default=64,
        help='pixels shared by neighbouring tiles (default 64)',
    )
    parser.add_argument(
        '--batch_size', type=int, default=8, help='tiles per forward pass (default 8)'
    )
    parser.add_argument(
        '--probabilities',
        action='store_true',
        help='also write per-class probabilities',
    )
    parser.add_argument(
        '--uncertainty',
        action='store_true',
        help="also write entropy (and D's score for S4GAN)",
    )
    parser.add_argument(
        '--vector',
        help='also write class polygons to this GeoPackage (a layer per input)',
    )
    parser.add_argument(
        '--min_area',
        type=float,
        default=0.0,
        help='drop polygons smaller than this many pixels',
    )
    parser.add_argument('--crs', help='CRS of inputs that have none (e.g. EPSG:32633)')
    parser.add_argument(
        '--bands',
        nargs='+',
        help='bands to read: 1-based indexes or band descriptions (default: those'
        ' the model was trained on, from the checkpoint, else all)',
    )
    parser.add_argument(
        '--overwrite', action='store_true', help='replace existing outputs'
    )
    parser.add_argument(
        '--allow_range',
        action='store_true',
        help='predict inputs whose data type or value range differs from the'
        ' training imagery (recorded in the checkpoint) with a warning instead'
        ' of refusing them',
    )
    parser.add_argument(
        '--device',
        default='auto',
        help='auto (cuda if available), cpu, cuda, cuda:1, ...',
    )
    parser.add_argument(
        '--mean',
        type=float,
        nargs='+',
        help='per-band mean, only for checkpoints without one',
    )
    parser.add_argument(
        '--std',
        type=float,
        nargs='+',
        help='per-band std, only for checkpoints without one',
    )
    parser.add_argument(
        '--no_progress', action='store_true', help='hide the progress bar'
    )
    parser.add_argument(
        '--devices',
        type=int,
        default=1,
        help='processes per node (GPUs, or CPU processes with --device cpu); with'
        ' more than one, whole rasters are spread over them (Lightning DDP)',
    )
    parser.add_argument(
        '--num_nodes', type=int, default=1, help='nodes (with --devices, multi-node)'
    )
    return parser  # fmt: skip


def predict_raster_main(args: Sequence[str] | None = None) -> None:
    """Run ``als4gan predict-raster``.

    Args:
        args: command-line arguments after ``predict-raster``.
    """
    parser = predict_raster_parser()
    cfg = parse_command(parser, args, 'predict-raster')
    if cfg.devices < 1 or cfg.num_nodes < 1:
        parser.error(
            f'--devices and --num_nodes must be at least 1, got {cfg.devices} and'
            f' {cfg.num_nodes}'
        )
    try:
        check_non_negative('--min_area', cfg.min_area)
        device = resolve_device(cfg.device)
        if cfg.devices * cfg.num_nodes > 1:
            _predict_raster_distributed(cfg, parser)
            return
        model = load_segmentation_checkpoint(cfg.checkpoint, device, cfg.mean, cfg.std)
        results = predict_raster(
            model, cfg.input, cfg.output, cfg.patch_size, cfg.overlap, cfg.batch_size,
            cfg.probabilities, cfg.uncertainty, cfg.vector, cfg.min_area, cfg.crs,
            cfg.overwrite, progress=not cfg.no_progress, bands=cfg.bands,
            allow_range=cfg.allow_range,
        )  # fmt: skip
    except USER_ERRORS as error:
        parser.error(str(error))
    _print_results(results, cfg.vector)


def _predict_raster_distributed(
    cfg: argparse.Namespace, parser: argparse.ArgumentParser
) -> None:
    """``predict-raster --devices N``: whole rasters spread over the processes."""
    device = str(cfg.device)
    accelerator = 'auto' if device == 'auto' else device.split(':')[0]
    try:
        done = predict_raster_distributed(
            lambda d: load_segmentation_checkpoint(cfg.checkpoint, d, cfg.mean, cfg.std),
            cfg.input, cfg.output, cfg.devices, cfg.num_nodes, accelerator,
            cfg.min_area, not cfg.no_progress, patch_size=cfg.patch_size,
            overlap=cfg.overlap, batch_size=cfg.batch_size,
            probabilities=cfg.probabilities, uncertainty=cfg.uncertainty,
            vector=cfg.vector, crs=cfg.crs, overwrite=cfg.overwrite, bands=cfg.bands,
            allow_range=cfg.allow_range,
        )  # fmt: skip
    except USER_ERRORS as error:
        parser.error(str(error))
    if done is None:  # not the first process: it prints nothing
        return
    results, summaries = done
    _print_results(results, cfg.vector)
    for summary in summaries:
        print(summary.line())


def _print_results(results: Sequence[RasterPrediction], vector: str | None) -> None:
    for result in results:
        print(f'{os.fspath(result.input)}: {result.tiles} tiles')
        if result.non_finite:
            print(
                f'  {result.non_finite} NaN / inf input pixels written as nodata'
                ' (class 255)'
            )
        for kind, path in result.outputs.items():
            print(f'  {kind:<14} {os.fspath(path)}')
        if result.vector_layer is not None:
            print(f'  {"polygons":<14} {vector} (layer {result.vector_layer})')


def labels_parser() -> argparse.ArgumentParser:
    """The ``als4gan labels`` argument parser.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog='als4gan labels',
        description=(
            'Turn polygons drawn inside the queried patches (selection.gpkg of'
            ' `als4gan query`) into one mask GeoTIFF per patch; everything outside'
            ' the patches stays unlabelled. Train on them by giving the output'
            ' folder as data.init_args.label_paths.'
        ),
        epilog='example: als4gan labels --patches out/query/selection.gpkg --drawn'
        ' drawn.gpkg --classes background building water --output labels/',
    )
    parser.add_argument(
        '--patches', required=True, help='selection.gpkg written by als4gan query'
    )
    parser.add_argument(
        '--drawn',
        required=True,
        nargs='+',
        help='vector file(s) of drawn polygons, any CRS',
    )
    parser.add_argument(
        '--classes', required=True, nargs='+', help='class names, index order'
    )
    parser.add_argument('--output', required=True, help='folder of the mask GeoTIFFs')
    parser.add_argument(
        '--label_name',
        default='class',
        help='attribute holding the class (default: class)',
    )
    parser.add_argument('--layer', help='layer of multi-layer vector files')
    parser.add_argument(
        '--background',
        default='auto',
        help="class index of patch pixels outside every polygon, 'none' to leave them"
        " unlabelled, or 'auto' (default): 0, or none when points are drawn",
    )
    parser.add_argument(
        '--point_radius',
        type=float,
        default=0.0,
        help='drawn points label a disc of this radius in pixels (default 0: one pixel)',
    )
    parser.add_argument(
        '--ignore_index', type=int, default=255, help='value of unlabelled pixels'
    )
    parser.add_argument(
        '--time_column',
        default=None,
        help='attribute of the drawn features holding when each was drawn (or its'
        ' seconds), for <output>_cost.csv (default: seconds, edit_time,'
        ' last_edit, timestamp, created, datetime or time, if present)',
    )
    parser.add_argument(
        '--overwrite', action='store_true', help='replace existing masks'
    )
    return parser  # fmt: skip


def labels_main(args: Sequence[str] | None = None) -> None:
    """Run ``als4gan labels``.

    Args:
        args: command-line arguments after ``labels``.
    """
    parser = labels_parser()
    cfg = parse_command(parser, args, 'labels')
    background: int | str | None = None
    if cfg.background.lower() == 'auto':
        background = 'auto'
    elif cfg.background.lower() != 'none':
        try:
            background = int(cfg.background)
        except ValueError:
            parser.error(
                f"--background must be a class index, 'none' or 'auto', got"
                f' {cfg.background!r}'
            )
    try:
        result = rasterize_patch_labels(
            cfg.patches, cfg.drawn, cfg.output, cfg.classes, cfg.label_name, None,
            background, cfg.ignore_index, cfg.layer, cfg.overwrite,
            cfg.point_radius, cfg.time_column,
        )  # fmt: skip
    except USER_ERRORS as error:
        parser.error(str(error))
    print(
        f'wrote {len(result.files)} patch masks to {cfg.output}'
        f' ({result.labeled_pixels} labelled pixels); what each cost:'
        f' {cost_file(cfg.output)}'
    )
    if result.points:
        print(f'{result.points} drawn point(s): only their pixels are labelled')
    fill = 'background' if result.background is not None else 'unlabelled'
    for pid in result.without_polygons[:20]:
        print(
            f'warning: patch {pid} has no drawn polygon: written as all {fill}',
            file=sys.stderr,
        )
    if len(result.without_polygons) > 20:
        print(
            f'warning: ... and {len(result.without_polygons) - 20} more patches'
            ' without a drawn polygon',
            file=sys.stderr,
        )
    for path in result.files_without_crs:
        print(
            f'warning: {path} has no CRS (no .prj?): read in the imagery CRS',
            file=sys.stderr,
        )
    if result.repaired:
        print(
            f'warning: {result.repaired} invalid drawn geometries (e.g.'
            ' self-intersecting) were repaired with make_valid',
            file=sys.stderr,
        )
    if result.features_outside:
        print(
            f'warning: {result.features_outside} drawn feature(s) overlap no queried'
            ' patch and were ignored',
            file=sys.stderr,
        )
    print(
        f'train on them with: --data.init_args.label_paths {cfg.output}'
        ' --data.init_args.labeled_ratio null'
    )
