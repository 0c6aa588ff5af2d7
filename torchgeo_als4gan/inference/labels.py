"""Label round-trip: polygons drawn inside queried patches -> labelled patches."""

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.transform

from ..datasets import GeoImagery, GeoVectorLabels
from ..files import atomic_write, check_output_folder
from .annotation_cost import annotation_costs

__all__ = ('PatchLabels', 'cost_file', 'rasterize_patch_labels')


def cost_file(output: str | os.PathLike[str]) -> Path:
    """Where ``als4gan labels`` records what each patch cost: beside the masks.

    Not inside the folder: the folder is read as ``label_paths`` (rasters only).

    Args:
        output: the masks folder.

    Returns:
        ``<output>_cost.csv``.
    """
    folder = Path(output)
    return folder.with_name(f'{folder.name}_cost.csv')


@dataclass
class PatchLabels:
    """Result of :func:`rasterize_patch_labels`.

    Attributes:
        files: one mask GeoTIFF per queried patch.
        ids: the patch ids, in the same order.
        labeled_pixels: pixels given a class (not ignore) over all patches.
        features_outside: drawn features that overlap no queried patch (ignored).
        without_polygons: ids of patches no drawn polygon overlaps (written as
            all ``background``, or all unlabelled).
        files_without_crs: drawn files read in the imagery CRS for lack of one.
        repaired: invalid drawn geometries repaired with ``make_valid``.
        background: the class given to patch pixels outside every feature
            (None: left unlabelled, e.g. for drawn points).
        points: drawn point features (sparse labels).
    """

    files: list[Path]
    ids: list[str]
    labeled_pixels: int
    features_outside: int
    without_polygons: list[str] = field(default_factory=list)
    files_without_crs: list[str] = field(default_factory=list)
    repaired: int = 0
    background: int | None = 0
    points: int = 0


def _read_patches(path: Path) -> gpd.GeoDataFrame:
    if not path.is_file():
        msg = f'--patches {os.fspath(path)!r} does not exist'
        raise FileNotFoundError(msg)
    try:
        patches = gpd.read_file(path)
    except Exception as error:
        msg = (
            f'--patches {os.fspath(path)!r} cannot be read as a GeoPackage:'
            f' {type(error).__name__}: {error}'
        )
        raise ValueError(msg) from error
    missing = [c for c in ('id', 'path') if c not in patches.columns]
    if missing:
        msg = (
            f'--patches {os.fspath(path)!r} has no {missing} column(s); use the'
            ' selection.gpkg written by `als4gan query` on a raster datamodule'
        )
        raise ValueError(msg)
    if len(patches) == 0 or patches.crs is None:
        msg = f'--patches {os.fspath(path)!r} is empty or has no CRS'
        raise ValueError(msg)
    return patches


