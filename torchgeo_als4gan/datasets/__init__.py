"""Datasets: UC Merced + DLRSD, DeepGlobe, tile folders and georeferenced rasters."""

from .deepglobe import DeepGlobePatches
from .georaster import (
    GeoImagery,
    GeoRasterMask,
    GeoSegmentationScene,
    GeoVectorLabels,
    OverlaidLabels,
)
from .patched import ImageRecord, NonGeoPatch, PatchedSegmentationDataset
from .tile_folder import SegmentationTileFolder
from .ucmerced_dlrsd import UCMercedDLRSD

__all__ = (
    'DeepGlobePatches',
    'GeoImagery',
    'GeoRasterMask',
    'GeoSegmentationScene',
    'GeoVectorLabels',
    'ImageRecord',
    'NonGeoPatch',
    'OverlaidLabels',
    'PatchedSegmentationDataset',
    'SegmentationTileFolder',
    'UCMercedDLRSD',
)
