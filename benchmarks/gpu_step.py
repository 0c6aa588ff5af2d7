"""GPU training throughput at the seeds' settings: fp32, bf16 and compile.

For each setting (ALS4GAN: DeepLab-v2 ResNet-101, 321 x 321, batch 8; STAL:
DeepLabV3+ ResNet-50, 512 x 512, batch 8) and each task (a plain TorchGeo
``SemanticSegmentationTask`` step, an ``S4GANTask`` iteration, a
``SelfTrainingTask`` iteration with one strong view), times the training step
through ``Trainer.fit`` (as ``s4gan_step.py`` does) under fp32, ``bf16-mixed``
and ``bf16-mixed`` + ``torch.compile`` + channels-last
(:class:`~torchgeo_als4gan.trainers.speed.TrainingSpeed`), and prints per row:
labelled images per second, peak GPU memory, the step ratio to the plain step of
the same precision, and the model FLOP utilisation: the FLOPs of one step
(counted once in fp32 with ``torch.utils.flop_counter``) per measured step time,
as a fraction of the GPU's dense bf16 peak (``--peak-tflops``; known for H100,
H200, A100, L4, A10).

Without a CUDA device it prints why and exits 0, unless ``--device cpu`` asks
for a CPU run (``--setting tiny`` makes that a 30-second smoke run;
``--dry-run`` is the fp32 part of it, which the test suite runs)::

    python benchmarks/gpu_step.py [--setting als4gan stal] [--steps 10 --warmup 3]
    python benchmarks/gpu_step.py --device cpu --setting tiny --steps 2 --warmup 1
    python benchmarks/gpu_step.py --dry-run
"""

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import Any

import torch
from lightning import Callback, LightningModule, Trainer
from s4gan_step import PlainSegmentation, Tiles, time_steps
from torch.utils.flop_counter import FlopCounterMode

from torchgeo_als4gan.runtime import quiet_known_warnings, quiet_lightning
from torchgeo_als4gan.trainers import S4GANTask, SelfTrainingTask, TrainingSpeed

#: name -> (model, backbone, crop size, batch, classes)
SETTINGS = {
    'als4gan': ('deeplabv2', 'resnet101', 321, 8, 21),
    'stal': ('deeplabv3+', 'resnet50', 512, 8, 19),
    'tiny': ('unet', 'resnet18', 64, 2, 6),
}
#: GPU name fragment -> dense bf16 peak in TFLOP/s (vendor data sheets, no sparsity)
PEAK_BF16_TFLOPS = {
    'H200': 989.0,
    'H100': 989.0,
    'A100': 312.0,
    'L4': 121.0,
    'A10': 125.0,
}
#: precision rows: name -> (Lightning precision, TrainingSpeed options)
MODES: dict[str, tuple[str, dict[str, Any]]] = {
    'fp32': ('32-true', {}),
    'bf16': ('bf16-mixed', {}),
    'bf16+compile+NHWC': (
        'bf16-mixed',
        {'compile_network': True, 'channels_last': True},
    ),
}


class CountFlops(Callback):
    """The FLOPs of one training step (the first after ``skip`` steps)."""

    def __init__(self, skip: int = 1) -> None:
        self.skip, self.seen = skip, 0
        self.counter: FlopCounterMode | None = None
        self.flops = 0

    def on_train_batch_start(self, *args: Any) -> None:
        if self.seen == self.skip:
            self.counter = FlopCounterMode(display=False)
            self.counter.__enter__()

    def on_train_batch_end(self, *args: Any) -> None:
        if self.counter is not None:
            self.counter.__exit__(None, None, None)
            self.flops = self.counter.get_total_flops()
            self.counter = None
        self.seen += 1


def step_flops(
    make: Callable[[], LightningModule], semi: bool, args: Any
) -> int | None:
    """FLOPs of one fp32 training step of a fresh task (two steps are run).

    None where torch's flop counter cannot trace the step (S4GAN's
    ``autograd.grad`` of the feature-matching surrogate, on torch 2.14).
    """
    counter = CountFlops()
    try:
        with quiet_lightning():
            trainer = Trainer(
                accelerator='gpu' if args.device == 'cuda' else 'cpu', devices=1,
                max_epochs=1, limit_train_batches=2, limit_val_batches=0,
                logger=False, enable_checkpointing=False, enable_progress_bar=False,
                enable_model_summary=False, callbacks=[counter],
            )  # fmt: skip
            trainer.fit(make(), Tiles(args, semi))
    except RuntimeError as error:
        if counter.counter is not None:  # leave no dispatch mode behind
            counter.counter.__exit__(None, None, None)
        print(f'  (FLOPs not counted: {str(error).splitlines()[0][:100]})')
        return None
    return counter.flops


