"""Lightning tasks: the active-learning classifier and the S4GAN segmenter (to come).

Until they land, the datamodules plug into TorchGeo's own
``torchgeo.trainers.SemanticSegmentationTask`` (see ``configs/*_supervised.yaml``).
"""

__all__: tuple[str, ...] = ()
