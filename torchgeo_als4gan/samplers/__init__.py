"""Patch samplers (grid, random, "only these patches", whole-raster tiles) and pixel sampling."""

from .geo import FootprintGeoSampler, grid_footprints
from .nongeo import GridPatchSampler, PatchSubsetSampler, RandomPatchSampler
from .pixels import PixelSample, sample_pixels_per_class
from .tiles import RasterTileGeoSampler, TileGrid, tile_offsets

__all__ = (
    'FootprintGeoSampler',
    'GridPatchSampler',
    'PatchSubsetSampler',
    'PixelSample',
    'RandomPatchSampler',
    'RasterTileGeoSampler',
    'TileGrid',
    'grid_footprints',
    'sample_pixels_per_class',
    'tile_offsets',
)
