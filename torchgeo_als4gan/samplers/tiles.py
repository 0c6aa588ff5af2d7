"""Tiles covering whole rasters, and a GeoSampler that yields them in order."""

import os
from collections.abc import Iterator
from dataclasses import dataclass

import rasterio
from torch.utils.data import DistributedSampler
from torchgeo.datasets import GeoDataset
from torchgeo.samplers import GeoSampler

from ..runtime import assign_to_ranks

__all__ = ('RasterTileGeoSampler', 'TileGrid', 'tile_offsets')


def tile_offsets(size: int, patch: int, overlap: int) -> list[int]:
    """Start offsets of tiles covering ``size`` pixels with the given overlap.

    Tiles step by ``patch - overlap``; the last tile is shifted back to end at the
    raster edge, so no tile reaches outside a raster at least ``patch`` long (a
    shorter raster is one tile, padded when read).

    Args:
        size: raster height or width in pixels.
        patch: tile side in pixels.
        overlap: pixels shared by neighbouring tiles, ``0 <= overlap < patch``.

    Returns:
        Increasing offsets, first 0, last ``max(size - patch, 0)``.

    Raises:
        ValueError: If the sizes are not positive or the overlap is out of range.
    """
    if size < 1 or patch < 1:
        msg = f'size and patch must be positive, got size={size}, patch={patch}'
        raise ValueError(msg)
    if not 0 <= overlap < patch:
        msg = f'overlap must be in [0, patch_size), got {overlap} for patch {patch}'
        raise ValueError(msg)
    if size <= patch:
        return [0]
    return [*range(0, size - patch, patch - overlap), size - patch]


@dataclass(frozen=True)
class TileGrid:
    """Tiles over a ``height`` x ``width`` raster, in row-major order.

    Attributes:
        height: raster height.
        width: raster width.
        patch: tile side as read and fed to the model.
        overlap: requested overlap between neighbouring tiles.
    """

    height: int
    width: int
    patch: int
    overlap: int

    @property
    def rows(self) -> list[int]:
        """Row offsets of the tile rows."""
        return tile_offsets(self.height, self.patch, self.overlap)

    @property
    def cols(self) -> list[int]:
        """Column offsets of the tile columns."""
        return tile_offsets(self.width, self.patch, self.overlap)

    @property
    def tile_height(self) -> int:
        """Rows of a tile that lie inside the raster."""
        return min(self.patch, self.height)

    @property
    def tile_width(self) -> int:
        """Columns of a tile that lie inside the raster."""
        return min(self.patch, self.width)

    def tiles(self) -> list[tuple[int, int]]:
        """(row index, column index) of every tile, row-major.

        Returns:
            The tile indices.
        """
        return [(i, j) for i in range(len(self.rows)) for j in range(len(self.cols))]

    def __len__(self) -> int:
        """Number of tiles."""
        return len(self.rows) * len(self.cols)


class RasterTileGeoSampler(GeoSampler, DistributedSampler):  # type: ignore[type-arg]
    """Every tile of every file of a raster dataset, file by file, row-major.

    The order is the one :class:`~torchgeo_als4gan.inference.StreamingBlender`
    needs, so predictions of consecutive batches can be blended and written as
    they arrive. Files must be on the dataset's grid (same CRS and resolution).

    With several processes (``world_size``), each yields every tile of the
    files assigned to its ``rank`` (largest first to the least loaded, see
    :func:`~torchgeo_als4gan.runtime.assign_to_ranks`), so whole rasters are
    predicted per process. It counts as a ``DistributedSampler``, so that
    Lightning does not split its tiles between processes again.
    """

    def __init__(
        self,
        dataset: GeoDataset,
        patch: int,
        overlap: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        """Initialize a new RasterTileGeoSampler.

        Args:
            dataset: a raster dataset (its index has the files).
            patch: tile side in pixels.
            overlap: pixels shared by neighbouring tiles.
            rank: this process.
            world_size: number of processes.

        Raises:
            ValueError: If a file is in another CRS or resolution than the dataset.
        """
        GeoSampler.__init__(self, dataset)
        # what Lightning reads of a DistributedSampler
        self.num_replicas, self.rank, self.epoch = world_size, rank, 0
        self.shuffle, self.drop_last = False, False
        self.files: list[tuple[str, TileGrid, rasterio.Affine]] = []
        xres, yres = dataset.res
        for path in dataset.index.filepath:
            with rasterio.open(path) as src:
                crs, transform = src.crs, src.transform
                height, width = src.height, src.width
            if crs != dataset.crs or (abs(transform.a), abs(transform.e)) != (
                xres,
                yres,
            ):
                msg = (
                    f'{os.fspath(path)!r} is in {crs} at {abs(transform.a)} x'
                    f' {abs(transform.e)}, not on the dataset grid ({dataset.crs.to_string()},'
                    f' {xres} x {yres}); predict it with `als4gan predict-raster`'
                )
                raise ValueError(msg)
            self.files.append(
                (path, TileGrid(height, width, patch, overlap), transform)
            )
        #: Every file, whichever process predicts it.
        self.all_files = list(self.files)
        if world_size > 1:
            sizes = [grid.height * grid.width for _, grid, _ in self.files]
            mine = assign_to_ranks(sizes, world_size)[rank]
            self.files = [self.files[i] for i in mine]
        _, _, self.t = dataset.bounds

    def set_epoch(self, epoch: int) -> None:
        """Nothing to reshuffle: the order is fixed.

        Args:
            epoch: the epoch.
        """
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[slice, slice, slice]]:
        """Yield the tiles.

        Yields:
            [xmin:xmax:xres, ymin:ymax:yres, tmin:tmax] of each tile.
        """
        for _, grid, transform in self.files:
            xres, yres = abs(transform.a), abs(transform.e)
            for i, j in grid.tiles():
                left = transform.c + grid.cols[j] * xres
                top = transform.f - grid.rows[i] * yres
                yield (
                    slice(left, left + grid.patch * xres, xres),
                    slice(top - grid.patch * yres, top, yres),
                    self.t,
                )

    def __len__(self) -> int:
        """Return the number of tiles over all files.

        Returns:
            Number of tiles.
        """
        return sum(len(grid) for _, grid, _ in self.files)
