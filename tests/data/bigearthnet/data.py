#!/usr/bin/env python3
"""Write a tiny BigEarthNet v1 (S1 + S2) in TorchGeo's layout (seeded).

Patch folders named like the real ones (``S2A_MSIL2A_<date>T<time>_<row>_<col>``
and ``S1A_IW_GRDH_1SDV_<date>T<time>_<tile>_<row>_<col>``) with one GeoTIFF per
band (S2: 12 bands at 10/20/60 m sizes, S1: VV, VH), georeferenced in UTM,
``*_labels_metadata.json`` with the 43-class names, and the split CSVs
``bigearthnet-{train,val,test}.csv`` (``s2_folder,s1_folder``).
"""

import json
import os
import shutil

import numpy as np
import rasterio
from rasterio.transform import from_origin

ROOT = os.path.dirname(os.path.abspath(__file__))
S2_BANDS = {'B01': 2, 'B02': 12, 'B03': 12, 'B04': 12, 'B05': 6, 'B06': 6,
            'B07': 6, 'B08': 12, 'B09': 2, 'B11': 6, 'B12': 6, 'B8A': 6}  # fmt: skip
LABELS = [
    ['Non-irrigated arable land', 'Pastures'],
    ['Coniferous forest'],
    ['Water bodies', 'Mixed forest'],
]
#: patch: (S2 date-time, S1 date-time, EPSG, easting, northing, split)
PATCHES = [
    ('20170717T113321', '20170716T170000', 32629, 500000.0, 4300000.0, 'train'),
    ('20180104T101421', '20180103T060000', 32634, 400000.0, 6700000.0, 'train'),
    ('20170613T101031', '20170612T165043', 32633, 450000.0, 5300000.0, 'train'),
    ('20171112T114351', '20171111T170000', 32629, 510000.0, 4310000.0, 'train'),
    ('20180222T095031', '20180221T050000', 32635, 350000.0, 6900000.0, 'val'),
    ('20170815T100031', '20170814T165000', 32632, 600000.0, 5200000.0, 'test'),
]


def write(
    path: str, size: int, epsg: int, east: float, north: float, rng: np.random.Generator
) -> None:
    with rasterio.open(
        path, 'w', driver='GTiff', width=size, height=size, count=1, dtype='uint16',
        crs=f'EPSG:{epsg}', transform=from_origin(east, north, 120 / size, 120 / size),
    ) as dst:  # fmt: skip
        dst.write(rng.integers(0, 3000, (1, size, size)).astype('uint16'))


def main() -> None:
    rng = np.random.default_rng(0)
    for name in ('BigEarthNet-v1.0', 'BigEarthNet-S1-v1.0'):
        shutil.rmtree(os.path.join(ROOT, name), ignore_errors=True)
    rows: dict[str, list[str]] = {'train': [], 'val': [], 'test': []}
    for i, (s2_time, s1_time, epsg, east, north, split) in enumerate(PATCHES):
        s2 = f'S2A_MSIL2A_{s2_time}_{10 + i}_{20 + i}'
        s1 = f'S1A_IW_GRDH_1SDV_{s1_time}_29SND_{10 + i}_{20 + i}'
        labels = LABELS[i % len(LABELS)]
        for folder, bands in ((os.path.join(ROOT, 'BigEarthNet-v1.0', s2), S2_BANDS),
                              (os.path.join(ROOT, 'BigEarthNet-S1-v1.0', s1),
                               {'VV': 12, 'VH': 12})):  # fmt: skip
            os.makedirs(folder)
            base = os.path.basename(folder)
            for band, size in bands.items():
                write(
                    os.path.join(folder, f'{base}_{band}.tif'),
                    size,
                    epsg,
                    east,
                    north,
                    rng,
                )
            with open(os.path.join(folder, f'{base}_labels_metadata.json'), 'w') as f:
                json.dump({'labels': labels, 'acquisition_date': s2_time}, f)
        rows[split].append(f'{s2},{s1}')
    for split, lines in rows.items():
        with open(os.path.join(ROOT, f'bigearthnet-{split}.csv'), 'w') as f:
            f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
