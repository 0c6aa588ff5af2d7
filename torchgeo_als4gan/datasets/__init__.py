"""Datasets: UC Merced + DLRSD, DeepGlobe, tile folders, georeferenced rasters, EuroSAT/BigEarthNet with context."""

from .bigearthnet_context import BigEarthNetContext
from .deepglobe import DeepGlobePatches
from .eurosat_context import EuroSATContext
from .georaster import GeoImagery, GeoRasterMask, GeoSegmentationScene, OverlaidLabels
from .geovector import GeoVectorLabels
from .patched import PatchedSegmentationDataset
from .records import ImageRecord, NonGeoPatch
from .tile_folder import SegmentationTileFolder
from .ucmerced_dlrsd import UCMercedDLRSD

__all__ = (
    'BigEarthNetContext',
    'DeepGlobePatches',
    'EuroSATContext',
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
