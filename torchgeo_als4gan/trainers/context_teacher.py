"""Spatiotemporal SSL: a teacher that reads location and date, a student that does not.

After Bernhard et al. (ECAI 2024, "Context Matters"), for segmentation: two
networks of the same architecture train together on the same pseudo-labels.

* The *context network* reads the image and its context vector (``metadata``:
  latitude, longitude, day of year) through FiLM on its deepest encoder
  features; its exponential moving average labels the weak view of the
  unlabelled images (pixel pseudo-labels, threshold or soft weights, entropy
  filter: the self-training machinery).
* The *student* reads the image only.
* Both learn the labelled images and the pseudo-labels on the strong view
  (photometric changes + CutMix): ``L_T = L_sup + lambda_u L_unsup`` and
  ``L_S = L_sup + lambda_u L_unsup + lambda_distill L_distill``, summed. The
  distillation regresses (MSE) the student's deepest features, through a
  learnable 1x1 projection (standing for the paper's placeholder token), on
  the context network's conditioned ones, detached.

The student's EMA is the deployed model (``deploy: student``): validation,
test, prediction and ``predict-raster`` use it and need no metadata.
``deploy: context`` evaluates the context network's EMA fed the metadata
instead: the "metadata as direct input" baseline, a config of the same code.
"""

import copy
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.optim import SGD, AdamW
from torch.optim.lr_scheduler import LambdaLR

from ..context import batch_context
from ..models import ContextConditionedSegmenter, deepest_channels, split_forward
from .context_options import DEPLOY_CONTEXT_ONLY_WITH_METADATA, check_context_options
from .ema import evaluating, frozen_copy
from .schedules import OPTIMIZER_DEFAULTS, backbone_head_groups, lr_factor
from .self_training import SelfTrainingTask
from .teaching import weak_view_valid

__all__ = ('ContextTeacherTask',)


