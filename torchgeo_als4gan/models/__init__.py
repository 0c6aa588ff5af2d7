"""Networks and weights: S4GAN discriminator, DeepLab-v2, context encoders, weights."""

from .conditioning import ContextConditionedSegmenter, deepest_channels, split_forward
from .context import (
    CONTEXT_ENCODERS,
    ContextFiLM,
    ContextMLP,
    FourierContextEncoder,
    SphericalHarmonicsContextEncoder,
    build_context_encoder,
    spherical_harmonics,
)
from .context_classifier import (
    ContextReadingClassifier,
    PlaceholderClassifier,
    is_vision_transformer,
    vit_tokens_with_extra,
)
from .deeplabv2 import DeepLabV2, SummedASPP
from .discriminator import S4GANDiscriminator, rescale_to_unit
from .hypercolumn import HypercolumnSegmenter, tap_names
from .perturbation import perturbed_forward, supports_feature_perturbation
from .weights import WeightsReport, load_local_weights, read_state_dict
from .zoomout import ZoomOutSegmenter

__all__ = (
    'CONTEXT_ENCODERS',
    'ContextConditionedSegmenter',
    'ContextFiLM',
    'ContextMLP',
    'ContextReadingClassifier',
    'DeepLabV2',
    'FourierContextEncoder',
    'HypercolumnSegmenter',
    'PlaceholderClassifier',
    'S4GANDiscriminator',
    'SphericalHarmonicsContextEncoder',
    'SummedASPP',
    'WeightsReport',
    'ZoomOutSegmenter',
    'build_context_encoder',
    'deepest_channels',
    'is_vision_transformer',
    'load_local_weights',
    'perturbed_forward',
    'read_state_dict',
    'rescale_to_unit',
    'spherical_harmonics',
    'split_forward',
    'supports_feature_perturbation',
    'tap_names',
    'vit_tokens_with_extra',
)
