"""Patch samplers: grid, random, "only these patches", and whole-raster tiles."""

from .geo import FootprintGeoSampler, grid_footprints
from .nongeo import GridPatchSampler, PatchSubsetSampler, RandomPatchSampler
from .tiles import RasterTileGeoSampler, TileGrid, tile_offsets

__all__ = (
    'FootprintGeoSampler',
    'GridPatchSampler',
    'PatchSubsetSampler',
    'RandomPatchSampler',
    'RasterTileGeoSampler',
    'TileGrid',
    'grid_footprints',
    'tile_offsets',
)
