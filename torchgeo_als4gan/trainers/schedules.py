"""Optimizers of the segmenters (AdamW or SGD), parameter groups, the poly decay."""

import math
from collections.abc import Callable
from typing import Literal

from lightning.pytorch import Trainer
from torch import nn
from torch.optim import SGD, AdamW, Optimizer

__all__ = (
    'OPTIMIZER_DEFAULTS',
    'backbone_head_groups',
    'check_optimizer',
    'lr_factor',
    'network_optimizer',
    'poly_decay',
    'total_iterations',
)

#: Defaults of the two optimizers, where the task's argument is None. AdamW is
#: TorchGeo's (``SemanticSegmentationTask``: torch's AdamW defaults, one
#: learning rate), so a semi-supervised task can be compared with the supervised
#: baseline holding the optimizer fixed; SGD is the papers' (DeepLab / S4GAN:
#: momentum 0.9, weight decay 5e-4, head at 10 x the backbone's rate, poly decay).
OPTIMIZER_DEFAULTS = {
    'adamw': {'weight_decay': 1e-2, 'head_lr_mult': 1.0},
    'sgd': {'weight_decay': 5e-4, 'head_lr_mult': 10.0},
}

Optimizers = Literal['adamw', 'sgd']


def check_optimizer(name: str) -> None:
    """Refuse an unknown optimizer name.

    Args:
        name: the ``optimizer`` argument.

    Raises:
        ValueError: If it is not ``adamw`` or ``sgd``.
    """
    if name not in OPTIMIZER_DEFAULTS:
        msg = f"optimizer must be 'adamw' or 'sgd', got {name!r}"
        raise ValueError(msg)


def network_optimizer(
    model: nn.Module,
    name: str,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float | None = None,
    head_lr_mult: float | None = None,
) -> Optimizer:
    """AdamW or SGD over the backbone / head groups of a segmenter.

    Args:
        model: the segmentation network.
        name: ``adamw`` or ``sgd``.
        lr: learning rate of the backbone.
        momentum: SGD momentum.
        weight_decay: weight decay (None: the optimizer's default).
        head_lr_mult: factor of the head's learning rate (None: the default).

    Returns:
        The optimizer.
    """
    check_optimizer(name)
    defaults = OPTIMIZER_DEFAULTS[name]
    decay = defaults['weight_decay'] if weight_decay is None else weight_decay
    mult = defaults['head_lr_mult'] if head_lr_mult is None else head_lr_mult
    groups = backbone_head_groups(model, lr, mult)
    if name == 'sgd':
        return SGD(groups, lr=lr, momentum=momentum, weight_decay=decay)
    return AdamW(groups, lr=lr, weight_decay=decay)


def lr_factor(name: str, total: int, power: float = 0.9) -> Callable[[int], float]:
    """Learning-rate factor per iteration: poly decay for SGD, constant for AdamW.

    Args:
        name: ``adamw`` or ``sgd``.
        total: training iterations.
        power: exponent of the poly decay.

    Returns:
        A function of the iteration for ``LambdaLR``.
    """
    if name == 'sgd':
        return poly_decay(total, power)
    return lambda step: 1.0


def poly_decay(total: int, power: float = 0.9) -> Callable[[int], float]:
    """Factor ``(1 - i / total) ** power`` of the base learning rate at step ``i``.

    Args:
        total: steps over which the rate decays to zero.
        power: exponent (DeepLab's "poly" policy uses 0.9).

    Returns:
        A function of the step for :class:`torch.optim.lr_scheduler.LambdaLR`.

    Raises:
        ValueError: If ``total`` is not positive.
    """
    if total < 1:
        msg = f'the poly schedule needs at least 1 step, got {total}'
        raise ValueError(msg)

    def factor(step: int) -> float:
        return float(max(0.0, 1.0 - step / total) ** power)

    return factor


def backbone_head_groups(
    model: nn.Module, lr: float, head_lr_mult: float
) -> list[dict[str, object]]:
    """Two parameter groups: the ``encoder`` at ``lr``, the rest at a multiple.

    Models without an ``encoder`` (e.g. TorchGeo's FCN) are all "head". Frozen
    parameters are left out.

    Args:
        model: a segmentation model.
        lr: learning rate of the backbone.
        head_lr_mult: factor of the decoder / head learning rate.

    Returns:
        Parameter groups (empty groups omitted).
    """
    encoder = getattr(model, 'encoder', None)
    backbone_ids = (
        {id(p) for p in encoder.parameters()}
        if isinstance(encoder, nn.Module)
        else set()
    )
    trainable = [p for p in model.parameters() if p.requires_grad]
    backbone = [p for p in trainable if id(p) in backbone_ids]
    head = [p for p in trainable if id(p) not in backbone_ids]
    groups: list[dict[str, object]] = []
    if backbone:
        groups.append({'params': backbone, 'lr': lr, 'name': 'backbone'})
    if head:
        groups.append({'params': head, 'lr': lr * head_lr_mult, 'name': 'head'})
    return groups


def total_iterations(trainer: Trainer, optimizers_per_iteration: int) -> int:
    """Training iterations the trainer will run (the horizon of the poly decay).

    In manual optimization Lightning counts every ``optimizer.step()`` in
    ``global_step`` and ``max_steps``, so one iteration of a task with two
    optimizers counts as two steps.

    Args:
        trainer: the trainer (its train loader is set up if needed).
        optimizers_per_iteration: optimizer steps per training batch.

    Returns:
        The number of iterations.

    Raises:
        ValueError: If neither ``max_steps`` nor ``max_epochs`` bounds training.
    """
    limit = math.inf
    if trainer.max_steps != -1:
        limit = math.ceil(trainer.max_steps / optimizers_per_iteration)
    if trainer.max_epochs not in (None, -1):
        trainer.estimated_stepping_batches  # noqa: B018 (sets up the train loader)
        batches = trainer.num_training_batches
        if batches != math.inf:
            limit = min(limit, int(batches) * max(int(trainer.max_epochs), 1))
    if limit == math.inf:
        msg = (
            'The poly learning-rate decay needs a finite training length: set'
            ' trainer max_epochs or max_steps, or the task max_iterations'
        )
        raise ValueError(msg)
    return max(int(limit), 1)
