"""Groups of pool items for stratified selection (``stratify_by``)."""

import os
import re
from pathlib import Path

import geopandas as gpd

from ..checks import read_vector
from ..datasets.records import ImageRecord
from .pool import QueryPool

__all__ = ('STRATIFY_BY', 'pool_groups')

#: What ``stratify_by`` accepts.
STRATIFY_BY = ('scene', 'source', 'file', 'region')

_PATCH_SUFFIX = re.compile(r'_r\d+_c\d+(_p\d+)?$')


def _patched_records(pool: QueryPool) -> tuple[list[int], list[ImageRecord]] | None:
    """Record index of every pool item for patched tile datasets, else None."""
    dataset = pool.dataset
    patches = getattr(dataset, 'patches', None)
    records = getattr(dataset, 'records', None)
    if patches is None or records is None:
        return None
    return [int(p.image) for p in patches], list(records)


def _region_groups(
    pool: QueryPool, regions: str | os.PathLike[str] | None, column: str | None
) -> list[str]:
    if pool.footprints is None:
        msg = "stratify_by 'region' needs a georeferenced pool (raster footprints)"
        raise ValueError(msg)
    if regions is None or column is None:
        msg = "stratify_by 'region' needs regions (a vector file) and region_column"
        raise ValueError(msg)
    path = Path(regions)
    if not path.is_file():
        msg = f'regions: vector file {os.fspath(path)!r} does not exist'
        raise FileNotFoundError(msg)
    layer = read_vector(path, 'regions')
    if column not in layer.columns:
        msg = (
            f'region_column {column!r} is not a column of {os.fspath(path)!r}:'
            f' {[c for c in layer.columns if c != "geometry"]}'
        )
        raise ValueError(msg)
    footprints = pool.footprints
    centres = gpd.GeoDataFrame(
        {'id': list(footprints['id'])},
        geometry=footprints.geometry.centroid,
        crs=footprints.crs,
    ).to_crs(layer.crs)
    joined = gpd.sjoin(
        centres, layer[[column, 'geometry']], how='left', predicate='within'
    )
    joined = joined[~joined.index.duplicated(keep='first')].sort_index()
    values = joined[column]
    empty = values.isna() | (values.astype(str).str.strip() == '')
    if bool(empty.any()):
        missing = list(joined.loc[empty, 'id'])
        msg = (
            f'{len(missing)} pool item(s) have no {column!r} in {os.fspath(path)!r}'
            f' (outside every region, or an empty value), e.g. {missing[:5]}'
        )
        raise ValueError(msg)
    return [str(v) for v in values]


def pool_groups(
    pool: QueryPool,
    stratify_by: str | None,
    regions: str | os.PathLike[str] | None = None,
    region_column: str | None = None,
) -> list[str] | None:
    """The group of every pool item, for per-group quotas.

    * ``scene``: the scene class of the tile (UC Merced's 21 classes), for
      patched tile datasets with scene labels;
    * ``source``: the source image a patch was cut from (DeepGlobe images,
      tiles), or the raster file of a georeferenced footprint;
    * ``file``: the raster file of a georeferenced footprint;
    * ``region``: the ``region_column`` value of the polygon of ``regions``
      (AOI, biome, admin unit) holding the footprint's centre.

    Args:
        pool: the pool (``datamodule.query_pool()``).
        stratify_by: one of :data:`STRATIFY_BY`, or None for no groups.
        regions: vector file for ``region``.
        region_column: its column.

    Returns:
        One group name per pool item, or None.

    Raises:
        ValueError: If the pool cannot be grouped that way, or an item has no
            group (the message names a few).
    """
    if stratify_by is None:
        return None
    if stratify_by not in STRATIFY_BY:
        msg = f'stratify_by must be one of {STRATIFY_BY} or null, got {stratify_by!r}'
        raise ValueError(msg)
    if stratify_by == 'region':
        return _region_groups(pool, regions, region_column)
    if pool.footprints is not None and stratify_by in ('file', 'source'):
        return [str(f) for f in pool.footprints['file']]
    patched = _patched_records(pool)
    if stratify_by == 'source' and patched is not None:
        image_of, records = patched
        return [records[i].id for i in image_of]
    if stratify_by == 'source':  # patch ids carry their image id
        return [_PATCH_SUFFIX.sub('', i) for i in pool.ids]
    if stratify_by == 'scene' and patched is not None:
        image_of, records = patched
        names = tuple(getattr(pool.dataset, 'scene_classes', ()))
        labels = [records[i].label for i in image_of]
        unknown = [pid for pid, lab in zip(pool.ids, labels, strict=True)
                   if not 0 <= lab < len(names)]  # fmt: skip
        if not unknown:
            return [names[lab] for lab in labels]
        msg = f'{len(unknown)} pool item(s) have no scene class, e.g. {unknown[:5]}'
        raise ValueError(msg)
    msg = (
        f'stratify_by {stratify_by!r} does not apply to this pool: scene needs'
        ' tiles with scene classes (UC Merced), file a georeferenced pool'
    )
    raise ValueError(msg)
