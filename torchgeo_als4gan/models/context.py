"""Context encoders (where and when) and FiLM conditioning of CNN features.

Every encoder reads the 4-d context vector of
:func:`torchgeo_als4gan.context.context_vector` (``[lat/90, lon/180, sin, cos]``
of the day of year) and returns one embedding per sample:

* ``mlp``: the paper's (Bernhard et al. 2024) MLP on the 4 numbers
  (4 -> 384 -> 384, GELU);
* ``fourier``: multi-scale sinusoids of the point on the unit sphere (GeoCLIP /
  Space2Vec style: continuous across the date line and at the poles) and
  harmonics of the day-of-year angle, then an MLP;
* ``spherical_harmonics``: real spherical harmonics up to ``degree`` (SatCLIP
  style) and the same date harmonics, then an MLP.

:class:`ContextFiLM` turns an embedding into a per-channel scale and shift of a
feature map (FiLM, Perez et al. 2018); it starts as the identity and leaves the
features of samples without a valid context unchanged.
"""

import math

import torch
from torch import Tensor, nn

__all__ = (
    'CONTEXT_ENCODERS',
    'ContextFiLM',
    'ContextMLP',
    'FourierContextEncoder',
    'SphericalHarmonicsContextEncoder',
    'build_context_encoder',
    'spherical_harmonics',
)


