"""Context encoders (shapes, ranges, periodicity), spherical harmonics, FiLM."""

import math

import pytest
import torch

from torchgeo_als4gan.context import context_vector
from torchgeo_als4gan.models import (
    CONTEXT_ENCODERS,
    ContextFiLM,
    build_context_encoder,
    spherical_harmonics,
)


def contexts(days: list[float]) -> torch.Tensor:
    return torch.stack([context_vector(35.0, 139.7, d) for d in days])


@pytest.mark.parametrize('name', sorted(CONTEXT_ENCODERS))
def test_encoders_shape_and_periodic_in_the_day(name: str) -> None:
    torch.manual_seed(0)
    encoder = build_context_encoder(name, dim=16, hidden=32)
    out = encoder(contexts([10.0, 375.0, 200.0]))
    assert out.shape == (3, 16) and torch.isfinite(out).all()
    torch.testing.assert_close(out[0], out[1], atol=1e-5, rtol=0)  # a year apart
    assert not torch.allclose(out[0], out[2])  # other season, other embedding


def test_fourier_features_are_bounded_and_continuous_across_the_date_line() -> None:
    encoder = build_context_encoder('fourier', dim=8, scales=4)
    east = torch.stack(
        [context_vector(10.0, 179.999, 1), context_vector(10.0, -179.999, 1)]
    )
    features = encoder.features(east)  # type: ignore[operator]
    assert features.shape == (2, 3 + 6 * 4 + 2 * 2)
    assert features.abs().max() <= 1 + 1e-6
    torch.testing.assert_close(features[0], features[1], atol=1e-3, rtol=0)


def test_spherical_harmonics_are_orthonormal() -> None:
    # midpoint quadrature over the sphere: sum Y_i Y_j cos(lat) dlat dlon
    n_lat, n_lon, degree = 180, 360, 4
    lat = (
        torch.arange(n_lat, dtype=torch.float64) + 0.5
    ) / n_lat * math.pi - math.pi / 2
    lon = (
        torch.arange(n_lon, dtype=torch.float64) + 0.5
    ) / n_lon * 2 * math.pi - math.pi
    grid_lat, grid_lon = torch.meshgrid(lat, lon, indexing='ij')
    values = spherical_harmonics(grid_lat, grid_lon, degree).reshape(
        -1, (degree + 1) ** 2
    )
    weights = (grid_lat.cos() * (math.pi / n_lat) * (2 * math.pi / n_lon)).reshape(
        -1, 1
    )
    gram = values.T @ (values * weights)
    torch.testing.assert_close(
        gram, torch.eye(25, dtype=torch.float64), atol=2e-3, rtol=0
    )
    assert values[0, 0].item() == pytest.approx(1 / (2 * math.sqrt(math.pi)))


def test_film_starts_as_the_identity_and_skips_invalid_context() -> None:
    film = ContextFiLM(channels=6, embedding=5)
    features, embedding = torch.randn(3, 6, 4, 4), torch.randn(3, 5)
    torch.testing.assert_close(film(features, embedding), features)
    torch.nn.init.normal_(film.to_scale_shift.weight)
    valid = torch.tensor([True, False, True])
    out = film(features, embedding, valid)
    torch.testing.assert_close(out[1], features[1])  # no context: unchanged
    assert not torch.allclose(out[0], features[0])
    gamma, beta = film.to_scale_shift(embedding[:1]).chunk(2, dim=-1)
    expected = features[0] * (1 + gamma[0, :, None, None]) + beta[0, :, None, None]
    torch.testing.assert_close(out[0], expected)
    out.sum().backward()  # the scale and shift learn from the features' loss
    assert film.to_scale_shift.weight.grad is not None
    assert film.to_scale_shift.weight.grad.abs().sum() > 0


def test_unknown_encoder_is_named() -> None:
    with pytest.raises(
        ValueError, match=r"context_encoder must be one of \['fourier', 'mlp'"
    ):
        build_context_encoder('satclip')
