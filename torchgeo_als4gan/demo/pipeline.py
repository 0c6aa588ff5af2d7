"""``als4gan demo``: the whole pipeline on a generated georeferenced scene."""

import argparse
import logging
import os
import shutil
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import rasterio
import torch

from ..command_line import parse_command
from .configs import write_configs
from .scene import CLASSES, make_scene

__all__ = ('main',)

#: Methods the demo can compare, in the order of its table.
METHODS = ('supervised', 's4gan', 'self_training')


def fresh_output(
    parser: argparse.ArgumentParser, output: Path, overwrite: bool
) -> Path:
    """An empty output folder: refused when it holds files, unless ``overwrite``.

    Args:
        parser: the command's parser (its ``error`` reports the refusal).
        output: the folder.
        overwrite: replace what it holds.

    Returns:
        The folder, created and empty.
    """
    if output.exists() and any(output.iterdir()):
        if not overwrite:
            parser.error(
                f'output folder {str(output)!r} is not empty; pass --overwrite'
            )
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)
    return output


def _prediction_scores(prediction: Path, truth: Path) -> dict[str, float]:
    """MIoU and pixel accuracy of a predicted class raster against a mask."""
    from ..evaluation import item_confusions, segmentation_scores

    with rasterio.open(prediction) as p, rasterio.open(truth) as t:
        pred, true = p.read(1).astype(np.int64), t.read(1).astype(np.int64)
    n = len(CLASSES)
    true[pred >= n] = n  # nodata predictions are left out with nodata truth
    confusion = item_confusions(
        torch.from_numpy(pred)[None], torch.from_numpy(true)[None], n, None
    )[0]
    scores = segmentation_scores(confusion, CLASSES)
    return {key: cast(float, scores[key]) for key in ('miou', 'pixel_accuracy')}


def _unseen_scores(
    results: pd.DataFrame, image: Path, mask: Path, folder: Path
) -> pd.DataFrame:
    """MIoU of every run's chosen checkpoint on the unseen scene.

    The unseen scene (512 x 512 pixels, none used in training) is a much larger
    test set than the demo scene's test split, so these figures are steadier.
    """
    from ..inference import load_segmentation_checkpoint, predict_raster

    rows = []
    for row in results.itertuples():
        model = load_segmentation_checkpoint(str(row.checkpoint))
        out = folder / f'{row.method}_{row.strategy}'
        [done] = predict_raster(
            model, [image], out, patch_size=32, overlap=8, progress=False
        )
        scores = _prediction_scores(done.outputs['classes'], mask)
        rows.append((row.strategy, row.method, scores['miou']))
    return pd.DataFrame(rows, columns=['selection', 'method', 'unseen_scene_miou'])


