"""Labels from another region: source only, target only and source + target, random and loop.

STAL's domain-adaptive setting on two generated scenes of the same five
classes (``torchgeo_als4gan.demo.context_scenes``): the *source* is a
temperate summer scene, fully labelled; the *target* a dry-region autumn
scene (fields like golden or bare soil, scrubby olive forest), where a small
budget of patches is labelled. Every row is an ``als4gan loop`` run (the same
fits, checkpoint choice on the target's val mIoU and test scoring), one seed:

The default pair is a strong shift (``--target north summer``: a milder one,
the boreal north's darker, bluish light).

* source only: the source's labels, self-training on the target's pool
  (``target_labels: false``); the budget's target patches are drawn but not used;
* target only, random / loop: the target budget, chosen at random or by the
  STAL loop (pixel entropy), in two rounds;
* source + target, random / loop: the same, with the source joined to every
  labelled batch (``source:``, one source patch per target patch).

    python benchmarks/domain_shift.py [--budgets 0.04 0.1] [--size 512]
"""

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from torchgeo_als4gan.demo.context_scenes import make_context_scene
from torchgeo_als4gan.demo.scene import CLASSES
from torchgeo_als4gan.main import main as als4gan
from torchgeo_als4gan.runtime import quiet_known_warnings

#: Default domains: the source's summer-green fields against the dry region's
#: golden / bare autumn ones (``--target north summer``: a milder shift).
SOURCE, TARGET = ('temperate', 'summer'), ('dry', 'autumn')


def method_config(folder: Path, epochs: int, steps: int) -> Path:
    """The self-training fit config of every run (the target's datamodule)."""
    config = {
        'trainer': {
            'max_epochs': epochs, 'accelerator': 'cpu', 'devices': 1,
            'enable_progress_bar': False, 'enable_model_summary': False,
            'log_every_n_steps': 1,
        },
        'model': {
            'class_path': 'torchgeo_als4gan.trainers.SelfTrainingTask',
            'init_args': {
                'model': 'unet', 'backbone': 'resnet18', 'weights': None,
                'in_channels': 3, 'num_classes': len(CLASSES), 'ignore_index': 255,
                'optimizer': 'adamw', 'lr': 1e-3, 'ema_decay': 0.99,
                'threshold': 0.95, 'lambda_u': 1.0,
                'unsup_warmup': epochs * steps // 4,
                'unsup_rampup': epochs * steps // 4, 'eval_model': 'teacher',
            },
        },
        'data': {
            'class_path': 'torchgeo_als4gan.datamodules.GeoSegmentationDataModule',
            'init_args': _scene_args(folder / 'target', steps),
        },
    }  # fmt: skip
    path = folder / 'self_training.yaml'
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _scene_args(folder: Path, steps: int, **extra: Any) -> dict[str, Any]:
    return {
        'image_paths': str(folder / 'imagery'), 'label_paths': str(folder / 'masks'),
        'classes': list(CLASSES), 'patch_size': 32, 'split_block': 2,
        'batch_size': 8, 'unlabeled': True, 'steps_per_epoch': steps,
        'labeled_ratio': 0.05, 'seed': 0, 'num_workers': 0,
        'mean': [130.0, 130.0, 100.0], 'std': [60.0, 50.0, 50.0], **extra,
    }  # fmt: skip


def run_loop(
    folder: Path, name: str, budgets: list[float], **options: Any
) -> pd.DataFrame:
    config = {
        'output': str(folder / name), 'method': str(folder / 'self_training.yaml'),
        'budgets': budgets, 'seed': 0, 'device': 'cpu', 'bootstrap_samples': 200,
        **options,
    }  # fmt: skip
    path = folder / f'{name}.yaml'
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    start = time.perf_counter()
    als4gan(['loop', '--config', str(path)])
    results = pd.read_csv(folder / name / 'results.csv')
    results['seconds'] = time.perf_counter() - start
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--budgets', type=float, nargs='+', default=[0.04, 0.1])
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--epochs', type=int, default=8)
    parser.add_argument('--steps', type=int, default=40)
    parser.add_argument(
        '--output', help='keep the runs here (default: a temporary folder)'
    )
    parser.add_argument(
        '--source', nargs=2, default=SOURCE, metavar=('REGION', 'SEASON')
    )
    parser.add_argument(
        '--target', nargs=2, default=TARGET, metavar=('REGION', 'SEASON')
    )
    args = parser.parse_args()
    quiet_known_warnings()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.output) if args.output else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        make_context_scene(folder / 'source', *args.source, size=args.size, seed=1)
        make_context_scene(folder / 'target', *args.target, size=args.size, seed=2)
        method_config(folder, args.epochs, args.steps)
        source = {
            'class_path': 'torchgeo_als4gan.datamodules.GeoSegmentationDataModule',
            'init_args': _scene_args(
                folder / 'source', args.steps, labeled_ratio=None,
                split_fractions=[1.0, 0.0, 0.0], unlabeled=False,
            ),
        }  # fmt: skip
        joined = {'source': source, 'source_ratio': 1.0}
        rows = {
            'source only': run_loop(folder, 'source_only', args.budgets[-1:],
                                    scorer='random', target_labels=False, **joined),
            'target only, random': run_loop(folder, 'target_random', args.budgets,
                                            scorer='random'),
            'target only, loop': run_loop(folder, 'target_loop', args.budgets,
                                          scorer='pixel_entropy'),
            'source + target, random': run_loop(folder, 'joined_random', args.budgets,
                                                scorer='random', **joined),
            'source + target, loop': run_loop(folder, 'joined_loop', args.budgets,
                                              scorer='pixel_entropy', **joined),
        }  # fmt: skip
    print(
        f'\nsource {" ".join(args.source)} (all labelled) -> target'
        f' {" ".join(args.target)}, {args.size} px scenes, 32 px patches, self-training'
        f' UNet/ResNet-18, {args.epochs * args.steps} iterations per fit, one seed'
    )
    print(
        '\n| training | target labelled | test mIoU [95 % interval] | val mIoU | run s |'
    )
    print('|---|---|---|---|---|')
    for name, results in rows.items():
        last = results.iloc[-1]
        labelled = (
            '0' if name == 'source only'
            else f'{int(last["labeled"])} ({last["labeled_percent"]:.0f} %)'
        )  # fmt: skip
        print(
            f'| {name} | {labelled} |'
            f' {last["test_miou"]:.3f} [{last["test_miou_low"]:.3f},'
            f' {last["test_miou_high"]:.3f}] | {last["val_miou"]:.3f} |'
            f' {last["seconds"]:.0f} |'
        )
        if len(results) > 1:
            first = results.iloc[0]
            print(
                f'|   (round 0: {int(first["labeled"])} patches) | |'
                f' {first["test_miou"]:.3f} | {first["val_miou"]:.3f} | |'
            )


if __name__ == '__main__':
    main()