class ContextTeacherTask(SelfTrainingTask):
    """Self-training whose teacher reads the context and whose student does not.

    Batches must carry ``metadata`` ([B, 4] context vectors) and
    ``metadata_valid`` ([B]); a sample without a valid context is read by the
    context network as without conditioning. The student never reads them.
    Every argument of :class:`SelfTrainingTask` but ``calibrate_teacher``
    applies (``eval_model`` picks
    the student's EMA or the student itself for ``deploy: student``).

    Logged per step besides the self-training terms: ``train_loss_teacher``,
    ``train_loss_student``, ``train_loss_distill`` and, every
    ``monitor_every`` iterations, ``train_context_pseudo_label_accuracy`` (the
    context teacher's pixel accuracy on the labelled images, with their
    metadata) next to ``train_pseudo_label_accuracy`` (the student's EMA).
    """

    def __init__(
        self,
        context_encoder: Literal['mlp', 'fourier', 'spherical_harmonics'] = 'mlp',
        context_dim: int = 128,
        context_hidden: int = 384,
        lambda_distill: float = 1.0,
        deploy: Literal['student', 'context'] = 'student',
        **kwargs: Any,
    ) -> None:
        """Initialize a new ContextTeacherTask.

        Args:
            context_encoder: ``mlp`` (the paper's), ``fourier`` or
                ``spherical_harmonics``.
            context_dim: size of the context embedding.
            context_hidden: hidden size of the encoder's MLP.
            lambda_distill: weight of the feature distillation (the paper: 1.0
                on BigEarthNet, 0.01 on EuroSAT).
            deploy: ``student`` (image only, the method) or ``context`` (the
                metadata-as-input baseline: the context network is evaluated,
                and the student is not trained).
            **kwargs: arguments of :class:`SelfTrainingTask`.

        Raises:
            ValueError: If an argument is out of range (named).
        """
        check_context_options(deploy, lambda_distill, context_dim, context_hidden)
        if kwargs.get('calibrate_teacher'):
            msg = (
                'calibrate_teacher is not supported by ContextTeacherTask: the'
                ' temperature is fitted on the validated image-only network, not on'
                ' the context teacher that makes the pseudo-labels'
            )
            raise ValueError(msg)
        super().__init__(**kwargs)

    def configure_models(self) -> None:
        """The student and its EMA, then the context network (same initial weights) and its EMA."""
        super().configure_models()
        channels = self.hparams['in_channels']
        self.context_model = ContextConditionedSegmenter(
            copy.deepcopy(self.model), channels, self.hparams['context_encoder'],
            self.hparams['context_dim'], self.hparams['context_hidden'],
        )  # fmt: skip
        self.context_teacher = frozen_copy(self.context_model)
        deepest = deepest_channels(self.model, channels)
        self.distill_projection = nn.Conv2d(deepest, deepest, 1)

    @property
    def deploys_context(self) -> bool:
        """Whether the context network is the evaluated model (the baseline)."""
        return bool(self.hparams['deploy'] == 'context')

    def inference_network(self) -> nn.Module:
        """The student's EMA (or the student): image only.

        Returns:
            The network used for validation, test and prediction.

        Raises:
            ValueError: With ``deploy: context``, which needs the metadata.
        """
        if self.deploys_context:
            raise ValueError(DEPLOY_CONTEXT_ONLY_WITH_METADATA)
        return super().inference_network()

    def evaluation_logits(self, batch: dict[str, Tensor]) -> Tensor:
        """The student's logits from the image, or the baseline's with metadata.

        Args:
            batch: a val / test batch.

        Returns:
            The logits.
        """
        if not self.deploys_context:
            return super().evaluation_logits(batch)
        metadata, valid = self._metadata(batch)
        with evaluating(self.context_teacher) as network:
            logits: Tensor = network(batch['image'], metadata, valid)
        return logits

    def _metadata(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        return batch_context(batch, type(self).__name__)

    def configure_optimizers(self) -> Any:
        """One optimizer over the student, the context network and the projection.

        Returns:
            The optimizer and its per-step scheduler.
        """
        name: str = self.hparams['optimizer']
        lr: float = self.hparams['lr']
        defaults = OPTIMIZER_DEFAULTS[name]
        mult = self.hparams['head_lr_mult']
        mult = defaults['head_lr_mult'] if mult is None else mult
        decay = self.hparams['weight_decay']
        decay = defaults['weight_decay'] if decay is None else decay
        groups = backbone_head_groups(self.context_model.network, lr, mult)
        extras = [
            *self.context_model.context_encoder.parameters(),
            *self.context_model.film.parameters(),
        ]
        if not self.deploys_context:
            groups += backbone_head_groups(self.model, lr, mult)
            extras += list(self.distill_projection.parameters())
        groups.append({'params': extras, 'lr': lr * mult, 'name': 'context'})
        optimizer = (
            SGD(groups, lr=lr, momentum=self.hparams['momentum'], weight_decay=decay)
            if name == 'sgd'
            else AdamW(groups, lr=lr, weight_decay=decay)
        )
        factor = lr_factor(name, self.total_iterations, self.hparams['poly_power'])
        return {
            'optimizer': optimizer,
            'lr_scheduler': {
                'scheduler': LambdaLR(optimizer, factor),
                'interval': 'step',
            },
        }

    def compute_losses(
        self,
        labeled: dict[str, Tensor],
        unlabeled: dict[str, Tensor] | None,
        iteration: int,
    ) -> dict[str, Tensor]:
        """Every loss term and statistic of one iteration.

        The step of :class:`SelfTrainingTask` (:meth:`teach`,
        :meth:`fit_terms`), with the context teacher making the labels and
        both networks fitting them.

        Args:
            labeled: ``image``, ``mask``, ``metadata`` (, ``metadata_valid``).
            unlabeled: ``image`` (the weak view), ``metadata`` (, ``valid``, ...).
            iteration: the iteration (for the schedules).

        Returns:
            ``loss`` and detached terms: ``loss_teacher``, ``loss_student``,
            ``loss_distill``, ``loss_sup``, ``loss_unsup``, ... (the student's
            for ``deploy: student``).
        """
        assert unlabeled is not None
        x_l, y_l, x_u = labeled['image'], labeled['mask'].long(), unlabeled['image']
        valid = weak_view_valid(unlabeled)
        m_l, v_l = self._metadata(labeled)
        m_u, v_u = self._metadata(unlabeled)
        with torch.no_grad(), evaluating(self.context_teacher) as teacher:
            prob = teacher(x_u, m_u, v_u).float().softmax(dim=1)
        taught = self.teach(prob, x_u, valid, iteration)
        n_views = len(taught.views)
        images = torch.cat([x_l, *(v[0] for v in taught.views)])
        metadata = torch.cat([m_l, *([m_u] * n_views)])
        known = torch.cat([v_l, *([v_u] * n_views)])
        lambda_u = self.hparams['lambda_u'] * self.unsup_factor(iteration)
        batch = x_l.shape[0]
        logits_t, features_t = self.context_model.forward_split(images, metadata, known)
        sup_t, unsup_t = self.fit_terms(logits_t[:batch], logits_t[batch:], y_l, taught)
        loss_teacher = sup_t + lambda_u * unsup_t
        zero = torch.zeros((), device=x_l.device)
        sup, unsup, logits_l = sup_t, unsup_t, logits_t[:batch]
        loss_student = loss_distill = zero
        if not self.deploys_context:
            logits_s, features_s = split_forward(self.model, images)
            sup, unsup = self.fit_terms(logits_s[:batch], logits_s[batch:], y_l, taught)
            loss_distill = F.mse_loss(
                self.distill_projection(features_s), features_t.detach()
            )
            loss_student = (
                sup + lambda_u * unsup + self.hparams['lambda_distill'] * loss_distill
            )
            logits_l = logits_s[:batch]
        return {
            'loss': loss_teacher + loss_student,
            'loss_teacher': loss_teacher, 'loss_student': loss_student,
            'loss_distill': loss_distill, 'loss_sup': sup.detach(),
            'loss_unsup': unsup.detach(), 'loss_fp': zero,
            'logits_l': logits_l.detach(),
            **self.teaching_statistics(taught, lambda_u),
        }  # fmt: skip

    def _log_iteration(
        self, losses: dict[str, Tensor], labeled: dict[str, Tensor], iteration: int
    ) -> None:
        super()._log_iteration(losses, labeled, iteration)
        logged = {
            f'train_{k}': losses[k].detach().float()
            for k in ('loss_teacher', 'loss_student', 'loss_distill')
        }
        if iteration % self.hparams['monitor_every'] == 0:
            logged['train_context_pseudo_label_accuracy'] = self._context_accuracy(
                labeled
            )
        self.log_dict(logged, batch_size=labeled['image'].shape[0])

    @torch.no_grad()
    def _context_accuracy(self, labeled: dict[str, Tensor]) -> Tensor:
        """Pixel accuracy of the context teacher on labelled images."""
        y = labeled['mask'].long()
        known = y != self.hparams['ignore_index']
        metadata, valid = self._metadata(labeled)
        with evaluating(self.context_teacher) as teacher:
            prediction: Tensor = teacher(labeled['image'], metadata, valid).argmax(
                dim=1
            )
        accuracy: Tensor = ((prediction == y) & known).sum() / known.sum().clamp_min(1)
        return accuracy.float()

    def ema_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """The student's EMA and the context teacher follow their networks.

        Returns:
            ``(teacher, student)`` and ``(context_teacher, context_model)``.
        """
        return [*super().ema_pairs(), (self.context_teacher, self.context_model)]
