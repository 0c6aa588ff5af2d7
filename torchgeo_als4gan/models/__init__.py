"""Networks: S4GAN discriminator, DeepLab-v2 generator and later a hypercolumn model."""

__all__: tuple[str, ...] = ()
