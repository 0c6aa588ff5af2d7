"""A seeded synthetic land-cover scene, written as georeferenced GeoTIFFs."""

import os
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.transform import from_origin

__all__ = ('CLASSES', 'COLORS', 'make_scene')

#: Classes of the scene, index order. Buildings, roads and water are rare.
CLASSES = ('field', 'forest', 'building', 'road', 'water')

#: Display colours of the classes.
COLORS = ((214, 200, 120), (40, 110, 50), (200, 60, 60), (120, 120, 120), (40, 90, 200))

Array = np.ndarray[Any, Any]


def _smooth_noise(rng: np.random.Generator, size: int, cell: int) -> Array:
    """Low-frequency noise in [0, 1]: a coarse random grid, bilinearly enlarged."""
    coarse = rng.random((size // cell + 2, size // cell + 2))
    pos = np.arange(size) / cell
    i, f = pos.astype(int), pos - pos.astype(int)
    rows = coarse[i] * (1 - f)[:, None] + coarse[i + 1] * f[:, None]
    out: Array = rows[:, i] * (1 - f)[None] + rows[:, i + 1] * f[None]
    return out


def _layout(rng: np.random.Generator, size: int) -> tuple[Array, Array]:
    """Class map and per-pixel field parcel orientation."""
    yy, xx = np.mgrid[:size, :size].astype(float)
    mask = np.zeros((size, size), dtype=np.uint8)
    # forest: large smooth patches, away from the town
    town_y, town_x = rng.uniform(0.25, 0.75, 2) * size
    town = np.hypot(yy - town_y, xx - town_x) < size * 0.18
    forest = (_smooth_noise(rng, size, max(size // 6, 8)) > 0.62) & ~town
    mask[forest] = 1
    # water: a meandering river and a lake
    phase, amp = rng.uniform(0, 2 * np.pi), rng.uniform(0.04, 0.08) * size
    centre = size * rng.uniform(0.15, 0.3) + amp * np.sin(xx / size * 4 * np.pi + phase)
    mask[np.abs(yy - centre) < size * 0.012 + 2] = 4
    ly, lx = rng.uniform(0.6, 0.85) * size, rng.uniform(0.15, 0.85) * size
    mask[((yy - ly) / (size * 0.07)) ** 2 + ((xx - lx) / (size * 0.11)) ** 2 < 1] = 4
    # roads: straight lines through the town, 2-3 pixels wide
    for angle in rng.uniform(0, np.pi, 3):
        distance = np.abs((xx - town_x) * np.sin(angle) - (yy - town_y) * np.cos(angle))
        mask[(distance < 1.5) & (mask != 4)] = 3
    # buildings: small rectangles packed in the town
    for _ in range(max(size // 4, 8)):
        cy, cx = rng.normal((town_y, town_x), size * 0.08)
        h, w = rng.integers(3, 9, 2)
        y0, x0 = int(np.clip(cy, 0, size - h)), int(np.clip(cx, 0, size - w))
        block = mask[y0 : y0 + h, x0 : x0 + w]
        if not (block == 4).any():
            block[block != 3] = 2
    # field parcels: a coarse grid, each with its own stripe direction
    parcel = (yy // max(size // 8, 4)) * 97 + (xx // max(size // 8, 4))
    angles = rng.uniform(0, np.pi, int(parcel.max()) + 1)
    return mask, angles[parcel.astype(int)]


def _render(rng: np.random.Generator, mask: Array, angle: Array) -> Array:
    """RGB image with a distinct texture per class and sensor noise."""
    size = mask.shape[0]
    yy, xx = np.mgrid[:size, :size].astype(float)
    image = np.zeros((3, size, size))
    for index, color in enumerate(COLORS):
        image[:, mask == index] = np.array(color, dtype=float)[:, None]
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 1.3)
    image += (mask == 0) * 22 * stripes  # ploughed fields
    canopy = rng.normal(0, 1, (size, size))
    image += (mask == 1) * 28 * canopy  # rough canopy
    roofs = rng.choice([-30.0, 0.0, 40.0], size=(size, size))
    image += (mask == 2) * roofs[None]  # roofs of different materials (per pixel)
    image += (mask == 4) * 6 * np.sin(xx / 5.0)  # gentle ripples
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 1, 255).astype(np.uint8)


def _vary(rng: np.random.Generator, image: Array, mask: Array, amount: float) -> Array:
    """Appearance that changes across the scene, as in real acquisitions.

    Four effects, each scaled by ``amount`` (0: the image unchanged): a season
    front (fields from golden to green, forest from green to autumn brown,
    along a smooth large-scale field), a second texture for a third of the
    field parcels (plain, not striped) and of the water (turbid, brighter),
    an illumination gradient in a random direction (x 0.7 to 1.3 at
    ``amount`` 1) and haze (a smooth veil towards grey, up to 40 %) with
    sensor noise that grows under it. A small labelled sample then misses
    appearances that the unlabelled rest of the scene shows.
    """
    size = mask.shape[0]
    yy, xx = np.mgrid[:size, :size].astype(float) / size
    out = image.astype(float)
    season = _smooth_noise(rng, size, max(size // 2, 8))[None]
    green, autumn = np.array([110.0, 165.0, 70.0]), np.array([150.0, 95.0, 45.0])
    for index, target in ((0, green), (1, autumn)):
        base = np.array(COLORS[index], dtype=float)
        out += (mask == index) * amount * season * (target - base)[:, None, None]
    parcels = (np.floor(yy * 8) * 97 + np.floor(xx * 8)).astype(int)
    plain = rng.random(int(parcels.max()) + 1) < 1 / 3
    fields = (mask == 0) & plain[parcels]
    smooth = (
        sum(  # a 5 x 5 box blur erases the stripes (period ~5 px)
            np.roll(out, (dy, dx), axis=(1, 2))
            for dy in range(-2, 3)
            for dx in range(-2, 3)
        )
        / 25
    )
    out = np.where(fields[None], out + amount * (smooth - out), out)
    turbid = (_smooth_noise(rng, size, max(size // 3, 8)) > 0.5) & (mask == 4)
    out += turbid * amount * np.array([60.0, 50.0, -40.0])[:, None, None]
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle)
    out *= 1 + amount * 0.6 * ramp[None]
    haze = amount * 0.4 * _smooth_noise(rng, size, max(size // 3, 8))[None]
    out = out * (1 - haze) + 190.0 * haze
    out += rng.normal(0, 1, out.shape) * 12 * haze / 0.4
    varied: Array = np.clip(out, 1, 255).astype(np.uint8)
    return varied


def make_scene(
    folder: str | os.PathLike[str],
    size: int = 512,
    seed: int = 0,
    name: str = 'scene',
    variation: float = 0.0,
) -> tuple[Path, Path]:
    """Write a synthetic scene: ``imagery/<name>.tif`` and ``masks/<name>.tif``.

    Five classes with distinct textures, shapes and spatial layouts: striped
    field parcels (most of the scene), smooth blobs of rough forest, a town of
    small bright rectangles crossed by thin roads, and a river plus a lake of
    smooth water. Buildings, roads and water are rare. Both files are
    GeoTIFFs in EPSG:32618 (1 m pixels); the image has nodata 0. With
    ``variation`` > 0 the appearance changes across the scene (season, a
    second texture per class, illumination, haze and noise: :func:`_vary`);
    the class map is the same.

    Args:
        folder: output folder (created).
        size: side of the scene in pixels.
        seed: random seed (same seed, same bytes).
        name: file name stem.
        variation: strength of the appearance changes, in [0, 1] (0: none).

    Raises:
        ValueError: If ``variation`` is outside [0, 1].

    Returns:
        Paths of the image and mask.
    """
    if not 0 <= variation <= 1:
        msg = f'variation must be in [0, 1], got {variation!r}'
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    mask, angle = _layout(rng, size)
    image = _render(rng, mask, angle)
    if variation > 0:  # its own stream: the layout and base image do not change
        image = _vary(np.random.default_rng([seed, 1]), image, mask, variation)
    out = Path(folder)
    (out / 'imagery').mkdir(parents=True, exist_ok=True)
    (out / 'masks').mkdir(parents=True, exist_ok=True)
    origin = (500000.0 + 10_000 * seed, 4100000.0)
    profile = {
        'driver': 'GTiff', 'width': size, 'height': size, 'crs': 'EPSG:32618',
        'transform': from_origin(*origin, 1.0, 1.0), 'tiled': True,
        'blockxsize': 256, 'blockysize': 256, 'compress': 'deflate',
    }  # fmt: skip
    image_path, mask_path = (
        out / 'imagery' / f'{name}.tif',
        out / 'masks' / f'{name}.tif',
    )
    with rasterio.open(
        image_path, 'w', count=3, dtype='uint8', nodata=0, **profile
    ) as dst:
        dst.write(image)
    with rasterio.open(mask_path, 'w', count=1, dtype='uint8', **profile) as dst:
        dst.write(mask[None])
        dst.write_colormap(1, {i: (*c, 255) for i, c in enumerate(COLORS)})
    return image_path, mask_path
