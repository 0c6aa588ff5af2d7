"""Demo scenes whose appearance depends on where and when they were taken.

The layout of :func:`~torchgeo_als4gan.demo.scene.make_scene` (fields,
forest, a town with roads, a river and a lake), rendered with colours that
depend on the *season* (fields green in summer, golden in autumn, bare in
winter; deciduous forest green in summer and bare brown in winter, close to a
bare field) and the *region* (a dry south where fields look like bare soil and
forest is sparse olive scrub; a boreal north, darker and bluish). Each scene is
a GeoTIFF in the UTM zone of its region, with its acquisition date in the
``ACQUISITIONDATETIME`` tag, so :mod:`torchgeo_als4gan.context` reads both.

The default split holds out two region x season combinations (each region and
each season is seen in training, those combinations are not): the
out-of-distribution test of a model fed the context directly.
"""

import datetime
import os
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

from .scene import COLORS, _layout

__all__ = (
    'ID_SCENES',
    'OOD_SCENES',
    'REGIONS',
    'SEASONS',
    'make_context_scene',
    'make_context_scenes',
)

#: Region -> (latitude, longitude) of the scene centre.
REGIONS = {'temperate': (48.1, 11.6), 'north': (62.5, 25.7), 'dry': (37.4, -5.9)}

#: Season -> acquisition date.
SEASONS = {
    'summer': datetime.date(2021, 7, 15),
    'autumn': datetime.date(2021, 10, 10),
    'winter': datetime.date(2021, 1, 20),
}

#: Training (in-distribution) region x season combinations.
ID_SCENES = (
    ('temperate', 'summer'), ('temperate', 'winter'), ('north', 'summer'),
    ('dry', 'winter'), ('dry', 'autumn'), ('north', 'autumn'),
)  # fmt: skip

#: Held-out combinations (each region and season is seen in training).
OOD_SCENES = (('north', 'winter'), ('dry', 'summer'))

Array = np.ndarray[Any, Any]

#: Colours of field and forest per season (the other classes keep theirs).
SEASON_COLORS = {
    'summer': {0: (110, 165, 70), 1: (45, 110, 55)},
    'autumn': {0: (205, 180, 100), 1: (150, 110, 50)},
    'winter': {0: (150, 125, 95), 1: (120, 100, 85)},
}


def _palette(region: str, season: str) -> Array:
    colors = np.array(COLORS, dtype=float)
    for index, color in SEASON_COLORS[season].items():
        colors[index] = color
    if region == 'dry':  # fields like bare soil, forest sparse olive scrub
        colors[0] = 0.4 * colors[0] + 0.6 * np.array([195.0, 165.0, 125.0])
        colors[1] = 0.5 * colors[1] + 0.5 * np.array([125.0, 125.0, 75.0])
    elif region == 'north':  # low sun: darker and bluish
        colors[:2] = colors[:2] * 0.75 + np.array([0.0, 5.0, 25.0])
    return colors


def _render(
    rng: np.random.Generator, mask: Array, angle: Array, colors: Array
) -> Array:
    size = mask.shape[0]
    yy, xx = np.mgrid[:size, :size].astype(float)
    image = np.zeros((3, size, size))
    for index, color in enumerate(colors):
        image[:, mask == index] = color[:, None]
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 1.3)
    image += (mask == 0) * 10 * stripes  # faint ploughing: colour matters
    image += (mask == 1) * 14 * rng.normal(0, 1, (size, size))
    image += (mask == 2) * rng.choice([-30.0, 0.0, 40.0], size=(size, size))[None]
    image += (mask == 4) * 6 * np.sin(xx / 5.0)
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 1, 255).astype(np.uint8)


def _utm(lat: float, lon: float) -> str:
    zone = int((lon + 180) // 6) + 1
    return f'EPSG:{32600 + zone if lat >= 0 else 32700 + zone}'


def make_context_scene(
    folder: str | os.PathLike[str],
    region: str,
    season: str,
    size: int = 256,
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write ``imagery/<region>_<season>.tif`` and ``masks/<region>_<season>.tif``.

    Args:
        folder: output folder (created).
        region: a key of :data:`REGIONS`.
        season: a key of :data:`SEASONS`.
        size: side in pixels (1 m).
        seed: seed of the layout and noise (combined with region and season).

    Returns:
        Paths of the image and the mask.

    Raises:
        ValueError: If the region or season is unknown.
    """
    if region not in REGIONS or season not in SEASONS:
        msg = (
            f'region must be one of {sorted(REGIONS)} and season one of'
            f' {sorted(SEASONS)}, got {region!r}, {season!r}'
        )
        raise ValueError(msg)
    keys = sorted(REGIONS).index(region), sorted(SEASONS).index(season)
    rng = np.random.default_rng([seed, *keys])
    mask, angle = _layout(rng, size)
    image = _render(rng, mask, angle, _palette(region, season))
    lat, lon = REGIONS[region]
    crs = _utm(lat, lon)
    east, north = Transformer.from_crs('EPSG:4326', crs, always_xy=True).transform(
        lon, lat
    )
    profile = {
        'driver': 'GTiff', 'width': size, 'height': size, 'crs': crs,
        'transform': from_origin(east - size / 2, north + size / 2, 1.0, 1.0),
        'compress': 'deflate',
    }  # fmt: skip
    out = Path(folder)
    name = f'{region}_{season}'
    paths = out / 'imagery' / f'{name}.tif', out / 'masks' / f'{name}.tif'
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        paths[0], 'w', count=3, dtype='uint8', nodata=0, **profile
    ) as dst:
        dst.write(image)
        dst.update_tags(ACQUISITIONDATETIME=f'{SEASONS[season].isoformat()}T10:30:00Z')
    with rasterio.open(paths[1], 'w', count=1, dtype='uint8', **profile) as dst:
        dst.write(mask[None])
    return paths


def make_context_scenes(
    folder: str | os.PathLike[str], size: int = 256, seed: int = 0
) -> dict[str, list[Path]]:
    """Write the in-distribution scenes under ``id/`` and the held-out ones under ``ood/``.

    Args:
        folder: output folder.
        size: side of each scene in pixels.
        seed: seed.

    Returns:
        ``id`` and ``ood``: the image paths.
    """
    out = Path(folder)
    written: dict[str, list[Path]] = {'id': [], 'ood': []}
    for split, scenes in (('id', ID_SCENES), ('ood', OOD_SCENES)):
        for region, season in scenes:
            image, _ = make_context_scene(out / split, region, season, size, seed)
            written[split].append(image)
    return written
