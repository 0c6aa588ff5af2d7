"""The footprint table of a georeferenced datamodule: labels, splits, context.

:class:`~torchgeo_als4gan.datamodules.GeoSegmentationDataModule` cuts imagery
into a grid of patch footprints (a GeoDataFrame with ``id``, ``file``, ``path``,
``row``, ``col`` and ``split``). These functions open the labels, assign the
labelled footprints to train/val/test in spatial blocks, attach the context
vector of each footprint and turn a batch's bounds into device tensors.
"""

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import torch
from torch import Tensor

from ..context import context_vector, missing_context, resolve_dates
from ..datasets import (
    GeoImagery,
    GeoRasterMask,
    GeoSegmentationScene,
    GeoVectorLabels,
    OverlaidLabels,
)
from ..datasets.utils import seeded_split
from ..samplers import FootprintGeoSampler

__all__ = (
    'VECTOR_SUFFIXES',
    'assign_block_splits',
    'attach_context',
    'covered',
    'footprint_context',
    'footprints_to_tensors',
    'open_labels',
    'overlay_added_labels',
    'scene_of',
    'split_sampler',
)

#: Label files read as vector features (by extension); others are raster masks.
VECTOR_SUFFIXES = ('.gpkg', '.geojson', '.json', '.shp', '.parquet', '.fgb', '.kml')


def open_labels(
    paths: str | Sequence[str],
    classes: Sequence[str],
    label_name: str,
    label_map: dict[str, int] | None,
    background: int,
    label_glob: str,
    ignore_index: int,
) -> GeoRasterMask | GeoVectorLabels:
    """Vector labels or raster masks, by the first path's extension.

    Args:
        paths: label files or folders.
        classes: class names, index order.
        label_name: attribute of the vector features holding their class.
        label_map: attribute value -> class index for vector labels.
        background: class of pixels covered by no vector feature.
        label_glob: glob of label files in folders.
        ignore_index: mask value of unlabelled pixels.

    Returns:
        The label dataset.
    """
    first = paths if isinstance(paths, str) else paths[0]
    if str(first).lower().endswith(VECTOR_SUFFIXES):
        return GeoVectorLabels(
            paths, label_name, classes, label_map, background, filename_glob=label_glob
        )
    return GeoRasterMask(paths, label_glob, ignore_index=ignore_index)


def scene_of(
    imagery: GeoImagery,
    labels: GeoRasterMask | GeoVectorLabels,
    classes: Sequence[str],
    ignore_index: int,
    label_arg: str,
    image_arg: str,
) -> GeoSegmentationScene:
    """Imagery and labels joined, or an error naming both extents.

    Args:
        imagery: the imagery.
        labels: its labels.
        classes: class names.
        ignore_index: mask value of unlabelled pixels.
        label_arg: the labels' argument and value, for the error.
        image_arg: the imagery's argument and value, for the error.

    Returns:
        The scene (their intersection).

    Raises:
        ValueError: If the labels do not overlap the imagery.
    """
    try:
        return GeoSegmentationScene(imagery, labels, classes, ignore_index=ignore_index)
    except RuntimeError as error:
        if 'intersection' not in str(error):
            raise
        msg = (
            f'{label_arg} do not overlap {image_arg}: labels cover'
            f' {tuple(round(v, 3) for v in labels.index.total_bounds)},'
            ' imagery covers'
            f' {tuple(round(v, 3) for v in imagery.index.total_bounds)}'
            f' (both in {imagery.crs}); check the files and their CRS'
        )
        raise ValueError(msg) from error


def covered(footprints: gpd.GeoDataFrame, area: Any) -> Any:
    """Footprints overlapping ``area`` with a positive area (not just an edge).

    Args:
        footprints: the footprint table.
        area: a shapely geometry in the footprints' CRS.

    Returns:
        A boolean array, one entry per footprint.
    """
    return (footprints.intersection(area).area > 0).to_numpy()


