#!/usr/bin/env python3
"""Write a tiny georeferenced scene: GeoTIFF image + mask, vector labels, dates (seeded)."""

import os

import geopandas as gpd
import numpy as np
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box

ROOT = os.path.dirname(os.path.abspath(__file__))
HEIGHT, WIDTH = 60, 84  # not a multiple of the 16-pixel test patches
CRS = 'EPSG:32618'
TRANSFORM = from_origin(500000.0, 4100000.0, 10.0, 10.0)


def write(path: str, array: np.ndarray, nodata: float | None = None) -> None:
    with rasterio.open(
        path,
        'w',
        driver='GTiff',
        width=WIDTH,
        height=HEIGHT,
        count=array.shape[0],
        dtype=array.dtype,
        crs=CRS,
        transform=TRANSFORM,
        nodata=nodata,
    ) as dst:
        dst.write(array)


def main() -> None:
    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(ROOT, 'imagery'), exist_ok=True)
    os.makedirs(os.path.join(ROOT, 'masks'), exist_ok=True)
    os.makedirs(os.path.join(ROOT, 'vectors'), exist_ok=True)
    image = rng.integers(1, 256, (3, HEIGHT, WIDTH), dtype=np.uint8)
    image[:, :4, :4] = 0  # nodata corner
    write(os.path.join(ROOT, 'imagery', 'scene.tif'), image, nodata=0)
    mask = np.zeros((1, HEIGHT, WIDTH), dtype=np.uint8)
    mask[0, 10:30, 20:50] = 1
    mask[0, 40:55, 5:25] = 2
    write(os.path.join(ROOT, 'masks', 'scene_mask.tif'), mask)
    # vector labels in another CRS (EPSG:4326) with class names
    x0, y0 = TRANSFORM.c, TRANSFORM.f
    polygons = [
        box(x0 + 200, y0 - 300, x0 + 500, y0 - 100),  # cols 20-50, rows 10-30
        box(x0 + 50, y0 - 550, x0 + 250, y0 - 400),  # cols 5-25, rows 40-55
    ]
    frame = gpd.GeoDataFrame(
        {'landcover': ['building', 'water']}, geometry=polygons, crs=CRS
    )
    frame.to_crs('EPSG:4326').to_file(os.path.join(ROOT, 'vectors', 'labels.geojson'))
    # acquisition dates for the context datamodule (file, date)
    with open(os.path.join(ROOT, 'dates.csv'), 'w') as f:
        f.write('file,date\nscene.tif,2020-07-15\n')
    frame.rename(columns={'landcover': 'other'}).to_file(
        os.path.join(ROOT, 'no_attribute.gpkg'), driver='GPKG'
    )


if __name__ == '__main__':
    main()
