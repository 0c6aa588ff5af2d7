"""What labelling each patch cost: drawn features, vertices and, when known, time.

``als4gan labels`` writes ``<output>_cost.csv`` (``id``, ``features``,
``points``, ``vertices``, ``seconds``, ``cost``, ``cost_unit``) beside the
masks folder; ``cost`` is the seconds when the drawn file says when each feature was
drawn, else the vertex count (a proxy of clicks), and the loop's
``cost_model: file`` reads the file back as ``cost_file``.

Time comes from a per-feature ``seconds`` column the annotator fills, or from
edit timestamps (QGIS can fill a default ``now()`` field; names tried:
:data:`TIME_COLUMNS`): features are put in drawing order and each gets the gap
since the one before (the first one the median gap), breaks longer than
``max_gap_s`` cut to it; a feature
that crosses several patches shares its time among them.
"""

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ('TIME_COLUMNS', 'annotation_costs', 'feature_seconds')

#: Columns read as drawing timestamps, in this order.
TIME_COLUMNS = ('edit_time', 'last_edit', 'timestamp', 'created', 'datetime', 'time')


def feature_seconds(
    features: gpd.GeoDataFrame, time_column: str | None = None, max_gap_s: float = 600.0
) -> tuple[np.ndarray, str | None]:
    """Seconds spent drawing each feature, when the file records it.

    Args:
        features: the drawn features.
        time_column: the column to read (None: ``seconds``, then
            :data:`TIME_COLUMNS`).
        max_gap_s: longer gaps between two features count as this (a break).

    Returns:
        Seconds per feature (NaN when unknown) and the column they came from.

    Raises:
        ValueError: If ``time_column`` is missing or not a time or a number.
    """
    n = len(features)
    if time_column is not None and time_column not in features.columns:
        msg = (
            f'--time_column {time_column!r} is not an attribute of --drawn; it has'
            f' {list(features.columns.drop("geometry"))}'
        )
        raise ValueError(msg)
    names = [time_column] if time_column else ['seconds', *TIME_COLUMNS]
    for name in names:
        if name not in features.columns:
            continue
        values = features[name]
        if name == 'seconds' or pd.api.types.is_numeric_dtype(values):
            seconds = pd.to_numeric(values, errors='coerce').to_numpy(dtype=float)
            return seconds, name
        stamps = pd.to_datetime(values, errors='coerce', utc=True)
        if stamps.isna().all():
            if time_column is not None:
                msg = f'--time_column {time_column!r} holds neither times nor numbers'
                raise ValueError(msg)
            continue
        order = np.argsort(stamps.to_numpy(), kind='stable')
        ordered = stamps.iloc[order]
        gaps = ordered.diff().dt.total_seconds().to_numpy(dtype=float)
        drawing = gaps[gaps <= max_gap_s]  # not NaN and not a break
        first = float(np.median(drawing)) if len(drawing) else np.nan
        gaps = np.minimum(gaps, max_gap_s)
        gaps[np.isnan(gaps)] = first  # the first feature: a typical gap
        seconds = np.full(n, np.nan)
        seconds[order] = gaps
        seconds[stamps.isna().to_numpy()] = np.nan
        return seconds, name
    return np.full(n, np.nan), None


def annotation_costs(
    ids: Sequence[str],
    hits: Sequence[np.ndarray],
    features: gpd.GeoDataFrame,
    time_column: str | None = None,
    max_gap_s: float = 600.0,
) -> pd.DataFrame:
    """One row per patch: its drawn features, vertices, seconds and cost.

    Args:
        ids: the patch ids.
        hits: per patch, the indices of the features overlapping it.
        features: the drawn features.
        time_column: see :func:`feature_seconds`.
        max_gap_s: see :func:`feature_seconds`.

    Returns:
        Columns ``id``, ``features``, ``points``, ``vertices``, ``seconds``
        (NaN when the drawn file has no times), ``cost`` and ``cost_unit``
        (``seconds`` or ``vertices``).
    """
    seconds, _ = feature_seconds(features, time_column, max_gap_s)
    vertices = shapely.get_num_coordinates(features.geometry.to_numpy())
    points = features.geom_type.isin(['Point', 'MultiPoint']).to_numpy()
    shares = np.zeros(len(features))
    for hit in hits:
        shares[hit] += 1
    rows = []
    for pid, hit in zip(ids, hits, strict=True):
        hit = np.asarray(hit, dtype=np.int64)
        spent = seconds[hit] / shares[hit]
        rows.append({
            'id': str(pid), 'features': len(hit), 'points': int(points[hit].sum()),
            'vertices': int(vertices[hit].sum()),
            'seconds': float(spent.sum()) if len(hit) and not np.isnan(spent).any()
            else (0.0 if not len(hit) else np.nan),
        })  # fmt: skip
    table = pd.DataFrame(rows)
    timed = not table['seconds'].isna().any()
    table['cost'] = table['seconds'] if timed else table['vertices'].astype(float)
    table['cost_unit'] = 'seconds' if timed else 'vertices'
    return table