def assign_block_splits(
    footprints: gpd.GeoDataFrame,
    labeled_area: Any,
    block: float,
    fractions: Sequence[float],
    seed: int,
) -> None:
    """Set ``split`` of the footprints inside ``labeled_area``, block by block.

    Footprints whose top-left corner falls in the same ``block`` x ``block``
    square (per file) share a split, so neighbouring patches never straddle
    train and test. Neighbours that only touch the labelled area along an edge
    keep their split (``unlabeled``).

    Args:
        footprints: the footprint table (modified in place).
        labeled_area: the area the labels cover, in the footprints' CRS.
        block: side of a split block in pixels (``split_block * stride``).
        fractions: train/val/test fractions of the blocks.
        seed: seed of the block assignment.
    """
    inside = covered(footprints, labeled_area)
    keys = (
        footprints['file'] + '/' + (footprints['row'] // block).astype(str)
        + '/' + (footprints['col'] // block).astype(str)
    )  # fmt: skip
    blocks = sorted(set(keys[inside]))
    split = seeded_split(len(blocks), fractions, seed)
    block_split = {blocks[i]: name for name, items in split.items() for i in items}
    footprints.loc[inside, 'split'] = keys[inside].map(block_split)


def split_sampler(
    scene: GeoSegmentationScene,
    footprints: gpd.GeoDataFrame,
    split: str,
    patch_size: int,
    expected: bool,
    split_block: int,
) -> FootprintGeoSampler | None:
    """A sampler over the footprints of one split, or None if it has none.

    Args:
        scene: the labelled scene.
        footprints: the footprint table.
        split: ``val`` or ``test``.
        patch_size: patch side in pixels.
        expected: whether the split fractions give this split patches.
        split_block: side of the split blocks, in patches (for the error).

    Returns:
        The sampler, or None when the split is empty and not expected.

    Raises:
        ValueError: If the split is expected but the labels gave it no block.
    """
    chosen = footprints[footprints['split'] == split]
    if len(chosen):
        return FootprintGeoSampler(scene, chosen, patch_size)
    if expected:
        n_labeled = int((footprints['split'] != 'unlabeled').sum())
        msg = (
            f'No {split} patch: the labels cover only {n_labeled} patches in'
            f' blocks of {split_block}x{split_block}; lower split_block or'
            ' patch_size, or label a larger area'
        )
        raise ValueError(msg)
    return None


def overlay_added_labels(
    footprints: gpd.GeoDataFrame,
    imagery: GeoImagery,
    labels: GeoRasterMask | GeoVectorLabels,
    added_paths: str | Sequence[str],
    classes: Sequence[str],
    ignore_index: int,
) -> GeoSegmentationScene:
    """Overlay masks labelled after the split; the patches they cover become train.

    Args:
        footprints: the footprint table, already split (modified in place).
        imagery: the imagery.
        labels: the labels the split was drawn on.
        added_paths: the added mask GeoTIFFs (``added_label_paths``).
        classes: class names.
        ignore_index: mask value of unlabelled pixels.

    Returns:
        The scene of the imagery with both labels.

    Raises:
        ValueError: If an added mask covers a val or test patch.
    """
    added = GeoRasterMask(added_paths, '*.tif', ignore_index=ignore_index)
    area = added.index.to_crs(footprints.crs).geometry.union_all()
    inside = covered(footprints, area)
    held_out = footprints.loc[inside & footprints['split'].isin(['val', 'test'])]
    if len(held_out):
        msg = (
            f'added_label_paths {added_paths!r} cover val/test patches'
            f' {list(held_out["id"][:5])}: added masks may label pool patches only'
            ' (train or unlabelled), or they would leak into the evaluation'
        )
        raise ValueError(msg)
    footprints.loc[inside, 'split'] = 'train'
    overlaid = OverlaidLabels(labels, added, ignore_index)
    return GeoSegmentationScene(imagery, overlaid, classes, ignore_index=ignore_index)


def footprint_context(
    footprints: gpd.GeoDataFrame,
    date_regex: str | None,
    date_format: str,
    date_table: str | None,
) -> dict[tuple[float, float], Tensor]:
    """The context vector of every footprint: centre lon/lat and file date.

    Args:
        footprints: the footprint table.
        date_regex: file-name regex with a ``date`` group.
        date_format: ``strptime`` format of that group.
        date_table: CSV ``file, date`` of acquisition dates (first choice).

    Returns:
        Context vectors by each footprint's (xmin, ymax) corner, rounded to 6
        decimals.
    """
    dates = resolve_dates(
        sorted(set(footprints['path'])), date_regex, date_format, date_table
    )
    centres = footprints.geometry.centroid.to_crs('EPSG:4326')
    bounds = footprints.geometry.bounds.to_numpy()
    by_corner = {}
    for (xmin, _, _, ymax), centre, path in zip(
        bounds, centres, footprints['path'], strict=True
    ):
        key = (round(float(xmin), 6), round(float(ymax), 6))
        by_corner[key] = context_vector(centre.y, centre.x, dates[path])
    return by_corner


def attach_context(
    batch: dict[str, Any],
    bounds: Sequence[Any],
    by_corner: dict[tuple[float, float], Tensor],
) -> None:
    """Add ``metadata`` and ``metadata_valid`` of the batch's footprints.

    Args:
        batch: the batch (modified in place).
        bounds: its samples' bounds (x, y, t slices).
        by_corner: :func:`footprint_context`'s vectors.
    """
    vectors, valid = [], []
    for x, y, _ in bounds:
        vector = by_corner.get((round(x.start, 6), round(y.stop, 6)))
        if vector is None:
            vector, known = missing_context()
        else:
            known = torch.tensor(True)
        vectors.append(vector)
        valid.append(known)
    batch['metadata'] = torch.stack(vectors)
    batch['metadata_valid'] = torch.stack(valid)


def footprints_to_tensors(
    batch: dict[str, Any], by_corner: dict[tuple[float, float], Tensor] | None
) -> None:
    """Replace ``bounds`` and ``crs`` with ``footprint`` (and context) tensors.

    TorchGeo drops ``bounds`` when it moves a batch to the device; a tensor of
    (xmin, ymin, xmax, ymax) survives.

    Args:
        batch: one (sub-)batch, modified in place.
        by_corner: context vectors to attach, or None.
    """
    bounds = batch.pop('bounds', None)
    batch.pop('crs', None)
    if bounds is None:
        return
    batch['footprint'] = torch.tensor(
        [[x.start, y.start, x.stop, y.stop] for x, y, _ in bounds], dtype=torch.float64
    )
    if by_corner is not None:
        attach_context(batch, bounds, by_corner)
