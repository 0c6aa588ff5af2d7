#!/usr/bin/env python3
"""Write a tiny DeepGlobe Land Cover train folder (Kaggle layout, seeded)."""

import json
import os
import shutil

import numpy as np
import rasterio

SIZE = 40
IDS = ['100', '207', '855', '2774', '9999']
ROOT = os.path.dirname(os.path.abspath(__file__))
# urban, agriculture, rangeland, forest, water, barren, unknown
PALETTE = np.array(
    [
        [0, 255, 255],
        [255, 255, 0],
        [255, 0, 255],
        [0, 255, 0],
        [0, 0, 255],
        [255, 255, 255],
        [0, 0, 0],
    ],
    dtype=np.uint8,
)


def write(path: str, array: np.ndarray, driver: str) -> None:
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
    folder = os.path.join(ROOT, 'train')
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for image_id in IDS:
        classes = rng.integers(0, 7, (SIZE // 8, SIZE // 8)).repeat(8, 0).repeat(8, 1)
        rgb = PALETTE[classes].transpose(2, 0, 1).copy()
        # near-palette noise as in real masks: still decodes to the same class
        noise = rng.integers(0, 40, rgb.shape, dtype=np.uint8)
        rgb = np.where(rgb > 127, rgb - noise, rgb + noise).astype(np.uint8)
        image = rng.integers(0, 256, (3, SIZE, SIZE), dtype=np.uint8)
        write(os.path.join(folder, f'{image_id}_sat.jpg'), image, 'JPEG')
        write(os.path.join(folder, f'{image_id}_mask.png'), rgb, 'PNG')
    with open(os.path.join(ROOT, 'class_map.json'), 'w') as f:
        json.dump(
            {f'{i}_sat.jpg': 'forest' if n % 2 else 'urban' for n, i in enumerate(IDS)},
            f,
            indent=1,
        )


if __name__ == '__main__':
    main()