def rasterize_patch_labels(
    patches: str | os.PathLike[str],
    drawn: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    classes: Sequence[str],
    label_name: str = 'class',
    label_map: Mapping[str, int] | None = None,
    background: int | str | None = 0,
    ignore_index: int = 255,
    layer: str | int | None = None,
    overwrite: bool = False,
    point_radius: float = 0.0,
    time_column: str | None = None,
) -> PatchLabels:
    """Rasterize polygons drawn by annotators inside the queried patches.

    ``patches`` is the labelling task: the GeoPackage of selected patch
    footprints that ``als4gan query`` writes. Annotators draw polygons with a
    class attribute inside those patches, in any vector format and any CRS.
    Each patch becomes one single-band GeoTIFF ``<output>/<patch id>.tif`` on
    the imagery's pixel grid: pixels inside a polygon get its class, other
    pixels of the patch get ``background`` (or ``ignore_index`` when it is
    None). Nothing outside the patches is written, so everywhere else stays
    unlabelled; ``<output>_cost.csv`` (beside the folder) records what each
    patch cost to draw (features, vertices, seconds when known). Give the folder as ``label_paths`` of
    :class:`~torchgeo_als4gan.datamodules.GeoSegmentationDataModule` to train
    with the patches as the labelled set.

    Args:
        patches: GeoPackage of queried patches (columns ``id``, ``path``).
        drawn: vector file(s) of drawn polygons.
        output: folder of the mask GeoTIFFs.
        classes: class names, index order.
        label_name: attribute of the drawn features holding the class (index or
            name).
        label_map: attribute value -> class index.
        background: class of patch pixels covered by no polygon; None leaves
            them unlabelled; ``auto``: 0, or None when the drawn features
            include points (sparse point labels: only the points are labelled).
        ignore_index: value of unlabelled pixels (the GeoTIFFs' nodata).
        layer: layer of multi-layer vector files.
        overwrite: replace existing mask files.
        point_radius: drawn points label the pixels whose centre is within this
            many pixels of them (0: the one pixel holding the point).
        time_column: attribute of the drawn features with when each was drawn
            (or its seconds); None: ``seconds`` or a known timestamp column,
            if any (:mod:`~torchgeo_als4gan.inference.annotation_cost`).

    Returns:
        The written files and counts.

    Raises:
        FileNotFoundError: If the patches file or a raster it names is missing.
        FileExistsError: If a mask exists and ``overwrite`` is False.
        ValueError: If the patches file lacks columns or its CRS differs from
            the imagery's, drawn features have unknown classes, no drawn
            polygon overlaps a patch, or ``background`` / ``ignore_index`` is
            out of range. Everything is checked before any mask is written.
    """
    if not 0 <= ignore_index <= 255 or 0 <= ignore_index < len(classes):
        msg = (
            f'--ignore_index must be in 0..255 and not a class index'
            f' (0..{len(classes) - 1}), got {ignore_index}'
        )
        raise ValueError(msg)
    if not isinstance(point_radius, int | float) or point_radius < 0:
        msg = f'--point_radius must be a number of pixels >= 0, got {point_radius!r}'
        raise ValueError(msg)
    auto = background == 'auto'
    if auto:
        background = 0
    if isinstance(background, str):
        msg = f"background must be a class index, None or 'auto', got {background!r}"
        raise ValueError(msg)
    if background is not None and not 0 <= background < len(classes):
        msg = (
            f'--background must be a class index in 0..{len(classes) - 1}'
            f" ({list(classes)}) or 'none', got {background}"
        )
        raise ValueError(msg)
    patch_file = Path(patches)
    frame = _read_patches(patch_file)
    rasters = sorted(set(frame['path']))
    absent = [r for r in rasters if not os.path.isfile(r)]
    if absent:
        msg = f'raster {absent[0]!r} named in --patches {os.fspath(patch_file)!r} does not exist'
        raise FileNotFoundError(msg)
    imagery = GeoImagery(rasters)
    if frame.crs != imagery.crs:
        msg = (
            f'--patches {os.fspath(patch_file)!r} is in {frame.crs}, the imagery in'
            f' {imagery.crs}; use the GeoPackage written by `als4gan query`'
        )
        raise ValueError(msg)
    fill = ignore_index if background is None else background
    labels = GeoVectorLabels(
        drawn, label_name, classes, label_map, fill, crs=imagery.crs,
        res=imagery.res, layer=layer, argument='--drawn',
    )  # fmt: skip
    features = labels.features
    points = features.geom_type.isin(['Point', 'MultiPoint']).to_numpy()
    if points.any():
        if auto:
            background = None
            labels.background = ignore_index  # only the points are labelled
        elif background is not None:
            msg = (
                f'--drawn has {int(points.sum())} point(s) but --background is'
                f' {background}: every other pixel of the patches would be class'
                f' {background}; use --background none (or auto) for sparse point labels'
            )
            raise ValueError(msg)
        if point_radius > 0:
            # pixels whose centre is within the radius (inclusive: a hair more,
            # as the buffer's polygon passes exactly through those centres)
            features.loc[points, 'geometry'] = features.geometry[points].buffer(
                (point_radius + 0.01) * imagery.res[0]
            )
    hits = [features.sindex.query(g, predicate='intersects') for g in frame.geometry]
    without = [str(pid) for pid, h in zip(frame['id'], hits, strict=True) if not len(h)]
    if len(without) == len(frame):
        crs_note = ''
        if labels.files_without_crs:
            crs_note = (
                f'; {labels.files_without_crs[0]!r} has no CRS (a Shapefile without'
                f' its .prj?) and was read as {imagery.crs}'
            )
        msg = (
            f'No drawn polygon ({len(features)} in --drawn) overlaps any of the'
            f' {len(frame)} queried patches of --patches {os.fspath(patch_file)!r}'
            f'{crs_note}: nothing would be labelled'
        )
        raise ValueError(msg)
    costs = annotation_costs([str(i) for i in frame['id']], hits, features, time_column)
    folder = check_output_folder(output)
    targets = [folder / f'{pid}.tif' for pid in frame['id']]
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        msg = f'{os.fspath(existing[0])!r} exists; pass --overwrite to replace it'
        raise FileExistsError(msg)
    xres, yres = imagery.res
    t = imagery.bounds[2]
    labelled = 0
    for target, geometry in zip(targets, frame.geometry, strict=True):
        minx, miny, maxx, maxy = geometry.bounds
        width, height = round((maxx - minx) / xres), round((maxy - miny) / yres)
        maxx, miny = minx + width * xres, maxy - height * yres
        query = (slice(minx, maxx, xres), slice(miny, maxy, yres), t)
        mask = labels[query]['mask'].numpy()
        labelled += int((mask != ignore_index).sum())
        profile = {
            'driver': 'GTiff', 'width': width, 'height': height, 'count': 1,
            'dtype': 'uint8', 'crs': imagery.crs, 'nodata': ignore_index,
            'transform': rasterio.transform.from_bounds(minx, miny, maxx, maxy, width, height),
            'compress': 'deflate',
        }  # fmt: skip
        with atomic_write(target) as tmp, rasterio.open(tmp, 'w', **profile) as dst:
            dst.write(mask.astype(np.uint8)[None])
    with atomic_write(cost_file(folder)) as tmp:
        costs.to_csv(tmp, index=False)
    area = frame.geometry.union_all()
    is_point = features.geom_type.isin(['Point', 'MultiPoint'])
    outside = int(
        (~features.geometry.intersects(area) & is_point).sum()
        + ((features.geometry.intersection(area).area <= 0) & ~is_point).sum()
    )
    return PatchLabels(
        targets, [str(i) for i in frame['id']], labelled, outside, without,
        labels.files_without_crs, labels.repaired, background, int(points.sum()),
    )  # fmt: skip