def _quicklook(image: Path, prediction: Path, truth: Path, path: Path) -> Path:
    """Image, predicted classes and ground truth side by side, on map coordinates."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Rectangle

    from ..files import atomic_write
    from .scene import COLORS

    cmap = ListedColormap([tuple(c / 255 for c in color) for color in COLORS])
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.2), sharey=True)
    with rasterio.open(image) as src:
        bounds = src.bounds
        extent = (bounds.left, bounds.right, bounds.bottom, bounds.top)
        axes[0].imshow(np.moveaxis(src.read(), 0, -1), extent=extent)
        crs = src.crs
    for ax, file, title in (
        (axes[1], prediction, 'predicted classes (GeoTIFF)'),
        (axes[2], truth, 'ground truth'),
    ):
        with rasterio.open(file) as src:
            data = np.ma.masked_greater_equal(src.read(1), len(CLASSES))
        ax.imshow(
            data,
            cmap=cmap,
            vmin=-0.5,
            vmax=len(CLASSES) - 0.5,
            extent=extent,
            interpolation='nearest',
        )
        ax.set_title(title)
    axes[0].set_title(f'unseen scene ({crs})')
    for ax in axes:
        ax.set_xlabel('easting (m)')
        ax.ticklabel_format(useOffset=False, style='plain')
    axes[0].set_ylabel('northing (m)')
    handles = [Rectangle((0, 0), 1, 1, color=cmap(i)) for i in range(len(CLASSES))]
    fig.legend(handles, CLASSES, loc='lower center', ncol=len(CLASSES))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=80, format='png')
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> None:
    """Run the demo.

    1. generate a seeded 5-class scene as GeoTIFFs (image + mask) and a second
       scene to predict, both with appearance that varies across the scene
       (``--scene_variation``, default 1);
    2. ``als4gan experiment``: the active learner (entropy) and a random draw
       each pick the same number of training patches; TorchGeo's supervised
       task and self-training (and S4GAN with ``--methods ... s4gan``) train
       on each, and the supervised task
       also on every training patch (the ceiling); every run's checkpoint is
       chosen on val and scored on test, with 95 % intervals;
    3. ``predict-raster``: the semi-supervised model of the active-learning
       selection that scored best on val predicts the second scene (classes,
       uncertainty, polygons);
    4. print the table (selection x method -> test mIoU) and what was written.

    Args:
        argv: command-line arguments after ``demo``.
    """
    parser = argparse.ArgumentParser(
        prog='als4gan demo',
        description=main.__doc__,
        epilog='example: als4gan demo --output demo_output --overwrite',
    )
    parser.add_argument('--output', default='demo_output', help='output folder')
    parser.add_argument('--overwrite', action='store_true', help='replace --output')
    parser.add_argument('--size', type=int, default=512, help='scene side in pixels')
    parser.add_argument(
        '--ratio',
        type=float,
        default=0.1,
        help='labelled fraction of the train patches',
    )
    parser.add_argument(
        '--scene_variation',
        type=float,
        default=1.0,
        help='appearance changes across the scenes (season, textures, illumination,'
        ' haze), in [0, 1]; 1 (default): a 10 %% sample does not show every'
        ' appearance, 0: the uniform scene of earlier releases',
    )
    parser.add_argument('--epochs', type=int, default=8, help='training epochs')
    parser.add_argument('--steps', type=int, default=40, help='iterations per epoch')
    parser.add_argument(
        '--strategies',
        nargs='+',
        default=['random', 'entropy'],
        help='selections to compare',
    )
    parser.add_argument(
        '--methods',
        nargs='+',
        choices=METHODS,
        default=['supervised', 'self_training'],
        help='training methods to compare; supervised (the reference) is required'
        ' (default: supervised self_training; add s4gan for S4GAN, about 3 more'
        ' minutes)',
    )
    parser.add_argument(
        '--no_ceiling',
        dest='ceiling',
        action='store_false',
        help='skip the supervised run on every training patch (the ceiling)',
    )
    args = parse_command(parser, argv, 'demo')  # fmt: skip
    if args.size < 192:
        # 32-pixel patches in 2x2 blocks: smaller scenes have no val/test block
        parser.error(f'--size must be at least 192 pixels, got {args.size}')
    if not 0 <= args.scene_variation <= 1:
        parser.error(f'--scene_variation must be in [0, 1], got {args.scene_variation}')
    if 'supervised' not in args.methods:
        parser.error(
            f'--methods must include supervised (the reference), got {args.methods}'
        )
    output = fresh_output(parser, Path(args.output), args.overwrite)
    start = time.perf_counter()
    # Keep the demo's own progress lines readable: Lightning's tips and the
    # known harmless warnings of its dependencies go.
    logging.getLogger('lightning.pytorch').setLevel(logging.WARNING)
    warnings.filterwarnings(
        'ignore', message='.*(LeafSpec|tensorboardX|many workers|dirpath has changed).*'
    )

    def log(line: str) -> None:
        print(f'[demo {time.perf_counter() - start:6.0f} s] {line}', flush=True)

    from ..experiments import ExperimentConfig, run_experiment
    from ..inference import load_segmentation_checkpoint, predict_raster

    make_scene(output / 'data', args.size, seed=0, variation=args.scene_variation)
    new_image, new_mask = make_scene(
        output / 'new', args.size, seed=1, name='new_scene',
        variation=args.scene_variation,
    )  # fmt: skip
    log(f'scenes written to {output / "data"} and {output / "new"}')
    configs = write_configs(output, args.epochs, args.steps)
    methods = {m: configs[m] for m in METHODS if m in args.methods}
    config = ExperimentConfig(
        output=output / 'experiment', ratios=[args.ratio], strategies=args.strategies,
        methods=methods, seeds=[0], query_config=configs['query'], device='cpu',
        ceiling=args.ceiling,
    )  # fmt: skip
    written = run_experiment(config, log)
    results = pd.read_csv(written['results'])
    # the semi-supervised model of the active selection that scored best on val
    semi = results[results['method'].isin(['s4gan', 'self_training'])]
    semi = semi if len(semi) else results  # --methods supervised: its own model
    active = semi[~semi['strategy'].isin(['random', 'all'])]
    chosen = (active if len(active) else semi).sort_values('val_miou').iloc[-1]
    model = load_segmentation_checkpoint(chosen['checkpoint'])
    [prediction] = predict_raster(
        # tiles of the training patch size: the generator saw only 32-pixel inputs
        model, [new_image], output / 'prediction', patch_size=32, overlap=8,
        uncertainty=True, vector=output / 'prediction' / 'new_scene.gpkg', min_area=4,
        progress=False,
    )  # fmt: skip
    scores = _prediction_scores(prediction.outputs['classes'], new_mask)
    quicklook = _quicklook(
        new_image,
        prediction.outputs['classes'],
        new_mask,
        output / 'prediction' / 'quicklook.png',
    )
    log('done')
    few = results[results['strategy'] != 'all']
    labelled = int(few['labeled'].iloc[0])
    ceiling = results.loc[results['strategy'] == 'all', 'labeled']
    every = f', ceiling: all {int(ceiling.iloc[0])}' if len(ceiling) else ''
    print(
        f'\nselection x method -> test mIoU ({labelled} labelled patches of 32 x 32'
        f' each{every})'
    )
    print(written['table'].read_text())
    unseen = _unseen_scores(results, new_image, new_mask, output / 'unseen_scores')
    print(
        f'mIoU of every run on the unseen scene ({args.size} x {args.size}, never seen in training):'
    )
    print('| selection | method | unseen scene mIoU |\n|---|---|---|')
    for row in unseen.sort_values(['selection', 'method']).itertuples():
        print(f'| {row.selection} | {row.method} | {row.unseen_scene_miou:.3f} |')
    print()
    print(
        f'{chosen["method"]} ({chosen["strategy"]} selection, best on val) on the unseen'
        f' scene {os.fspath(new_image)}: mIoU {scores["miou"]:.3f}, pixel accuracy'
        f' {scores["pixel_accuracy"]:.3f}'
    )
    print('\nwrote:')
    for name, path in [
        ('scene', output / 'data'), ('configs', output / 'configs'),
        ('results', written['results']), ('table', written['table']),
        ('plot', written['plot']), ('report', written['report']),
        ('runs', output / 'experiment' / 'runs'),
        *prediction.outputs.items(), ('polygons', output / 'prediction' / 'new_scene.gpkg'),
        ('quicklook', quicklook),
    ]:  # fmt: skip
        print(f'  {name:<12} {os.fspath(path)}')
    print(f'total {time.perf_counter() - start:.0f} s')
