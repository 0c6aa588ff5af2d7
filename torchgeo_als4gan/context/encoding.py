"""The paper's 4-d context vector: ``[lat/90, lon/180, sin(2 pi d/365), cos(2 pi d/365)]``.

Bernhard et al. (ECAI 2024, "Context Matters") encode where and when an image
was taken in four numbers in [-1, 1]; the day of year goes round the circle so
31 December and 1 January are neighbours. A sample without a known location or
date carries zeros and ``valid = False``: an explicit masked value, never a
silent zero that reads as (0 N, 0 E, 1 April).
"""

import datetime
import math

import torch
from torch import Tensor

__all__ = (
    'CONTEXT_DIM',
    'DAYS_PER_YEAR',
    'batch_context',
    'context_vector',
    'day_of_year',
    'missing_context',
)

#: Length of the context vector.
CONTEXT_DIM = 4

#: The paper's period of the date encoding.
DAYS_PER_YEAR = 365.0


def day_of_year(date: datetime.date) -> int:
    """Day of the year, 1 on 1 January.

    Args:
        date: a date or datetime.

    Returns:
        1 .. 366.
    """
    return date.timetuple().tm_yday


def context_vector(lat: float, lon: float, date: datetime.date | float) -> Tensor:
    """The 4-d context vector of one sample.

    Args:
        lat: latitude in degrees, in [-90, 90].
        lon: longitude in degrees, in [-180, 180].
        date: the acquisition date, or a day of year.

    Returns:
        ``[lat / 90, lon / 180, sin(2 pi d / 365), cos(2 pi d / 365)]`` (float32).

    Raises:
        ValueError: If the latitude or longitude is out of range or not finite.
    """
    if not -90 <= lat <= 90:  # also refuses NaN
        msg = f'latitude must be in [-90, 90] degrees, got {lat}'
        raise ValueError(msg)
    if not -180 <= lon <= 180:
        msg = f'longitude must be in [-180, 180] degrees, got {lon}'
        raise ValueError(msg)
    doy = float(date) if isinstance(date, int | float) else day_of_year(date)
    angle = 2 * math.pi * doy / DAYS_PER_YEAR
    values = [lat / 90, lon / 180, math.sin(angle), math.cos(angle)]
    return torch.tensor(values, dtype=torch.float32)


def missing_context() -> tuple[Tensor, Tensor]:
    """The masked context of a sample whose location or date is unknown.

    Returns:
        Zeros and ``valid = False``.
    """
    return torch.zeros(CONTEXT_DIM), torch.tensor(False)


def batch_context(batch: dict[str, Tensor], reader: str) -> tuple[Tensor, Tensor]:
    """The ``metadata`` of a batch and its validity flags (all valid if absent).

    Args:
        batch: a batch (or sub-batch).
        reader: name of what needs the metadata, for the error.

    Returns:
        ``[B, 4]`` context vectors and ``[B]`` booleans.

    Raises:
        ValueError: If the batch carries no ``metadata``.
    """
    if 'metadata' not in batch:
        msg = (
            f'{reader} needs batches with metadata (context vectors): set the'
            " datamodule's context: true (and how it finds dates: date_table,"
            ' date_regex, context_table)'
        )
        raise ValueError(msg)
    metadata = batch['metadata']
    valid = batch.get('metadata_valid')
    if valid is None:
        valid = torch.ones(metadata.shape[0], dtype=torch.bool, device=metadata.device)
    return metadata, valid.bool()
