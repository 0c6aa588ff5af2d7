"""torchgeo-als4gan: few-label semantic segmentation of remote-sensing imagery.

Active learning picks the patches worth labelling, S4GAN learns from the labelled
and the unlabelled imagery, and trained models run on georeferenced rasters.
"""

__version__ = '0.1.0'

__all__ = ('__version__',)
