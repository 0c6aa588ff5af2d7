"""Semi-supervised datamodules: labelled + unlabelled training batches."""

from .classification import (
    BigEarthNetContextDataModule,
    EuroSATContextDataModule,
    SemiSupervisedClassificationDataModule,
)
from .deepglobe import DeepGlobePatchesDataModule
from .domains import SourceTargetDataModule
from .georaster import GeoSegmentationDataModule
from .pool import PoolDataModule, QueryPool
from .semi import SemiSupervisedNonGeoDataModule
from .tile_folder import SegmentationTileFolderDataModule
from .ucmerced_dlrsd import UCMercedDLRSDDataModule

__all__ = (
    'BigEarthNetContextDataModule',
    'DeepGlobePatchesDataModule',
    'EuroSATContextDataModule',
    'GeoSegmentationDataModule',
    'PoolDataModule',
    'QueryPool',
    'SegmentationTileFolderDataModule',
    'SemiSupervisedClassificationDataModule',
    'SemiSupervisedNonGeoDataModule',
    'SourceTargetDataModule',
    'UCMercedDLRSDDataModule',
)
