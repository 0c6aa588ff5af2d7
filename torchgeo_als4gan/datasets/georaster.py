"""Your own georeferenced imagery with raster or vector labels."""

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import rasterio.merge
import rasterio.transform
import shapely
import torch
from matplotlib.figure import Figure
from pyproj import CRS
from torch import Tensor
from torchgeo.datasets import (
    GeoDataset,
    IntersectionDataset,
    RasterDataset,
    UnionDataset,
    VectorDataset,
)
from torchgeo.datasets.utils import GeoSlice, array_to_tensor

from ..checks import check_georeferenced, read_vector
from .plotting import default_colors, plot_segmentation
from .utils import raster_header, resolve_bands

__all__ = (
    'GeoImagery',
    'GeoRasterMask',
    'GeoSegmentationScene',
    'GeoVectorLabels',
    'OverlaidLabels',
)

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


class GeoVectorLabels(VectorDataset):
    """Polygons with a class attribute, rasterized onto the image grid.

    Any format geopandas reads (GeoPackage, Shapefile, GeoJSON, ...), in any CRS:
    features are reprojected to the dataset CRS. The attribute ``label_name`` holds
    either class indices or class names; names are looked up in ``label_map`` and
    then in ``classes``. Pixels covered by no polygon get ``background``. Features
    are read once and kept in memory with a spatial index (TorchGeo's
    ``VectorDataset`` re-reads every file for every sample). Invalid geometries
    (self-intersecting polygons drawn by hand) are repaired with
    ``make_valid``; a file without a CRS (a Shapefile without ``.prj``) is read
    in the dataset CRS and listed in :attr:`files_without_crs`.
    """

    def __init__(
        self,
        paths: Paths = 'data/labels',
        label_name: str = 'class',
        classes: Sequence[str] = ('background', 'foreground'),
        label_map: Mapping[str, int] | None = None,
        background: int = 0,
        filename_glob: str = '*',
        crs: CRS | None = None,
        res: float | tuple[float, float] = (0.0001, 0.0001),
        layer: str | int | None = None,
        argument: str = 'label_paths',
    ) -> None:
        """Initialize a new GeoVectorLabels instance.

        Args:
            paths: directories to search or vector files to load.
            label_name: attribute holding the class of each feature.
            classes: class names, index order.
            label_map: attribute value -> class index (e.g. ``{'yes': 1}``).
            background: class of pixels covered by no feature.
            filename_glob: glob of the vector files inside directories.
            crs: CRS to reproject to (defaults to the first file's).
            res: resolution in CRS units (set to the imagery's when intersected).
            layer: layer of multi-layer files such as GeoPackages.
            argument: the option that named the files, for messages.

        Raises:
            DatasetNotFoundError: If no readable file is found.
            ValueError: If a file lacks ``label_name`` or holds values that are
                neither class indices nor known names (the message names them).
        """
        self.filename_glob = filename_glob
        self.classes = tuple(classes)
        self.label_map = dict(label_map or {})
        self.background = background
        self.files_without_crs: list[str] = []
        self.repaired = 0
        self.paths = paths
        for path in self.files:  # before TorchGeo indexes them
            if path.lower().endswith('.parquet'):
                _check_vector_file(path, layer)
            else:
                read_vector(path, argument, layer)
        super().__init__(paths, crs, res, label_name=label_name, layer=layer)
        frames = [self._read(path) for path in self.index.filepath]
        self.features = gpd.GeoDataFrame(
            pd.concat(frames, ignore_index=True), crs=self.crs
        )

    def _read(self, path: str) -> gpd.GeoDataFrame:
        frame = gpd.read_file(path, layer=self.layer)
        assert self.label_name is not None
        if self.label_name not in frame.columns:
            msg = (
                f'Vector file {path!r} has no attribute {self.label_name!r}'
                f' (label_name); its attributes are {list(frame.columns.drop("geometry"))}'
            )
            raise ValueError(msg)
        if frame.crs is None:  # an empty file (a non-empty one was refused)
            self.files_without_crs.append(path)
            frame = frame.set_crs(self.crs)
        frame = frame.to_crs(self.crs)
        invalid = ~frame.geometry.is_valid
        if invalid.any():
            self.repaired += int(invalid.sum())
            frame.loc[invalid, 'geometry'] = frame.geometry[invalid].make_valid()
        values = [self._class_of(v) for v in frame[self.label_name]]
        bad = sorted(
            {
                '<missing>' if pd.isna(v) else str(v)
                for v, c in zip(frame[self.label_name], values, strict=True)
                if c is None
            }
        )
        if bad:
            msg = (
                f'Vector file {path!r}: values {bad[:5]} of {self.label_name!r} are not'
                f' class indices, names in {self.classes} or keys of label_map'
            )
            raise ValueError(msg)
        return gpd.GeoDataFrame(
            {'class': values}, geometry=frame.geometry, crs=self.crs
        )

    def _class_of(self, value: Any) -> int | None:
        if isinstance(value, str):
            if value in self.label_map:
                return self.label_map[value]
            if value in self.classes:
                return self.classes.index(value)
            if value.strip().lstrip('-').isdigit():
                value = int(value)
            else:
                return None
        if value is None or pd.isna(value):
            return None
        index = int(value)
        return index if 0 <= index < len(self.classes) else None

    def __getitem__(self, query: GeoSlice) -> dict[str, Any]:
        """Rasterize the features inside a query window.

        Args:
            query: [xmin:xmax:xres, ymin:ymax:yres, tmin:tmax:tres] coordinates.

        Returns:
            ``mask`` (long [H, W]), ``crs`` and ``bounds``.
        """
        x, y, _ = self._disambiguate_slice(query)
        features = self.features
        if features.crs != self.crs:
            features = self.features = features.to_crs(self.crs)
        box = shapely.box(x.start, y.start, x.stop, y.stop)
        hits = features.iloc[features.sindex.query(box)]
        width = round((x.stop - x.start) / x.step)
        height = round((y.stop - y.start) / y.step)
        transform = rasterio.transform.from_bounds(
            x.start, y.start, x.stop, y.stop, width, height
        )
        mask = np.full((height, width), self.background, dtype=np.int64)
        if len(hits):
            shapes = zip(hits.geometry, hits['class'].astype(np.int64), strict=False)
            mask = rasterio.features.rasterize(
                shapes, out=mask, transform=transform, dtype=np.int64
            )
        return {'crs': self.crs, 'bounds': query, 'mask': torch.from_numpy(mask)}


def _check_rasters(
    dataset: RasterDataset, paths: Paths, argument: str, crs: Any
) -> None:
    """Refuse files that TorchGeo would fail on with a GDAL message naming none."""
    dataset.paths = paths
    for path in dataset.files:
        check_georeferenced(path, argument, crs)


def _check_vector_file(path: str, layer: str | int | None) -> None:
    """Refuse a file that is not vector data (TorchGeo skips such files silently)."""
    try:
        if path.lower().endswith('.parquet'):
            gpd.read_parquet(path).head(1)
        else:
            gpd.read_file(path, layer=layer, rows=1)
    except Exception as error:
        msg = (
            f'Vector file {path!r} cannot be read as vector data (GeoPackage,'
            f' Shapefile, GeoJSON, ...): {type(error).__name__}: {error}'
        )
        raise ValueError(msg) from error


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
