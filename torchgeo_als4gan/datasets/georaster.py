"""Your own georeferenced imagery with raster or vector labels."""

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.features
import rasterio.merge
import rasterio.transform
import torch
from matplotlib.figure import Figure
from pyproj import CRS
from torch import Tensor
from torchgeo.datasets import (
    GeoDataset,
    IntersectionDataset,
    RasterDataset,
    UnionDataset,
)
from torchgeo.datasets.utils import GeoSlice, array_to_tensor

from ..checks import check_georeferenced
from .plotting import default_colors, plot_segmentation
from .raster_io import raster_header, resolve_bands

__all__ = ('GeoImagery', 'GeoRasterMask', 'GeoSegmentationScene', 'OverlaidLabels')

Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


class GeoImagery(RasterDataset):
    """Georeferenced imagery: any GeoTIFF (or other GDAL raster), any bands, any CRS.

    Files are found under ``paths`` with ``filename_glob``; files in other CRSs are
    warped to the CRS of the first file (or ``crs``). Pixels outside the files are
    read as 0, and ``nodata`` is the nodata value of the first file. ``bands``
    selects bands by 1-based index or band description (e.g. RGB of a 4-band
    NAIP scene: ``[1, 2, 3]``); without it every file must have the same band
    count.
    """

    def __init__(
        self,
        paths: Paths = 'data/imagery',
        filename_glob: str = '*.tif',
        crs: CRS | None = None,
        res: float | tuple[float, float] | None = None,
        cache: bool = True,
        bands: Sequence[int | str] | None = None,
    ) -> None:
        """Initialize a new GeoImagery instance.

        Args:
            paths: directories to search or files to load.
            filename_glob: glob of the image files inside directories.
            crs: CRS to warp to (defaults to the first file's).
            res: resolution in CRS units (defaults to the first file's).
            cache: keep file handles open between reads.
            bands: bands to read, as 1-based indexes or band descriptions
                (None: all bands).

        Raises:
            DatasetNotFoundError: If no readable file is found.
            ValueError: If a band does not exist in a file, or files differ in
                the bands they give (the message names the file).
        """
        self.filename_glob = filename_glob
        _check_rasters(self, paths, 'image_paths', crs)
        super().__init__(paths, crs, res, cache=cache)
        self.selected_bands = list(bands) if bands is not None else None
        selected: list[list[int] | None] = []
        counts = []
        for path in self.index.filepath:
            header = raster_header(path)
            indexes = resolve_bands(self.selected_bands, header, path, 'bands')
            selected.append(indexes)
            counts.append(header.bands if indexes is None else len(indexes))
        first = self.index.filepath.iloc[0]
        for path, indexes, count in zip(
            self.index.filepath, selected, counts, strict=True
        ):
            if count != counts[0] or indexes != selected[0]:
                msg = (
                    f'{path!r} gives {count} band(s) {indexes or "(all)"} but'
                    f' {first!r} gives {counts[0]} {selected[0] or "(all)"}: every'
                    ' image must give the same bands (select them with bands)'
                )
                raise ValueError(msg)
        #: 1-based bands read from every file (TorchGeo's attribute), or None.
        self.band_indexes = selected[0]
        with rasterio.open(first) as src:
            self.nodata: float | None = src.nodata
        self.band_count: int = counts[0]

    def plot(
        self,
        sample: dict[str, Any],
        show_titles: bool = True,
        suptitle: str | None = None,
    ) -> Figure:
        """Plot the image (and prediction, if present) of a sample.

        Args:
            sample: a sample from ``__getitem__``.
            show_titles: whether to title each panel.
            suptitle: optional figure title.

        Returns:
            The figure.
        """
        return plot_segmentation(sample, [], [], show_titles, suptitle)


class GeoRasterMask(RasterDataset):
    """Georeferenced class-index masks; pixels outside the files are the ignore index."""

    is_image = False

    def __init__(
        self,
        paths: Paths = 'data/masks',
        filename_glob: str = '*.tif',
        crs: CRS | None = None,
        res: float | tuple[float, float] | None = None,
        ignore_index: int = 255,
        cache: bool = True,
    ) -> None:
        """Initialize a new GeoRasterMask instance.

        Args:
            paths: directories to search or files to load.
            filename_glob: glob of the mask files inside directories.
            crs: CRS to warp to (defaults to the first file's).
            res: resolution in CRS units (defaults to the first file's).
            ignore_index: value of pixels outside the masks or at their nodata.
            cache: keep file handles open between reads.

        Raises:
            DatasetNotFoundError: If no readable file is found.
        """
        self.filename_glob = filename_glob
        self.ignore_index = ignore_index
        _check_rasters(self, paths, 'label_paths', crs)
        super().__init__(paths, crs, res, cache=cache)

    def _merge_files(
        self,
        filepaths: Sequence[str],
        query: GeoSlice,
        band_indexes: Sequence[int] | None = None,
    ) -> Tensor:
        handles = [self._cached_load_warp_file(Path(fp)) for fp in filepaths]
        x, y, _ = self._disambiguate_slice(query)
        dest, _ = rasterio.merge.merge(
            handles,
            (x.start, y.start, x.stop, y.stop),
            (x.step, y.step),
            indexes=band_indexes,
            nodata=self.ignore_index,
            resampling=self.resampling,
        )
        return array_to_tensor(dest)


