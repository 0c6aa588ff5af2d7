"""Patch footprints for GeoDatasets and a sampler restricted to them."""

import os
from collections.abc import Iterator

import geopandas as gpd
import numpy as np
import shapely
import torch
from torchgeo.datasets import GeoDataset
from torchgeo.samplers import GeoSampler

from ..checks import check_positive
from ..datasets.utils import grid_windows

__all__ = ('FootprintGeoSampler', 'grid_footprints')


def grid_footprints(
    dataset: GeoDataset, size: int, stride: int | None = None
) -> gpd.GeoDataFrame:
    """Cut every file of a GeoDataset into a grid of square patch footprints.

    The grid of each file starts at its top-left corner; the last row and column
    reach past the file when it is not a multiple of the stride (the outside part
    is padded when read), so every pixel is in some patch.

    Args:
        dataset: the dataset (its index gives the file footprints and CRS).
        size: patch side in pixels of the dataset resolution.
        stride: step in pixels (defaults to ``size``).

    Returns:
        A GeoDataFrame in the dataset CRS with columns ``id``
        (``<file stem>_r<row>_c<col>``), ``file`` (stem), ``path``, ``row``,
        ``col`` (pixels) and the footprint polygon.
    """
    check_positive('size', size)
    stride = check_positive('stride', stride, optional=True) or size
    xres, yres = dataset.res
    rows: dict[str, list[object]] = {
        'id': [], 'file': [], 'path': [], 'row': [], 'col': []
    }  # fmt: skip
    geometries = []
    for i in range(len(dataset.index)):
        minx, miny, maxx, maxy = dataset.index.geometry.iloc[i].bounds
        width = round((maxx - minx) / xres)
        height = round((maxy - miny) / yres)
        name = dataset.index.iloc[i].get('filepath', f'tile{i}')
        stem = os.path.splitext(os.path.basename(str(name)))[0]
        for row, col in grid_windows(height, width, size, stride):
            left, top = minx + col * xres, maxy - row * yres
            geometries.append(
                shapely.box(left, top - size * yres, left + size * xres, top)
            )
            rows['id'].append(f'{stem}_r{row}_c{col}')
            rows['file'].append(stem)
            rows['path'].append(str(name))
            rows['row'].append(row)
            rows['col'].append(col)
    return gpd.GeoDataFrame(rows, geometry=geometries, crs=dataset.crs)


class FootprintGeoSampler(GeoSampler):
    """Yield exactly the given footprints (e.g. the labelled patches of a raster).

    Footprints in another CRS are reprojected to the dataset CRS; each query keeps
    the footprint's top-left corner and a fixed size in pixels so all samples of a
    batch have the same shape.
    """

    def __init__(
        self,
        dataset: GeoDataset,
        footprints: gpd.GeoDataFrame,
        size: int | None = None,
        shuffle: bool = False,
        length: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        """Initialize a new FootprintGeoSampler.

        Args:
            dataset: dataset to sample from.
            footprints: one polygon per patch, with a CRS.
            size: patch side in pixels (default: the first footprint's width).
            shuffle: random order every epoch.
            length: samples per epoch; drawn with replacement when larger than the
                number of footprints (so a tiny labelled set still fills batches).
            generator: random generator for shuffling / drawing.

        Raises:
            ValueError: If ``footprints`` is empty or has no CRS.
        """
        super().__init__(dataset)
        if len(footprints) == 0:
            msg = 'footprints is empty: no patch to sample'
            raise ValueError(msg)
        if footprints.crs is None:
            msg = 'footprints has no CRS'
            raise ValueError(msg)
        footprints = footprints.to_crs(dataset.crs)
        xres, _yres = self.res
        bounds = footprints.geometry.bounds.to_numpy()
        if size is None:
            size = round((bounds[0, 2] - bounds[0, 0]) / xres)
        self.size = size
        self.corners = bounds[:, [0, 3]]  # minx, maxy
        self.shuffle = shuffle
        self.length = length or len(footprints)
        self.generator = generator
        self.base_seed = generator.initial_seed() if generator is not None else None
        _, _, t = dataset.bounds
        self.t = t

    def set_epoch(self, epoch: int) -> None:
        """Reseed the generator for an epoch, so that resumed runs repeat the draws.

        Args:
            epoch: the epoch about to start (Lightning calls this).
        """
        if self.generator is not None and self.base_seed is not None:
            self.generator.manual_seed(self.base_seed + 1_000_003 * epoch)

    def _order(self) -> list[int]:
        n = len(self.corners)
        if self.length > n:
            picks = torch.randint(n, (self.length,), generator=self.generator)
            return [int(i) for i in picks]
        if self.shuffle or self.length < n:
            return torch.randperm(n, generator=self.generator)[: self.length].tolist()
        return list(range(n))

    def __iter__(self) -> Iterator[tuple[slice, slice, slice]]:
        """Yield one query per footprint.

        Yields:
            [xmin:xmax:xres, ymin:ymax:yres, tmin:tmax] slices.
        """
        xres, yres = self.res
        for i in self._order():
            minx, maxy = (float(v) for v in np.asarray(self.corners[i]))
            yield (
                slice(minx, minx + self.size * xres, xres),
                slice(maxy - self.size * yres, maxy, yres),
                self.t,
            )

    def __len__(self) -> int:
        """Return the number of queries per epoch.

        Returns:
            Number of queries.
        """
        return self.length
