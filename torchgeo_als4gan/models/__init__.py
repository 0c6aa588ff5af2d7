"""Networks and weights: local weight loading; later the S4GAN discriminator, DeepLab-v2."""

from .weights import WeightsReport, load_local_weights, read_state_dict

__all__ = ('WeightsReport', 'load_local_weights', 'read_state_dict')
