#!/usr/bin/env python3
"""Checkpoints written by the release before the restructuring (commit e729b69).

They stay in the repository as files: a checkpoint a user saved with that
release must still load in ``als4gan evaluate`` and ``predict-raster``
(tests/inference/test_old_checkpoints.py). To write them again, run this
script with that release on the path::

    git worktree add /tmp/old e729b69
    PYTHONPATH=/tmp/old python tests/data/old_checkpoints/data.py

Each is one iteration on the raster fixture with TorchGeo's FCN (3 filters),
the optimizer state left out (only what evaluation and inference read).
"""

import shutil
import tempfile
from pathlib import Path

import torch

from torchgeo_als4gan.main import main

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
DATA = ROOT / 'tests' / 'data' / 'georaster'
RASTER = [
    f'--data.init_args.image_paths={DATA / "imagery"}',
    f'--data.init_args.label_paths={DATA / "vectors" / "labels.geojson"}',
    '--data.init_args.patch_size=16',
    '--data.init_args.split_block=1',
]
CONFIGS = {
    'self_training': ('raster_self_training.yaml', []),
    's4gan': ('raster_s4gan.yaml', ['--model.init_args.d_width=8']),
}


def write(name: str, config: str, extra: list[str]) -> None:
    """Fit one iteration and keep its checkpoint without the optimizer state."""
    with tempfile.TemporaryDirectory() as tmp:
        main([
            'fit', '--config', str(ROOT / 'configs' / config), *RASTER, *extra,
            '--data.init_args.batch_size=2', '--data.init_args.steps_per_epoch=1',
            '--model.init_args.model=fcn', '--trainer.max_epochs=1',
            '--trainer.limit_val_batches=1', '--trainer.logger=false',
            '--trainer.enable_progress_bar=false', '--trainer.accelerator=cpu',
            '--seed_everything=0', f'--trainer.default_root_dir={tmp}',
        ])  # fmt: skip
        [found] = sorted(Path(tmp).rglob('*.ckpt'))[-1:]
        content = torch.load(found, map_location='cpu', weights_only=False)
        for key in ('optimizer_states', 'lr_schedulers', 'loops', 'callbacks'):
            content.pop(key, None)
        torch.save(content, HERE / f'{name}.ckpt')
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    for name, (config, extra) in CONFIGS.items():
        write(name, config, extra)
