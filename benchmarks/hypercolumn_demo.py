"""The hypercolumn segmenter on the demo scene: full masks vs points vs the supervised baseline.

Run after ``make demo`` (it writes ``demo_output/data`` and its configs). On the
demo's random 10 % of the training patches (seed 0, the same patches as the
demo's random cells), one seed:

* ``supervised``: the demo's baseline (UNet / ResNet-18, AdamW 1e-3);
* ``hypercolumn_masks``: :class:`HypercolumnTask`, pixels stage, VGG16 with
  every convolution tapped, 3 pixels per class per tile drawn each iteration
  from the patches' full masks;
* ``hypercolumn_points``: the same, trained from 5 points per class per patch
  only: an annotator simulated by drawing them from the true masks, written as
  a point layer and turned into sparse masks by ``als4gan labels`` (the rest of
  each patch unlabelled), read through ``added_label_paths``.

All three: same patches, iterations (the demo's 8 x 40) and checkpoint policy
(``als4gan experiment``). No pretrained weights exist offline, so the VGG16 is
trained end to end (``freeze_backbone: false``; the seed froze an ImageNet
VGG16). Printed: test mIoU and per-class IoU, then every model applied to the
unseen scene in 128 x 128 tiles (4x the 32-pixel training patches): mIoU and the
share of the most frequent predicted class (a collapse to one class shows as
~1.0).

    python benchmarks/hypercolumn_demo.py [--demo demo_output] [--output demo_output/hypercolumn]
"""

import argparse
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import torch
import yaml
from shapely.geometry import Point

from torchgeo_als4gan.demo.scene import CLASSES
from torchgeo_als4gan.evaluation.cli import build_parser
from torchgeo_als4gan.evaluation.scores import segmentation_scores
from torchgeo_als4gan.experiments import ExperimentConfig, run_experiment
from torchgeo_als4gan.inference import load_segmentation_checkpoint, predict_raster
from torchgeo_als4gan.main import main as als4gan
from torchgeo_als4gan.runtime import quiet_known_warnings, quiet_lightning
from torchgeo_als4gan.samplers import FootprintGeoSampler, sample_pixels_per_class

POINTS_PER_CLASS = 5


def selected_patches(config: Path) -> Any:
    parser = build_parser()
    cfg = parser.parse_args(['--config', str(config), '--data.init_args.labeled_ratio=0.1',
                             '--data.init_args.seed=0', '--checkpoints=.'])  # fmt: skip
    data = parser.instantiate_classes(cfg).data
    data.setup('fit')
    return data


def write_points(data: Any, folder: Path) -> tuple[Path, Path]:
    """The selected patches as a labelling task, and points drawn from their true masks."""
    patches = gpd.GeoDataFrame(data.labeled_footprints[['id', 'path', 'geometry']])
    task = folder / 'selection.gpkg'
    patches.to_file(task, layer='selection', driver='GPKG')
    generator = torch.Generator().manual_seed(0)
    rows: list[dict[str, Any]] = []
    (xres, yres) = data.scene.res
    for query in FootprintGeoSampler(data.scene, patches, data.patch_size):
        x, y, _ = query
        mask = data.scene[query]['mask'].long()
        mask = mask.squeeze(0) if mask.ndim == 3 else mask
        sample = sample_pixels_per_class(
            mask[None], POINTS_PER_CLASS, len(CLASSES), 255, generator
        )
        for r, c, label in zip(
            sample.rows.tolist(),
            sample.cols.tolist(),
            sample.labels.tolist(),
            strict=True,
        ):
            centre = Point(x.start + (c + 0.5) * xres, y.stop - (r + 0.5) * yres)
            rows.append({'class': CLASSES[label], 'geometry': centre})
    points = folder / 'points.gpkg'
    gpd.GeoDataFrame(rows, crs=patches.crs).to_file(points, driver='GPKG')
    return task, points


