"""Semi-supervised datamodules: labelled + unlabelled training batches."""

from .deepglobe import DeepGlobePatchesDataModule
from .georaster import GeoSegmentationDataModule
from .pool import PoolDataModule, QueryPool
from .semi import SemiSupervisedNonGeoDataModule
from .tile_folder import SegmentationTileFolderDataModule
from .ucmerced_dlrsd import UCMercedDLRSDDataModule

__all__ = (
    'DeepGlobePatchesDataModule',
    'GeoSegmentationDataModule',
    'PoolDataModule',
    'QueryPool',
    'SegmentationTileFolderDataModule',
    'SemiSupervisedNonGeoDataModule',
    'UCMercedDLRSDDataModule',
)
