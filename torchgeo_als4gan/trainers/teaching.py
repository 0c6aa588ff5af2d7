"""The teacher's part of a self-training step: weak view -> pseudo-labels -> strong views.

One step for every task whose teacher labels pixels (self-training, the
context teacher): the teacher's probabilities on the weak view become
pseudo-labels (fixed or FreeMatch's class-adaptive threshold, or soft
weights; the entropy filter), a strong view of each unlabelled image (the
photometric :class:`StrongAugmentation`, then CutMix of image, labels, weights
and valid pixels with the same boxes) is made, and the student's logits are
scored against them (:meth:`WeakToStrongTeaching.fit_terms`).
"""

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..losses import (
    adaptive_thresholds,
    confidence_statistics,
    entropy_drop_share,
    entropy_filter,
    pseudo_labels,
    ramp,
    weighted_cross_entropy,
)
from ..transforms import apply_cutmix, cutmix_boxes

__all__ = ('Teaching', 'WeakToStrongTeaching', 'weak_view_valid')


@dataclass
class Teaching:
    """The teacher's part of one iteration (:meth:`SelfTrainingTask.teach`)."""

    #: The teacher's probabilities on the weak view [B', K, H, W].
    prob: Tensor
    #: Pixels of the weak view inside the image [B', H, W].
    valid: Tensor
    #: Pseudo-labels [B', H, W].
    labels: Tensor
    #: Their weights [B', H, W] (0 outside ``valid``).
    weights: Tensor
    #: Share dropped by the entropy filter.
    drop: float
    #: Strong views: (image, labels, weights, valid), CutMix applied to all four.
    views: list[tuple[Tensor, Tensor, Tensor, Tensor]]


def weak_view_valid(unlabeled: dict[str, Tensor]) -> Tensor:
    """Pixels of the weak view inside the image (all, when the batch says nothing).

    Args:
        unlabeled: the unlabelled batch.

    Returns:
        [B', H, W] booleans.
    """
    valid = unlabeled.get('valid')
    if valid is None:
        valid = torch.ones_like(unlabeled['image'][:, 0], dtype=torch.bool)
    return valid


