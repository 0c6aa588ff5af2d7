"""Spatiotemporal context: where and when each image was taken, read from the data."""

from .encoding import (
    CONTEXT_DIM,
    batch_context,
    context_vector,
    day_of_year,
    missing_context,
)
from .images import ImageContext
from .sources import (
    DATE_TAGS,
    file_date,
    lonlat_of_bounds,
    raster_location,
    read_context_table,
    read_date_table,
    resolve_dates,
)

__all__ = (
    'CONTEXT_DIM',
    'DATE_TAGS',
    'ImageContext',
    'batch_context',
    'context_vector',
    'day_of_year',
    'file_date',
    'lonlat_of_bounds',
    'missing_context',
    'raster_location',
    'read_context_table',
    'read_date_table',
    'resolve_dates',
)
