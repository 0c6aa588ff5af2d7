#!/usr/bin/env python3
"""Write a tiny EuroSAT (multispectral) in TorchGeo's layout (seeded).

13-band 8 x 8 int16 GeoTIFFs, georeferenced in UTM zones at known places
(``LOCATIONS``), under ``ds/images/remote_sensing/otherDatasets/sentinel_2/tif/
<Class>/<Class>_<n>.tif``, and the split lists ``eurosat-{train,val,test}.txt``
naming ``<Class>_<n>.jpg`` as the real ones do.
"""

import os
import shutil

import numpy as np
import rasterio
from rasterio.transform import from_origin

ROOT = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(
    'ds', 'images', 'remote_sensing', 'otherDatasets', 'sentinel_2', 'tif'
)
CLASSES = ['AnnualCrop', 'Forest', 'SeaLake']
#: per class: EPSG code and upper-left corner (easting, northing) of image 0
LOCATIONS = {
    'AnnualCrop': (32632, 690000.0, 5335000.0),  # near Munich
    'Forest': (32635, 380000.0, 6930000.0),  # Finland
    'SeaLake': (32630, 230000.0, 4145000.0),  # southern Spain
}
PER_CLASS = 6  # images 0-3 train, 4 val, 5 test
SIZE = 8


def main() -> None:
    rng = np.random.default_rng(0)
    shutil.rmtree(os.path.join(ROOT, 'ds'), ignore_errors=True)
    splits: dict[str, list[str]] = {'train': [], 'val': [], 'test': []}
    for k, name in enumerate(CLASSES):
        epsg, east, north = LOCATIONS[name]
        folder = os.path.join(ROOT, BASE, name)
        os.makedirs(folder)
        for n in range(PER_CLASS):
            image = rng.integers(500 + 800 * k, 1500 + 800 * k, (13, SIZE, SIZE))
            path = os.path.join(folder, f'{name}_{n}.tif')
            with rasterio.open(
                path, 'w', driver='GTiff', width=SIZE, height=SIZE, count=13,
                dtype='int16', crs=f'EPSG:{epsg}',
                transform=from_origin(east + 100 * n, north, 10, 10),
            ) as dst:  # fmt: skip
                dst.write(image.astype('int16'))
            split = 'train' if n < 4 else ('val' if n == 4 else 'test')
            splits[split].append(f'{name}_{n}.jpg')
    for split, names in splits.items():
        with open(os.path.join(ROOT, f'eurosat-{split}.txt'), 'w') as f:
            f.write('\n'.join(names) + '\n')


if __name__ == '__main__':
    main()