def hypercolumn_config(base: Path, out: Path, extra_data: dict[str, Any]) -> Path:
    config = yaml.safe_load(base.read_text())
    config['model'] = {
        'class_path': 'torchgeo_als4gan.trainers.HypercolumnTask',
        'init_args': {
            'backbone': 'vgg16', 'weights': None, 'in_channels': 3,
            'num_classes': len(CLASSES), 'ignore_index': 255, 'taps': 'convs',
            'hidden': [1024, 1024], 'dropout': 0.5, 'stage': 'pixels',
            'pixels_per_class': 3, 'class_weights': 'inverse', 'lr': 1e-3,
            'freeze_backbone': False,
        },
    }  # fmt: skip
    config['data']['init_args'].update(extra_data)
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def unseen_scores(
    checkpoint: str, image: Path, mask: Path, folder: Path
) -> dict[str, float]:
    model = load_segmentation_checkpoint(checkpoint)
    [prediction] = predict_raster(
        model,
        [image],
        folder,
        patch_size=128,
        overlap=16,
        progress=False,
        overwrite=True,
    )
    with rasterio.open(prediction.outputs['classes']) as p, rasterio.open(mask) as t:
        pred, true = p.read(1).astype(np.int64), t.read(1).astype(np.int64)
    n = len(CLASSES)
    valid = (pred < n) & (true < n)
    confusion = np.bincount(true[valid] * n + pred[valid], minlength=n * n).reshape(
        n, n
    )
    scores = segmentation_scores(torch.from_numpy(confusion), CLASSES)
    share = np.bincount(pred[valid], minlength=n).max() / valid.sum()
    return {'unseen_miou': float(scores['miou']), 'largest_class_share': float(share)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--demo', default='demo_output')
    parser.add_argument('--output', default='demo_output/hypercolumn')
    args = parser.parse_args()
    quiet_known_warnings()
    demo, out = Path(args.demo), Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    base = demo / 'configs' / 'supervised.yaml'
    data = selected_patches(base)
    task, points = write_points(data, out)
    sparse = out / 'point_masks'
    if not sparse.exists():
        als4gan(['labels', '--patches', str(task), '--drawn', str(points), '--classes',
                 *CLASSES, '--output', str(sparse)])  # fmt: skip
    methods = {
        'supervised': base,
        'hypercolumn_masks': hypercolumn_config(
            base, out / 'hypercolumn_masks.yaml', {}
        ),
        'hypercolumn_points': hypercolumn_config(
            base, out / 'hypercolumn_points.yaml', {'added_label_paths': str(sparse)}
        ),
    }
    config = ExperimentConfig(
        output=out / 'experiment', ratios=[0.1], strategies=['random'], methods=methods,
        seeds=[0], device='cpu',
    )  # fmt: skip
    with quiet_lightning():
        written = run_experiment(config, print)
    results = pd.read_csv(written['results'])
    print(written['table'].read_text())
    image, mask = (
        demo / 'new' / 'imagery' / 'new_scene.tif',
        demo / 'new' / 'masks' / 'new_scene.tif',
    )
    print(f'labelled: {int(results["labeled"].iloc[0])} patches of 32 x 32;'
          f' points: {POINTS_PER_CLASS} per class per patch')  # fmt: skip
    print(
        '| method | test mIoU | '
        + ' | '.join(CLASSES)
        + ' | unseen scene mIoU (128 px tiles) | largest class share |'
    )
    print('|---|---|' + '---|' * len(CLASSES) + '---|---|')
    for row in results.itertuples():
        run = out / 'experiment' / 'runs' / f'{row.method}_random_r0.1_s0'
        confusion = np.load(run / 'test_confusion.npy').sum(axis=0)
        scores = segmentation_scores(torch.from_numpy(confusion), CLASSES)
        per_class = scores['per_class_iou']
        unseen = unseen_scores(row.checkpoint, image, mask, out / 'unseen' / row.method)
        cells = ' | '.join(
            '-' if per_class.get(c) is None else f'{per_class[c]:.3f}' for c in CLASSES
        )
        print(f'| {row.method} | {row.test_miou:.3f} | {cells} | {unseen["unseen_miou"]:.3f}'
              f' | {unseen["largest_class_share"]:.2f} |')  # fmt: skip


if __name__ == '__main__':
    main()
