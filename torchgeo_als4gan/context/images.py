"""The context of each image of a non-georeferenced dataset (tile folders, UC Merced, ...).

Per image id, in this order: a row of a CSV ``id, lat, lon, date``
(:func:`~torchgeo_als4gan.context.read_context_table`); else, for a
georeferenced image file, the centre of its bounds and its date (file name
regex or GeoTIFF tag). An image with neither is an error naming a few ids; a
row with an empty date is an explicit masked value (``valid`` False).
"""

import os
from collections.abc import Sequence

import rasterio
import rasterio.errors
import torch
from torch import Tensor

from .encoding import context_vector, missing_context
from .sources import file_date, lonlat_of_bounds, read_context_table

__all__ = ('ImageContext',)


class ImageContext:
    """Context vectors by image id, read once."""

    def __init__(
        self,
        ids: Sequence[str],
        paths: Sequence[str],
        table: str | os.PathLike[str] | None = None,
        date_regex: str | None = None,
        date_format: str = '%Y%m%d',
    ) -> None:
        """Read the context of every image.

        Args:
            ids: image ids.
            paths: their image files, in the same order.
            table: CSV ``id, lat, lon, date`` (first choice).
            date_regex: file-name regex with a ``date`` group, for georeferenced
                images not in the table.
            date_format: ``strptime`` format of that group.

        Raises:
            ValueError: If some images are neither in the table nor
                georeferenced with a readable date (a few are named).
        """
        rows = read_context_table(table) if table is not None else None
        self.vectors: dict[str, tuple[Tensor, Tensor]] = {}
        missing: list[str] = []
        for image_id, path in zip(ids, paths, strict=True):
            if rows is not None and image_id in rows.index:
                row = rows.loc[image_id]
                if row['date'] is None:
                    self.vectors[image_id] = missing_context()
                else:
                    vector = context_vector(row['lat'], row['lon'], row['date'])
                    self.vectors[image_id] = vector, _true()
                continue
            found = _georeferenced(path, date_regex, date_format)
            if found is None:
                missing.append(image_id)
            else:
                self.vectors[image_id] = found, _true()
        if missing:
            where = (
                f'in {os.fspath(table)!r}'
                if table is not None
                else 'in a context_table'
            )
            msg = (
                f'No location and date for images {missing[:3]}'
                f'{f" and {len(missing) - 3} more" if len(missing) > 3 else ""}:'
                f' list them {where} (id, lat, lon, date), or use georeferenced'
                ' images with a date in their name (date_regex) or tags'
            )
            raise ValueError(msg)

    def __call__(self, image_id: str) -> tuple[Tensor, Tensor]:
        """The context vector and its validity flag of an image.

        Args:
            image_id: the image id.

        Returns:
            ``[4]`` vector and a boolean scalar.
        """
        vector, valid = self.vectors[image_id]
        return vector.clone(), valid.clone()


def _true() -> Tensor:
    return torch.tensor(True)


def _georeferenced(
    path: str, date_regex: str | None, date_format: str
) -> Tensor | None:
    try:
        with rasterio.open(path) as src:
            crs, bounds = src.crs, tuple(src.bounds)
    except rasterio.errors.RasterioError:
        return None
    if crs is None:
        return None
    date = file_date(path, date_regex, date_format)
    if date is None:
        return None
    lat, lon = lonlat_of_bounds(bounds, crs.to_wkt())
    return context_vector(lat, lon, date)
