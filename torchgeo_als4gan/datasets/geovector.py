"""Vector labels (GeoPackage, Shapefile, GeoJSON, ...) rasterized per query."""

from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import rasterio.transform
import shapely
import torch
from pyproj import CRS
from torchgeo.datasets import VectorDataset
from torchgeo.datasets.utils import GeoSlice

from ..checks import read_vector
from .georaster import Paths

__all__ = ('GeoVectorLabels',)


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
        # the other attributes stay (e.g. edit times, for labelling costs)
        attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        attributes['class'] = values
        return gpd.GeoDataFrame(attributes, geometry=frame.geometry, crs=self.crs)

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
