"""Cost of one self-training iteration relative to one plain supervised step.

Both run in this process through ``Trainer.fit`` on the same synthetic batches
(see ``s4gan_step.py``, whose helpers this reuses): a TorchGeo
``SemanticSegmentationTask`` step (labelled batch) and a ``SelfTrainingTask``
iteration (labelled + unlabelled batch of the same size, same network, same input
size), in several variants. Only the training step is timed, after warm-up
steps; the median is used.

One iteration runs the teacher forward (no gradient) on the unlabelled batch and
the student forward and backward on the labelled batch plus one strong view:
target ratio <= 2.5 with one strong view.

    python benchmarks/self_training_step.py [--model deeplabv3+ --backbone resnet50
        --batch 4 --size 256 --classes 17 --steps 5 --warmup 2 --device auto]
"""

import argparse

import torch
from s4gan_step import PlainSegmentation, time_steps

from torchgeo_als4gan.trainers import SelfTrainingTask

#: Variants timed: name -> SelfTrainingTask arguments.
VARIANTS = {
    'one strong view': {},
    'two strong views': {'strong_views': 2},
    'one view + entropy filter': {'entropy_filter': True},
    'one view + feature perturbation': {'lambda_fp': 0.5},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    if args.device == 'auto':
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    common = {
        'model': args.model,
        'backbone': args.backbone,
        'num_classes': args.classes,
    }
    torch.manual_seed(0)
    t_plain = time_steps(PlainSegmentation(**common, ignore_index=255), False, args)
    print(
        f'device {args.device}, {args.model}/{args.backbone}, batch {args.batch},'
        f' {args.size}x{args.size}, {args.classes} classes, precision {args.precision},'
        f' median of {args.steps} steps'
    )
    print(f'plain SemanticSegmentationTask step: {t_plain * 1000:9.1f} ms')
    for name, extra in VARIANTS.items():
        torch.manual_seed(0)
        task = SelfTrainingTask(**common, max_iterations=1000, threshold=0.5, **extra)
        t = time_steps(task, True, args)
        target = ' (target <= 2.5)' if name == 'one strong view' else ''
        print(
            f'SelfTrainingTask, {name:<32} {t * 1000:9.1f} ms  ratio {t / t_plain:.3f}{target}'
        )


if __name__ == '__main__':
    main()
