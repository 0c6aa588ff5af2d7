#!/usr/bin/env python3
"""Write a tiny tile folder: images/<scene>/*.{png,jpg}, masks/<scene>/*.png, context.csv."""

import os
import shutil

import numpy as np
import rasterio

ROOT = os.path.dirname(os.path.abspath(__file__))
SCENES = {'farm': 4, 'town': 4}


def write(path: str, array: np.ndarray, driver: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    count, height, width = array.shape
    with rasterio.open(
        path,
        'w',
        driver=driver,
        width=width,
        height=height,
        count=count,
        dtype=array.dtype,
    ) as dst:
        dst.write(array)


def main() -> None:
    rng = np.random.default_rng(0)
    for folder in ('images', 'masks'):
        shutil.rmtree(os.path.join(ROOT, folder), ignore_errors=True)
    for scene, count in SCENES.items():
        for n in range(count):
            # tiles of slightly different sizes, as exported by many tools
            height, width = (24, 22) if n == 1 else (24, 24)
            image = rng.integers(0, 256, (3, height, width), dtype=np.uint8)
            mask = rng.integers(0, 3, (1, height, width), dtype=np.uint8)
            mask[0, 0, :4] = 9  # ignore_value of the fixture
            ext, driver = ('jpg', 'JPEG') if n == 2 else ('png', 'PNG')
            write(os.path.join(ROOT, 'images', scene, f'tile_{n}.{ext}'), image, driver)
            write(os.path.join(ROOT, 'masks', scene, f'tile_{n}.png'), mask, 'PNG')
    # where and when each tile was taken (id, lat, lon, date), for context: true
    with open(os.path.join(ROOT, 'context.csv'), 'w') as f:
        f.write('id,lat,lon,date\n')
        for i, (scene, count) in enumerate(SCENES.items()):
            for n in range(count):
                f.write(f'{scene}/tile_{n},{45 - 10 * i},{7 + n},2021-0{n + 1}-15\n')


if __name__ == '__main__':
    main()