def setting_tasks(
    common: dict[str, Any],
) -> dict[str, tuple[Callable[[], LightningModule], bool]]:
    """Task factories of one setting, and whether each reads unlabelled batches."""
    return {
        'plain': (lambda: PlainSegmentation(**common, ignore_index=255), False),
        'S4GAN': (lambda: S4GANTask(**common, max_iterations=1000), True),
        'self-training': (
            lambda: SelfTrainingTask(**common, max_iterations=1000, threshold=0.5),
            True,
        ),
    }


def peak_tflops(args: argparse.Namespace) -> float | None:
    """The dense bf16 peak of this GPU, from ``--peak-tflops`` or its name."""
    if args.peak_tflops is not None:
        return float(args.peak_tflops)
    if args.device != 'cuda':
        return None
    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--setting', nargs='+', default=['als4gan', 'stal'],
                        choices=list(SETTINGS))  # fmt: skip
    parser.add_argument('--mode', nargs='+', default=list(MODES), choices=list(MODES))
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'])
    parser.add_argument('--peak-tflops', type=float, default=None)
    parser.add_argument('--compile-backend', default='inductor')
    parser.add_argument(
        '--dry-run', action='store_true',
        help='CPU, the tiny setting, one step of each task in fp32 (the tests run this)',
    )  # fmt: skip
    args = parser.parse_args()
    if args.dry_run:
        args.device, args.setting, args.mode = 'cpu', ['tiny'], ['fp32']
        args.steps = args.warmup = 1
    if args.steps < 1 or args.warmup < 1:
        parser.error('--steps and --warmup must be at least 1')
    quiet_known_warnings()
    warnings.filterwarnings('ignore', message='.*no `val_dataloader`.*')
    return args


def main() -> None:
    args = arguments()
    if args.device == 'auto':
        if not torch.cuda.is_available():
            print('gpu_step: no CUDA device here; nothing measured (use --device cpu'
                  ' --setting tiny for a smoke run)')  # fmt: skip
            sys.exit(0)
        args.device = 'cuda'
    if args.device == 'cuda' and not torch.cuda.is_available():
        sys.exit('gpu_step: --device cuda, but torch sees no CUDA device')
    peak = peak_tflops(args)
    where = torch.cuda.get_device_name() if args.device == 'cuda' else 'CPU'
    print(f'device: {where}; dense bf16 peak: {peak or "unknown"} TFLOP/s;'
          f' median of {args.steps} steps after {args.warmup}')  # fmt: skip
    print(
        '| setting | task | mode | images/s | step ms | peak GiB | ratio to plain | MFU |'
    )
    print('|---|---|---|---:|---:|---:|---:|---:|')
    for setting in args.setting:
        model, backbone, size, batch, classes = SETTINGS[setting]
        args.size, args.batch, args.classes = size, batch, classes
        tasks = setting_tasks(
            {'model': model, 'backbone': backbone, 'num_classes': classes}
        )
        flops = {
            name: step_flops(make, semi, args) for name, (make, semi) in tasks.items()
        }
        for mode in args.mode:
            precision, options = MODES[mode]
            args.precision = precision
            plain_time = None
            for name, (make, semi) in tasks.items():
                torch.manual_seed(0)
                if args.device == 'cuda':
                    torch.cuda.reset_peak_memory_stats()
                extra = [TrainingSpeed(**options, compile_backend=args.compile_backend)]
                seconds = time_steps(make(), semi, args, extra if options else [])
                plain_time = seconds if name == 'plain' else plain_time
                memory = (
                    f'{torch.cuda.max_memory_allocated() / 2**30:.2f}'
                    if args.device == 'cuda' else '-'
                )  # fmt: skip
                ratio = f'{seconds / plain_time:.2f}' if plain_time else '-'
                counted = flops[name]
                mfu = '-' if not peak or counted is None else (
                    f'{counted / seconds / (peak * 1e12):.1%}'
                )  # fmt: skip
                print(f'| {setting} {model}/{backbone} {size}px b{batch} | {name} | {mode}'
                      f' | {batch / seconds:.1f} | {seconds * 1000:.1f} | {memory}'
                      f' | {ratio} | {mfu} |', flush=True)  # fmt: skip


if __name__ == '__main__':
    main()
