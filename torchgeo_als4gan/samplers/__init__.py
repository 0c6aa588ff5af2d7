"""Patch samplers: grid, random and "only these patches", NonGeo and Geo."""

from .geo import FootprintGeoSampler, grid_footprints
from .nongeo import GridPatchSampler, PatchSubsetSampler, RandomPatchSampler

__all__ = (
    'FootprintGeoSampler',
    'GridPatchSampler',
    'PatchSubsetSampler',
    'RandomPatchSampler',
    'grid_footprints',
)
