"""Networks and weights: S4GAN discriminator, DeepLab-v2, local weight loading."""

from .deeplabv2 import DeepLabV2, SummedASPP
from .discriminator import S4GANDiscriminator, rescale_to_unit
from .perturbation import perturbed_forward, supports_feature_perturbation
from .weights import WeightsReport, load_local_weights, read_state_dict

__all__ = (
    'DeepLabV2',
    'S4GANDiscriminator',
    'SummedASPP',
    'WeightsReport',
    'load_local_weights',
    'perturbed_forward',
    'read_state_dict',
    'rescale_to_unit',
    'supports_feature_perturbation',
)
