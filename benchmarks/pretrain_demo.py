"""Does pretraining on the unlabelled pool pay? Random vs pretrained init on the demo scene.

1. ``als4gan pretrain`` (TorchGeo's SimCLRTask, ResNet-18) on every training
   patch of the demo scene (``make demo``'s generator, same seed), timed;
2. ``als4gan experiment`` with an ``inits`` axis (``random: null``,
   ``pretrained: <weights>``): supervised and self-training at 5 % and 10 %
   labelled (random draws), the demo's configs otherwise (UNet/ResNet-18, 320
   iterations, AdamW for all, checkpoint choice on val mIoU);
3. the active learner's selection quality: the entropy query at 5 % with a
   randomly initialised and with a pretrained classifier, each selection scored
   by the test mIoU of the supervised segmenter (random init) trained on it.

One seed; differences under ~0.05 mIoU are noise here.

    python benchmarks/pretrain_demo.py [--epochs 300] [--output demo_output/pretrain]
"""

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from torchgeo_als4gan.demo.configs import write_configs
from torchgeo_als4gan.demo.scene import make_scene
from torchgeo_als4gan.experiments import ExperimentConfig, run_experiment
from torchgeo_als4gan.main import main as als4gan
from torchgeo_als4gan.runtime import quiet_known_warnings

ROOT = Path(__file__).parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--epochs', type=int, default=300, help='pretraining epochs')
    parser.add_argument(
        '--size', type=int, default=512, help='scene side (the demo: 512)'
    )
    parser.add_argument('--output', help='keep everything here (default: temporary)')
    args = parser.parse_args()
    quiet_known_warnings()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.output) if args.output else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        run(folder, args)


def run(folder: Path, args: argparse.Namespace) -> None:
    make_scene(folder / 'data', args.size, seed=0)
    configs = write_configs(folder, epochs=8, steps=40)
    weights = folder / 'pretrain' / 'demo_resnet18.pt'
    start = time.perf_counter()
    als4gan([
        'pretrain', '--config', str(ROOT / 'configs' / 'demo_pretrain.yaml'),
        f'--data.init_args.image_paths={folder / "data" / "imagery"}',
        f'--data.init_args.label_paths={folder / "data" / "masks"}',
        f'--output={weights}', f'--trainer.max_epochs={args.epochs}',
        '--trainer.accelerator=cpu', '--trainer.enable_progress_bar=false',
        '--trainer.enable_model_summary=false', '--overwrite=true',
    ])  # fmt: skip
    pretrain_seconds = time.perf_counter() - start
    inits = {'random': None, 'pretrained': str(weights)}
    grid = ExperimentConfig(
        output=folder / 'experiment', ratios=[0.05, 0.1], strategies=['random'],
        methods={m: configs[m] for m in ('supervised', 'self_training')},
        seeds=[0], device='cpu', inits=inits,
    )  # fmt: skip
    results = pd.read_csv(run_experiment(grid)['results'])
    selections = {}
    for name, query_args in (
        ('random init', []),
        ('pretrained', [f'--model.init_args.weights={weights}']),
    ):
        config = ExperimentConfig(
            output=folder / f'selection_{name.split()[0]}', ratios=[0.05],
            strategies=['entropy'], methods={'supervised': configs['supervised']},
            seeds=[0], query_config=configs['query'], query_args=query_args,
            device='cpu',
        )  # fmt: skip
        selections[name] = pd.read_csv(run_experiment(config)['results']).iloc[0]
    print(f'\npretraining: {args.epochs} epochs of SimCLR in {pretrain_seconds:.0f} s')
    print('\n| method | labelled | random init | pretrained | difference |')
    print('|---|---|---|---|---|')
    for method in ('supervised', 'self_training'):
        for ratio in (0.05, 0.1):
            row = {}
            for init in inits:
                chosen = results[
                    (results['method'] == f'{method}_{init}')
                    & (results['ratio'] == ratio)
                ].iloc[0]
                row[init] = chosen
            a, b = row['random'], row['pretrained']
            print(
                f'| {method} | {ratio:.0%} ({int(a["labeled"])}) |'
                f' {a["test_miou"]:.3f} [{a["test_miou_low"]:.3f}, {a["test_miou_high"]:.3f}] |'
                f' {b["test_miou"]:.3f} [{b["test_miou_low"]:.3f}, {b["test_miou_high"]:.3f}] |'
                f' {b["test_miou"] - a["test_miou"]:+.3f} |'
            )
    print('\nactive learner (entropy, 5 %): supervised segmenter on its selection')
    print('| classifier | test mIoU | val mIoU |')
    print('|---|---|---|')
    for name, row in selections.items():
        print(f'| {name} | {row["test_miou"]:.3f} | {row["val_miou"]:.3f} |')


if __name__ == '__main__':
    main()