def _unpack(context: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Latitude, longitude (radians) and the day-of-year angle of context vectors."""
    lat = context[..., 0] * (math.pi / 2)
    lon = context[..., 1] * math.pi
    angle = torch.atan2(context[..., 2], context[..., 3])
    return lat, lon, angle


def _date_harmonics(angle: Tensor, count: int) -> Tensor:
    k = torch.arange(1, count + 1, device=angle.device, dtype=angle.dtype)
    phase = angle[..., None] * k
    return torch.cat([phase.sin(), phase.cos()], dim=-1)


def _mlp(inputs: int, hidden: int, dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.GELU(), nn.Linear(hidden, dim))


class ContextMLP(nn.Module):
    """The paper's encoder: an MLP on the 4-d context vector."""

    def __init__(self, dim: int = 384, hidden: int = 384) -> None:
        """Initialize a new ContextMLP.

        Args:
            dim: embedding size.
            hidden: hidden layer size.
        """
        super().__init__()
        self.dim = dim
        self.net = _mlp(4, hidden, dim)

    def forward(self, context: Tensor) -> Tensor:
        """Embed context vectors.

        Args:
            context: ``[B, 4]``.

        Returns:
            ``[B, dim]``.
        """
        out: Tensor = self.net(context)
        return out


class FourierContextEncoder(nn.Module):
    """Multi-scale sinusoids of the unit-sphere point and of the date, then an MLP."""

    def __init__(
        self,
        dim: int = 384,
        hidden: int = 384,
        scales: int = 8,
        date_harmonics: int = 2,
    ) -> None:
        """Initialize a new FourierContextEncoder.

        Args:
            dim: embedding size.
            hidden: hidden layer size.
            scales: frequencies ``pi * 2^s`` (s = 0 .. scales - 1) of each of
                the point's x, y, z (the finest resolves about 180 / 2^(s-1) degrees).
            date_harmonics: harmonics of the day-of-year angle.
        """
        super().__init__()
        self.dim = dim
        self.date_harmonics = date_harmonics
        self.register_buffer(
            'frequencies', math.pi * 2.0 ** torch.arange(scales), persistent=False
        )
        self.net = _mlp(3 + 6 * scales + 2 * date_harmonics, hidden, dim)

    def features(self, context: Tensor) -> Tensor:
        """The sinusoidal features before the MLP.

        Args:
            context: ``[B, 4]``.

        Returns:
            ``[B, 3 + 6 scales + 2 date_harmonics]``.
        """
        lat, lon, angle = _unpack(context)
        xyz = torch.stack(
            [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()], dim=-1
        )
        frequencies = self.get_buffer('frequencies')
        phase = (xyz[..., None] * frequencies).flatten(-2)
        return torch.cat(
            [
                xyz,
                phase.sin(),
                phase.cos(),
                _date_harmonics(angle, self.date_harmonics),
            ],
            dim=-1,
        )

    def forward(self, context: Tensor) -> Tensor:
        """Embed context vectors.

        Args:
            context: ``[B, 4]``.

        Returns:
            ``[B, dim]``.
        """
        out: Tensor = self.net(self.features(context))
        return out


def spherical_harmonics(lat: Tensor, lon: Tensor, degree: int) -> Tensor:
    """Real orthonormal spherical harmonics ``Y_l^m`` for l = 0 .. ``degree``.

    Computed in float64 with the associated Legendre recurrences; ordered by
    ``l`` then ``m = -l .. l``. Orthonormal on the unit sphere: the integral of
    ``Y_i Y_j`` over the sphere is 1 for i = j and 0 otherwise.

    Args:
        lat: latitudes in radians.
        lon: longitudes in radians.
        degree: the largest ``l``.

    Returns:
        ``[..., (degree + 1)^2]`` in the dtype of ``lat``.
    """
    x = torch.sin(lat.double())  # cos of the colatitude
    s = torch.sqrt(torch.clamp(1 - x * x, min=0))
    phi = lon.double()
    legendre: dict[tuple[int, int], Tensor] = {}
    pmm = torch.ones_like(x)
    for m in range(degree + 1):
        if m > 0:
            pmm = -(2 * m - 1) * s * pmm
        legendre[m, m] = pmm
        if m < degree:
            legendre[m + 1, m] = x * (2 * m + 1) * pmm
        for l_ in range(m + 2, degree + 1):
            legendre[l_, m] = (
                (2 * l_ - 1) * x * legendre[l_ - 1, m]
                - (l_ + m - 1) * legendre[l_ - 2, m]
            ) / (l_ - m)
    out = []
    for l_ in range(degree + 1):
        for m in range(-l_, l_ + 1):
            a = abs(m)
            norm = math.sqrt(
                (2 * l_ + 1)
                / (4 * math.pi)
                * math.factorial(l_ - a)
                / math.factorial(l_ + a)
            )
            if m == 0:
                out.append(norm * legendre[l_, 0])
            elif m > 0:
                out.append(math.sqrt(2) * norm * legendre[l_, a] * torch.cos(a * phi))
            else:
                out.append(math.sqrt(2) * norm * legendre[l_, a] * torch.sin(a * phi))
    return torch.stack(out, dim=-1).to(lat.dtype)


class SphericalHarmonicsContextEncoder(nn.Module):
    """Real spherical harmonics of the location and date harmonics, then an MLP."""

    def __init__(
        self,
        dim: int = 384,
        hidden: int = 384,
        degree: int = 10,
        date_harmonics: int = 2,
    ) -> None:
        """Initialize a new SphericalHarmonicsContextEncoder.

        Args:
            dim: embedding size.
            hidden: hidden layer size.
            degree: the largest ``l`` ((degree + 1)^2 features; SatCLIP uses 10-40).
            date_harmonics: harmonics of the day-of-year angle.
        """
        super().__init__()
        self.dim = dim
        self.degree = degree
        self.date_harmonics = date_harmonics
        self.net = _mlp((degree + 1) ** 2 + 2 * date_harmonics, hidden, dim)

    def forward(self, context: Tensor) -> Tensor:
        """Embed context vectors.

        Args:
            context: ``[B, 4]``.

        Returns:
            ``[B, dim]``.
        """
        lat, lon, angle = _unpack(context)
        features = torch.cat(
            [
                spherical_harmonics(lat, lon, self.degree),
                _date_harmonics(angle, self.date_harmonics),
            ],
            dim=-1,
        )
        out: Tensor = self.net(features)
        return out


#: Encoder name (the config's ``context_encoder``) -> class.
CONTEXT_ENCODERS: dict[str, type[nn.Module]] = {
    'mlp': ContextMLP,
    'fourier': FourierContextEncoder,
    'spherical_harmonics': SphericalHarmonicsContextEncoder,
}


def build_context_encoder(name: str, dim: int = 384, **options: int) -> nn.Module:
    """A context encoder by name.

    Args:
        name: a key of :data:`CONTEXT_ENCODERS`.
        dim: embedding size.
        **options: more arguments of the encoder (``hidden``, ``scales``,
            ``degree``, ``date_harmonics``).

    Returns:
        The encoder.

    Raises:
        ValueError: If the name is unknown.
    """
    if name not in CONTEXT_ENCODERS:
        msg = f'context_encoder must be one of {sorted(CONTEXT_ENCODERS)}, got {name!r}'
        raise ValueError(msg)
    return CONTEXT_ENCODERS[name](dim=dim, **options)


class ContextFiLM(nn.Module):
    """Per-channel scale and shift of a feature map from a context embedding.

    ``features * (1 + gamma) + beta`` with ``(gamma, beta)`` a linear map of
    the embedding, zero-initialized so that conditioning starts as the
    identity; samples whose context is not valid keep their features.
    """

    def __init__(self, channels: int, embedding: int) -> None:
        """Initialize a new ContextFiLM.

        Args:
            channels: channels of the feature map.
            embedding: size of the context embedding.
        """
        super().__init__()
        self.channels = channels
        self.to_scale_shift = nn.Linear(embedding, 2 * channels)
        nn.init.zeros_(self.to_scale_shift.weight)
        nn.init.zeros_(self.to_scale_shift.bias)

    def forward(
        self, features: Tensor, embedding: Tensor, valid: Tensor | None = None
    ) -> Tensor:
        """Condition a feature map.

        Args:
            features: ``[B, C, H, W]``.
            embedding: ``[B, E]``.
            valid: ``[B]`` booleans (None: all valid).

        Returns:
            ``[B, C, H, W]``.
        """
        scale_shift: Tensor = self.to_scale_shift(embedding)
        gamma, beta = scale_shift.chunk(2, dim=-1)
        if valid is not None:
            keep = valid.to(gamma.dtype)[:, None]
            gamma, beta = gamma * keep, beta * keep
        return features * (1 + gamma[..., None, None]) + beta[..., None, None]
