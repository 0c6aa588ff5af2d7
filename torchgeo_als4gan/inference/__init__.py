"""Applying trained models to georeferenced rasters, and labels back from polygons."""

from ..samplers.tiles import TileGrid, tile_offsets
from .callbacks import RasterPredictionWriter
from .distributed import predict_raster_distributed
from .geotiff import CLASS_NODATA, PredictionGeoTIFFs, output_paths
from .labels import PatchLabels, rasterize_patch_labels
from .model import SegmentationModel, load_segmentation_checkpoint
from .raster import RasterPrediction, predict_raster
from .sources import RasterPredictionError
from .tiling import StreamingBlender, blend_weights
from .vectorize import vectorize_classes, write_vectors

__all__ = (
    'CLASS_NODATA',
    'PatchLabels',
    'PredictionGeoTIFFs',
    'RasterPrediction',
    'RasterPredictionError',
    'RasterPredictionWriter',
    'SegmentationModel',
    'StreamingBlender',
    'TileGrid',
    'blend_weights',
    'load_segmentation_checkpoint',
    'output_paths',
    'predict_raster',
    'predict_raster_distributed',
    'rasterize_patch_labels',
    'tile_offsets',
    'vectorize_classes',
    'write_vectors',
)
