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

import torch
from s4gan_step import PlainSegmentation, step_arguments, time_steps

from torchgeo_als4gan.trainers import SelfTrainingTask

#: Variants timed: name -> SelfTrainingTask arguments.
VARIANTS = {
    'one strong view': {},
    'one view, two passes': {'joint_batch_norm': False},
    'two strong views': {'strong_views': 2},
    'one view + entropy filter': {'entropy_filter': True},
    'one view + feature perturbation': {'lambda_fp': 0.5},
}


def main() -> None:
    args = step_arguments(__doc__.splitlines()[0])
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