def _check_rasters(
    dataset: RasterDataset, paths: Paths, argument: str, crs: Any
) -> None:
    """Refuse files that TorchGeo would fail on with a GDAL message naming none."""
    dataset.paths = paths
    for path in dataset.files:
        check_georeferenced(path, argument, crs)


class GeoSegmentationScene(IntersectionDataset):
    """Imagery intersected with labels, with unlabelled pixels set to the ignore index.

    Pixels outside the imagery footprint, where every band equals the imagery's
    nodata value, or with a mask value outside ``0 .. num_classes - 1`` get
    ``ignore_index`` so they never count as a class.
    """

    def __init__(
        self,
        imagery: GeoImagery,
        labels: GeoDataset,
        classes: Sequence[str],
        colors: Sequence[tuple[int, int, int]] | None = None,
        ignore_index: int = 255,
    ) -> None:
        """Initialize a new GeoSegmentationScene instance.

        Args:
            imagery: the images.
            labels: raster masks or vector labels (or
                :class:`OverlaidLabels`).
            classes: class names, index order.
            colors: RGB colour per class for ``plot``.
            ignore_index: mask value of unlabelled pixels.
        """
        super().__init__(imagery, labels)
        self.imagery = imagery
        self.classes = tuple(classes)
        self.colors = tuple(colors) if colors else default_colors(len(self.classes))
        self.ignore_index = ignore_index

    def __getitem__(self, query: GeoSlice) -> dict[str, Any]:
        """Read image and mask in a window.

        Args:
            query: [xmin:xmax:xres, ymin:ymax:yres, tmin:tmax:tres] coordinates.

        Returns:
            ``image``, ``mask``, ``crs`` and ``bounds``.
        """
        sample = super().__getitem__(query)
        x, y, _ = self._disambiguate_slice(query)
        mask: Tensor = sample['mask'].long()
        height, width = mask.shape[-2:]
        transform = rasterio.transform.from_bounds(
            x.start, y.start, x.stop, y.stop, width, height
        )
        inside = rasterio.features.rasterize(
            [(geom, 1) for geom in self.imagery.index.geometry],
            out_shape=(height, width),
            transform=transform,
            fill=0,
            dtype=np.uint8,
        )
        invalid = torch.from_numpy(inside == 0)
        invalid |= (mask < 0) | (mask >= len(self.classes))
        if self.imagery.nodata is not None:
            invalid |= (sample['image'] == self.imagery.nodata).all(dim=0)
        sample['mask'] = mask.masked_fill(invalid, self.ignore_index)
        return sample

    def plot(
        self,
        sample: dict[str, Any],
        show_titles: bool = True,
        suptitle: str | None = None,
    ) -> Figure:
        """Plot image, mask and prediction of a sample.

        Args:
            sample: a sample from ``__getitem__``.
            show_titles: whether to title each panel.
            suptitle: optional figure title.

        Returns:
            The figure.
        """
        return plot_segmentation(
            sample, self.classes, self.colors, show_titles, suptitle, self.ignore_index
        )


class OverlaidLabels(UnionDataset):
    """Labels with mask GeoTIFFs drawn later on top of them.

    TorchGeo's :class:`~torchgeo.datasets.UnionDataset` (a query may reach
    either dataset), merged so that inside the ``added`` files their mask
    decides, unlabelled pixels included (an annotator's "not sure" stays
    unlabelled instead of becoming the base labels' background), and the
    ``base`` labels everywhere else. The default union merge (a pixel-wise
    maximum) would turn every unlabelled pixel of either into the ignore
    index. For the patches labelled between active-learning rounds.
    """

    def __init__(
        self, base: GeoDataset, added: GeoRasterMask, ignore_index: int = 255
    ) -> None:
        """Initialize a new OverlaidLabels instance.

        Args:
            base: the labels (raster masks or vector labels).
            added: mask GeoTIFFs, e.g. ``als4gan labels`` output.
            ignore_index: value of unlabelled pixels.
        """
        super().__init__(base, added)
        self.base, self.added = base, added
        self.ignore_index = ignore_index

    def __getitem__(self, query: GeoSlice) -> dict[str, Any]:
        """Read the mask in a window.

        Args:
            query: [xmin:xmax:xres, ymin:ymax:yres, tmin:tmax:tres] coordinates.

        Returns:
            ``mask``, ``crs`` and ``bounds``.

        Raises:
            IndexError: If neither dataset covers the query.
        """
        try:
            sample = self.added[query]
        except IndexError:
            return self.base[query]
        x, y, _ = self._disambiguate_slice(query)
        mask: Tensor = sample['mask']
        height, width = mask.shape[-2:]
        inside = rasterio.features.rasterize(
            [(geom, 1) for geom in self.added.index.geometry],
            out_shape=(height, width),
            transform=rasterio.transform.from_bounds(
                x.start, y.start, x.stop, y.stop, width, height
            ),
            fill=0,
            dtype=np.uint8,
        )
        if inside.all():
            return sample
        try:
            below = self.base[query]['mask'].to(mask.dtype)
        except IndexError:
            return sample
        outside = torch.from_numpy(inside == 0).expand_as(mask)
        sample['mask'] = torch.where(outside, below, mask)
        return sample
