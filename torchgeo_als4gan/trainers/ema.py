"""Exponential moving averages of networks (the teachers of self-training)."""

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

__all__ = ('EMATeacherHook', 'ema_momentum', 'ema_update', 'evaluating', 'frozen_copy')


@contextlib.contextmanager
def evaluating(network: nn.Module) -> Iterator[nn.Module]:
    """Run a network in eval mode (BatchNorm statistics, no dropout), then restore.

    Args:
        network: the network (e.g. a teacher).

    Yields:
        The network, in eval mode.
    """
    modes = [m.training for m in network.modules()]
    network.eval()
    try:
        yield network
    finally:
        for module, mode in zip(network.modules(), modes, strict=True):
            module.training = mode


def ema_momentum(iteration: int, decay: float) -> float:
    """Momentum of the EMA after ``iteration`` updates: ``min(1 - 1/(t+1), decay)``.

    Early on the average follows the student closely (0 at the first update:
    the teacher becomes a copy), then the momentum reaches ``decay``.

    Args:
        iteration: updates done before this one (t, from 0).
        decay: the largest momentum, in [0, 1).

    Returns:
        The momentum.
    """
    return min(1.0 - 1.0 / (iteration + 1), decay)


def frozen_copy(network: nn.Module) -> nn.Module:
    """A copy of a network that never receives gradients.

    Run it inside :func:`evaluating` so that it predicts in eval mode whatever
    mode the trainer sets.

    Args:
        network: the student.

    Returns:
        The copy.
    """
    teacher = copy.deepcopy(network)
    return teacher.requires_grad_(False)


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """``teacher = momentum * teacher + (1 - momentum) * student``, buffers included.

    Floating-point parameters and buffers (BatchNorm running statistics) are
    averaged; integer buffers (``num_batches_tracked``) are copied.

    Args:
        teacher: the average (updated in place).
        student: the network being trained.
        momentum: weight of the old average.
    """
    averages, currents = [], []
    pairs = [
        *zip(teacher.parameters(), student.parameters(), strict=True),
        *zip(teacher.buffers(), student.buffers(), strict=True),
    ]
    for average, current in pairs:
        if average.dtype.is_floating_point:
            averages.append(average.data)
            currents.append(current.detach())
        else:
            average.copy_(current)
    if averages:  # the same arithmetic as mul_ then add_, one kernel per group
        torch._foreach_mul_(averages, momentum)
        torch._foreach_add_(averages, currents, alpha=1.0 - momentum)


class EMATeacherHook:
    """One EMA hook and one counter for every task with a teacher (a mixin).

    After each optimizer step, every ``(average, network)`` pair of
    :meth:`ema_pairs` moves towards its network with momentum
    ``ema_momentum(updates before this one, ema_decay)``. The update runs in
    ``optimizer_step``, so callbacks (checkpoints) that see the batch end find
    the averages already updated; the counter is Lightning's ``global_step``,
    which a resumed run restores with the checkpoint. Put it before the
    LightningModule in the bases.
    """

    hparams: Any

    def ema_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """The averages and the networks they follow.

        Returns:
            ``(average, network)`` pairs.
        """
        raise NotImplementedError

    @property
    def ema_updates(self) -> int:
        """Updates of the averages before the next one (0 outside a trainer)."""
        trainer = getattr(self, '_trainer', None)
        return 0 if trainer is None else int(trainer.global_step)

    def update_teachers(self) -> None:
        """Move every average of :meth:`ema_pairs` one step towards its network."""
        momentum = ema_momentum(self.ema_updates, self.hparams['ema_decay'])
        for average, network in self.ema_pairs():
            ema_update(average, network, momentum)

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        """Step the optimizer, then update the averages.

        Inside this hook Lightning's ``global_step`` still counts the steps
        before this one.

        Args:
            *args: Lightning's ``optimizer_step`` arguments.
            **kwargs: Lightning's ``optimizer_step`` arguments.
        """
        super().optimizer_step(*args, **kwargs)  # type: ignore[misc]
        self.update_teachers()
