"""The arguments of the self-training and S4GAN tasks, checked before anything is built."""

from typing import Any

from .schedules import check_optimizer

__all__ = ('check_s4gan_arguments', 'check_self_training_arguments')


def check_s4gan_arguments(args: dict[str, Any]) -> None:
    """Refuse out-of-range arguments of :class:`S4GANTask`, naming them.

    Args:
        args: the task's ``__init__`` arguments by name.

    Raises:
        ValueError: If one is out of range (the message names it).
    """
    if not 0 <= args['threshold_st'] <= 1:
        msg = f'threshold_st must be in [0, 1], got {args["threshold_st"]!r}'
        raise ValueError(msg)
    if args['num_classes'] < 2:
        msg = f'num_classes must be at least 2, got {args["num_classes"]!r}'
        raise ValueError(msg)
    accuracy = args['d_max_accuracy']
    if accuracy is not None and not 0.5 < accuracy <= 1:
        msg = f'd_max_accuracy must be in (0.5, 1] or null, got {accuracy!r}'
        raise ValueError(msg)
    check_optimizer(args['optimizer'])
    for name in ('lambda_fm', 'lambda_st', 'st_warmup', 'head_lr_mult', 'weight_decay'):
        value = args[name] or 0.0
        if value < 0:
            msg = f'{name} must not be negative, got {value!r}'
            raise ValueError(msg)


def check_self_training_arguments(args: dict[str, Any]) -> None:
    """Refuse out-of-range arguments of :class:`SelfTrainingTask`, naming them.

    Args:
        args: the task's ``__init__`` arguments by name.

    Raises:
        ValueError: If one is out of range (the message names it).
    """
    check_optimizer(args['optimizer'])
    if not 0 <= args['threshold'] <= 1:
        msg = f'threshold must be in [0, 1], got {args["threshold"]!r}'
        raise ValueError(msg)
    for name in ('ema_decay', 'adaptive_momentum'):
        if not 0 <= args[name] < 1:
            msg = f'{name} must be in [0, 1), got {args[name]!r}'
            raise ValueError(msg)
    if not 0 <= args['entropy_drop'] < 1:
        msg = f'entropy_drop must be in [0, 1), got {args["entropy_drop"]!r}'
        raise ValueError(msg)
    for name in ('cutmix_p', 'blur_p', 'grayscale_p'):
        if not 0 <= args[name] <= 1:
            msg = f'{name} must be in [0, 1], got {args[name]!r}'
            raise ValueError(msg)
    low, high = args['cutmix_area']
    if not 0 < low <= high <= 1:
        msg = f'cutmix_area must be (low, high) with 0 < low <= high <= 1, got {args["cutmix_area"]!r}'
        raise ValueError(msg)
    for name in ('lambda_u', 'lambda_fp', 'unsup_warmup', 'unsup_rampup', 'gamma',
                 'weight_decay', 'head_lr_mult', 'strong_strength'):  # fmt: skip
        value = args[name]
        if value is not None and value < 0:
            msg = f'{name} must not be negative, got {value!r}'
            raise ValueError(msg)
    for name, allowed in (('pseudo_label', ('threshold', 'soft')),
                          ('eval_model', ('teacher', 'student')),
                          ('threshold_mode', ('fixed', 'adaptive')),
                          ('strong_augmentation', ('auto', 'rgb', 'bands'))):  # fmt: skip
        if args[name] not in allowed:
            msg = f'{name} must be one of {allowed}, got {args[name]!r}'
            raise ValueError(msg)
    if not isinstance(args.get('calibrate_teacher', False), bool):
        msg = f'calibrate_teacher must be true or false, got {args["calibrate_teacher"]!r}'
        raise ValueError(msg)
    if args['strong_views'] not in (1, 2):
        msg = f'strong_views must be 1 or 2, got {args["strong_views"]!r}'
        raise ValueError(msg)
    if args['num_classes'] < 2:
        msg = f'num_classes must be at least 2, got {args["num_classes"]!r}'
        raise ValueError(msg)
    if args['monitor_every'] < 1:
        msg = f'monitor_every must be at least 1, got {args["monitor_every"]!r}'
        raise ValueError(msg)
