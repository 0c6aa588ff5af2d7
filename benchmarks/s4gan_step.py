"""Cost of one S4GAN training iteration relative to one plain supervised step.

Both run in this process through ``Trainer.fit`` on the same synthetic batches:
a TorchGeo ``SemanticSegmentationTask`` step (labelled batch) and an
``S4GANTask`` iteration (labelled + unlabelled batch of the same size, same
generator, same input size). Only the training step itself is timed (from
``on_train_batch_start`` to ``on_train_batch_end``), after warm-up steps; the
median of the timed steps is used.

The S4GAN iteration must run the generator on both batches (so about 2x the
plain step) plus the small discriminator: target ratio <= 2.2.

    python benchmarks/s4gan_step.py [--model deeplabv3+ --backbone resnet50
        --batch 4 --size 256 --classes 17 --steps 5 --warmup 2 --device auto]
"""

import argparse
import shutil
import statistics
import tempfile
import time
import warnings
from typing import Any

import torch
from lightning import Callback, LightningDataModule, LightningModule, Trainer
from lightning.pytorch.utilities import CombinedLoader
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchgeo.trainers import SemanticSegmentationTask

from torchgeo_als4gan.models import DeepLabV2
from torchgeo_als4gan.runtime import quiet_known_warnings, quiet_lightning
from torchgeo_als4gan.trainers import S4GANTask


class PlainSegmentation(SemanticSegmentationTask):
    """TorchGeo's task (plateau scheduler on train_loss: no val here), + deeplabv2."""

    monitor = 'train_loss'

    def configure_models(self) -> None:
        """TorchGeo's models, or the same DeepLab-v2 generator as S4GANTask."""
        if self.hparams['model'] != 'deeplabv2':
            super().configure_models()
            return
        self.model = DeepLabV2(
            self.hparams['backbone'],
            self.hparams['in_channels'],
            self.hparams['num_classes'],
        )


class RandomTiles(Dataset[dict[str, Tensor]]):
    """A few fixed random tiles, cycled."""

    def __init__(self, n: int, size: int, classes: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randn(n, 3, size, size, generator=g)
        self.masks = torch.randint(0, classes, (n, size, size), generator=g)

    def __len__(self) -> int:
        return 10_000

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        j = i % len(self.images)
        return {'image': self.images[j], 'mask': self.masks[j]}


class Tiles(LightningDataModule):
    def __init__(self, args: argparse.Namespace, semi: bool) -> None:
        super().__init__()
        self.args, self.semi = args, semi

    def _loader(self, seed: int) -> DataLoader[dict[str, Tensor]]:
        a = self.args
        return DataLoader(RandomTiles(2 * a.batch, a.size, a.classes, seed), a.batch)

    def train_dataloader(self) -> Any:
        if not self.semi:
            return self._loader(0)
        return CombinedLoader(
            {'labeled': self._loader(0), 'unlabeled': self._loader(1)}, 'max_size_cycle'
        )


class StepTimer(Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.times: list[float] = []
        self.start = 0.0

    def _sync(self, module: LightningModule) -> None:
        if module.device.type == 'cuda':
            torch.cuda.synchronize(module.device)

    def on_train_batch_start(
        self, trainer: Trainer, module: LightningModule, *args: Any
    ) -> None:
        self._sync(module)
        self.start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: Trainer, module: LightningModule, *args: Any
    ) -> None:
        self._sync(module)
        if trainer.fit_loop.epoch_loop.batch_progress.current.completed >= self.warmup:
            self.times.append(time.perf_counter() - self.start)


def time_steps(
    task: LightningModule,
    semi: bool,
    args: argparse.Namespace,
    callbacks: list[Callback] | None = None,
) -> float:
    timer = StepTimer(args.warmup)
    root = tempfile.mkdtemp(prefix='s4gan_step_')  # nothing written into the checkout
    with quiet_lightning():  # only the timings are printed
        trainer = Trainer(
            default_root_dir=root,
            accelerator='gpu' if args.device == 'cuda' else 'cpu', devices=1,
            max_epochs=1, limit_train_batches=args.warmup + args.steps,
            limit_val_batches=0, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False,
            callbacks=[*(callbacks or []), timer],
            precision=args.precision,
        )  # fmt: skip
        trainer.fit(task, Tiles(args, semi))
    shutil.rmtree(root, ignore_errors=True)
    return statistics.median(timer.times)


def step_arguments(description: str) -> argparse.Namespace:
    """The options shared by the step benchmarks (network, batch, device)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--model', default='deeplabv3+')
    parser.add_argument('--backbone', default='resnet50')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--classes', type=int, default=17)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--precision', default='32-true')
    parser.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'])
    args = parser.parse_args()
    quiet_known_warnings()  # timings only: no validation is run on purpose
    warnings.filterwarnings('ignore', message='.*no `val_dataloader`.*')
    if args.device == 'auto':
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    return args


def main() -> None:
    args = step_arguments(__doc__.splitlines()[0])
    common = {
        'model': args.model,
        'backbone': args.backbone,
        'num_classes': args.classes,
    }
    torch.manual_seed(0)
    plain = PlainSegmentation(**common, ignore_index=255)
    t_plain = time_steps(plain, False, args)
    torch.manual_seed(0)
    s4gan = S4GANTask(**common, max_iterations=1000)
    t_s4gan = time_steps(s4gan, True, args)
    print(
        f'device {args.device}, {args.model}/{args.backbone}, batch {args.batch},'
        f' {args.size}x{args.size}, {args.classes} classes, precision {args.precision},'
        f' median of {args.steps} steps'
    )
    print(f'plain SemanticSegmentationTask step: {t_plain * 1000:9.1f} ms')
    print(f'S4GANTask iteration (G on 2 batches + D): {t_s4gan * 1000:9.1f} ms')
    print(f'ratio S4GAN / plain: {t_s4gan / t_plain:.3f} (target <= 2.2)')


if __name__ == '__main__':
    main()