class WeakToStrongTeaching(nn.Module):
    """The teaching step of a task (a mixin before the LightningModule).

    The task provides ``hparams`` (``threshold``, ``threshold_mode``,
    ``adaptive_momentum``, ``pseudo_label``, ``gamma``, ``entropy_filter``,
    ``entropy_drop``, ``strong_views``, ``cutmix_p``, ``cutmix_area``,
    ``unsup_warmup``, ``unsup_rampup``), ``strong`` (the photometric strong
    augmentation), ``criterion`` (the supervised loss), ``total_iterations``
    and, with adaptive thresholds, the buffers ``confidence_mean`` and
    ``confidence_class``.
    """

    hparams: Any
    strong: nn.Module
    criterion: nn.Module

    @property
    def total_iterations(self) -> int:
        """Iterations of training (the entropy filter's schedule)."""
        raise NotImplementedError

    def _strong_view(
        self, x: Tensor, labels: Tensor, weights: Tensor, valid: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Photometric strong view, then CutMix of all four with the same boxes."""
        strong = self.strong(x)
        boxes = cutmix_boxes(
            x.shape[0], x.shape[2], x.shape[3], self.hparams['cutmix_p'],
            tuple(self.hparams['cutmix_area']),
        )  # fmt: skip
        partner = torch.randperm(x.shape[0], device=x.device)
        mixed = apply_cutmix(
            [strong, labels, weights, valid.to(weights.dtype)], boxes, partner
        )
        return mixed[0], mixed[1], mixed[2], mixed[3] > 0.5

    def pseudo_targets(
        self, prob: Tensor, valid: Tensor, iteration: int
    ) -> tuple[Tensor, Tensor, float]:
        """Pseudo-labels and their weights from the teacher's probabilities.

        Args:
            prob: teacher probabilities on the weak view [B, K, H, W].
            valid: [B, H, W] pixels inside the image.
            iteration: the iteration (for the entropy filter's schedule).

        Returns:
            Labels [B, H, W], weights [B, H, W] (0 outside ``valid``) and the
            share dropped by the entropy filter.
        """
        threshold: float | Tensor = self.hparams['threshold']
        if self.hparams['threshold_mode'] == 'adaptive':
            mean: Tensor = self.get_buffer('confidence_mean')
            per_class: Tensor = self.get_buffer('confidence_class')
            if self.training:
                mean, per_class = confidence_statistics(
                    prob, valid, mean, per_class, self.hparams['adaptive_momentum']
                )
                self.register_buffer('confidence_mean', mean)
                self.register_buffer('confidence_class', per_class)
            threshold = adaptive_thresholds(mean, per_class, self.hparams['threshold'])
        labels, weights = pseudo_labels(
            prob, self.hparams['pseudo_label'], threshold, self.hparams['gamma']
        )
        drop = 0.0
        if self.hparams['entropy_filter']:
            drop = entropy_drop_share(
                iteration, self.total_iterations, self.hparams['entropy_drop']
            )
            weights = weights * entropy_filter(prob, valid, drop)
        return labels, weights * valid, drop

    def teach(
        self, prob: Tensor, x_u: Tensor, valid: Tensor, iteration: int
    ) -> Teaching:
        """Weak view -> pseudo-labels -> strong views: the teacher's part of a step.

        Args:
            prob: the teacher's probabilities on the weak view [B', K, H, W].
            x_u: the weak view [B', C, H, W].
            valid: [B', H, W] pixels of the weak view inside the image.
            iteration: the iteration (for the schedules).

        Returns:
            The pseudo-labels, their weights and the strong views.
        """
        labels, weights, drop = self.pseudo_targets(prob, valid, iteration)
        views = [
            self._strong_view(x_u, labels, weights, valid)
            for _ in range(self.hparams['strong_views'])
        ]
        return Teaching(prob, valid, labels, weights, drop, views)

    def fit_terms(
        self, logits_l: Tensor, logits_strong: Tensor, y_l: Tensor, taught: Teaching
    ) -> tuple[Tensor, Tensor]:
        """The supervised loss and the weighted loss on the strong views.

        Args:
            logits_l: logits of the labelled images.
            logits_strong: logits of the strong views, one after the other.
            y_l: the labelled masks.
            taught: what :meth:`teach` returned.

        Returns:
            ``L_sup`` and ``L_unsup`` (the mean over the strong views).
        """
        sup: Tensor = self.criterion(logits_l, y_l)
        chunks = logits_strong.chunk(len(taught.views))
        unsup = torch.stack([
            weighted_cross_entropy(chunk, v[1], v[2], v[3])
            for chunk, v in zip(chunks, taught.views, strict=True)
        ]).mean()  # fmt: skip
        return sup, unsup

    def unsup_factor(self, iteration: int) -> float:
        """The warm-up and ramp of the unlabelled terms, in [0, 1].

        Args:
            iteration: the iteration.

        Returns:
            0 during ``unsup_warmup``, then rising linearly over ``unsup_rampup``.
        """
        return ramp(
            iteration, self.hparams['unsup_warmup'], self.hparams['unsup_rampup']
        )

    @staticmethod
    def teaching_statistics(taught: Teaching, lambda_u: float) -> dict[str, Tensor]:
        """What the logs show of the teacher's part of a step.

        Args:
            taught: what :meth:`teach` returned.
            lambda_u: the weight of the unlabelled loss this iteration.

        Returns:
            ``lambda_u``, ``kept_fraction``, ``confidence``, ``entropy_drop``.
        """
        valid_count = taught.valid.sum().clamp_min(1)
        confidence = taught.prob.max(dim=1).values * taught.valid
        return {
            'lambda_u': torch.tensor(lambda_u),
            'kept_fraction': (taught.weights.sum() / valid_count).detach(),
            'confidence': confidence.sum() / valid_count,
            'entropy_drop': torch.tensor(taught.drop),
        }
