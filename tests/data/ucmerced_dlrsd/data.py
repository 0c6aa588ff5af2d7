#!/usr/bin/env python3
"""Write a tiny UC Merced + DLRSD in the official layout (seeded)."""

import os
import shutil

import numpy as np
import rasterio

SIZE = 32
SCENES = ['agricultural', 'airplane', 'beach']
PER_SCENE = 4
ROOT = os.path.dirname(os.path.abspath(__file__))


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
    for folder in ('UCMerced_LandUse', 'DLRSD'):
        shutil.rmtree(os.path.join(ROOT, folder), ignore_errors=True)
    for scene in SCENES:
        for n in range(PER_SCENE):
            name = f'{scene}{n:02d}'
            # airplane01 is 29 pixels wide, like the 43 smaller real tiles;
            # airplane02 is one pixel larger each way, like harbor10 (257 x 257)
            height = width = SIZE
            if name == 'airplane01':
                width = SIZE - 3
            elif name == 'airplane02':
                height = width = SIZE + 1
            image = rng.integers(0, 256, (3, height, width), dtype=np.uint8)
            mask = rng.integers(1, 18, (1, height, width), dtype=np.uint8)
            mask[0, :2, :2] = 0  # DLRSD has no 0 class: must become ignore
            write(
                os.path.join(ROOT, 'UCMerced_LandUse', 'Images', scene, name + '.tif'),
                image,
                'GTiff',
            )
            write(
                os.path.join(ROOT, 'DLRSD', 'Labels', scene, name + '.png'), mask, 'PNG'
            )


if __name__ == '__main__':
    main()
