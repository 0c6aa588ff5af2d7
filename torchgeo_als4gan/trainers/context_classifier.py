"""Spatiotemporal SSL for image classification: the paper's own setting.

Bernhard et al. (ECAI 2024, "Context Matters"): a teacher that reads the
image *and* where and when it was taken, and an image-only student, trained
together with FixMatch on the same pseudo-labels:

* the teacher's prediction on the weak view of an unlabelled image (with its
  metadata, no gradient) gives the pseudo-label: the most likely class when
  its probability reaches ``threshold`` (multi-class), or per label positive
  at ``>= positive_threshold`` and negative at ``<= negative_threshold``
  (multi-label; the paper's 0.7 / 0.05);
* both networks fit the labelled images and the pseudo-labels on the strong
  view: ``L_T = L_sup + lambda_u L_unsup`` and
  ``L_S = L_sup + lambda_u L_unsup + lambda_distill L_distill``, summed;
* ``L_distill``: MSE of the student's placeholder output (ViT: the
  placeholder token; CNN: a 1x1 projection of its deepest features) on the
  teacher's detached metadata-conditioned one (ViT: the metadata token; CNN:
  the FiLM-conditioned features);
* EMAs of both networks (``ema_decay``) are what is evaluated.

The deployed model is the student's EMA: validation, test, prediction and the
active learner's pool scores read images only (the task is an
:class:`ActiveLearnerTask`, so ``als4gan query`` can use it as its
classifier; it then also learns from the unselected pool items).
``deploy: context`` evaluates the teacher's EMA with the metadata instead,
the "metadata as direct input" baseline.
"""

import copy
from typing import Any, Literal

import torch
from torch import Tensor
from torch.nn import functional as F

from ..context import batch_context
from ..losses import image_pseudo_label_loss, image_pseudo_labels
from ..models import ContextReadingClassifier, PlaceholderClassifier
from ..transforms import StrongAugmentation
from .active_learner import ActiveLearnerTask
from .context_options import DEPLOY_CONTEXT_ONLY_WITH_METADATA, check_context_options
from .ema import EMATeacherHook, evaluating, frozen_copy

__all__ = ('ContextClassifierTask',)


class ContextClassifierTask(EMATeacherHook, ActiveLearnerTask):
    """Image classifier whose teacher reads the context and whose student does not.

    Training batches are either labelled batches (``image``, ``label``,
    ``metadata``, ``metadata_valid``) or ``{'labeled': ..., 'unlabeled': ...}``
    (the unlabelled sub-batch needs no ``label``; when one is there, e.g. in
    a simulated pool, it is only used to log the pseudo-labels' accuracy).
    Every argument of :class:`ActiveLearnerTask` applies.

    Logged: ``train_loss`` (sum), ``train_loss_teacher``,
    ``train_loss_student``, ``train_loss_distill``, ``train_kept_fraction``
    (share of pseudo-labels kept) and, when the unlabelled items carry labels,
    ``train_pseudo_label_accuracy`` (of the kept pseudo-labels).
    """

    semi_supervised = True
    needs_metadata = True

    def __init__(
        self,
        context_encoder: Literal['mlp', 'fourier', 'spherical_harmonics'] = 'mlp',
        context_dim: int = 384,
        context_hidden: int = 384,
        lambda_u: float = 1.0,
        lambda_distill: float = 1.0,
        threshold: float = 0.95,
        negative_threshold: float = 0.05,
        positive_threshold: float = 0.7,
        ema_decay: float = 0.999,
        eval_model: Literal['ema', 'online'] = 'ema',
        strong_augmentation: Literal['auto', 'rgb', 'bands'] = 'auto',
        deploy: Literal['student', 'context'] = 'student',
        **kwargs: Any,
    ) -> None:
        """Initialize a new ContextClassifierTask.

        Args:
            context_encoder: ``mlp`` (the paper's), ``fourier`` or
                ``spherical_harmonics``.
            context_dim: size of the context embedding (the paper: 384, the
                ViT-S width; projected to the ViT's width when it differs).
            context_hidden: hidden size of the encoder's MLP.
            lambda_u: weight of the pseudo-label terms.
            lambda_distill: weight of the distillation (the paper: 1.0 on
                BigEarthNet, 0.01 on EuroSAT).
            threshold: confidence of a multi-class pseudo-label.
            negative_threshold: multi-label pseudo-negative cut-off.
            positive_threshold: multi-label pseudo-positive cut-off.
            ema_decay: largest momentum of the EMAs, in [0, 1).
            eval_model: evaluate the EMAs (``ema``) or the networks themselves.
            strong_augmentation: strong photometric view (see
                :class:`~torchgeo_als4gan.transforms.StrongAugmentation`).
            deploy: ``student`` (image only, the method) or ``context`` (the
                metadata-as-input baseline: the teacher is evaluated with the
                metadata and the student is not trained).
            **kwargs: arguments of :class:`ActiveLearnerTask`.

        Raises:
            ValueError: If an argument is out of range (named).
        """
        check_context_options(deploy, lambda_distill, context_dim, context_hidden)
        if eval_model not in ('ema', 'online'):
            msg = f"eval_model must be 'ema' or 'online', got {eval_model!r}"
            raise ValueError(msg)
        if lambda_u < 0:
            msg = f'lambda_u must not be negative, got {lambda_u!r}'
            raise ValueError(msg)
        if not 0 <= threshold <= 1:
            msg = f'threshold must be in [0, 1], got {threshold!r}'
            raise ValueError(msg)
        if not 0 <= negative_threshold < positive_threshold <= 1:
            msg = (
                'need 0 <= negative_threshold < positive_threshold <= 1, got'
                f' {negative_threshold!r} and {positive_threshold!r}'
            )
            raise ValueError(msg)
        if not 0 <= ema_decay < 1:
            msg = f'ema_decay must be in [0, 1), got {ema_decay!r}'
            raise ValueError(msg)
        super().__init__(**kwargs)
        self.strong = StrongAugmentation(
            self.hparams['in_channels'], strong_augmentation
        )

    def configure_models(self) -> None:
        """The timm classifier (weights loaded), then the teacher, the student, their EMAs."""
        super().configure_models()
        network = self.model
        self.context_model = ContextReadingClassifier(
            copy.deepcopy(network), self.hparams['context_encoder'],
            self.hparams['context_dim'], self.hparams['context_hidden'],
        )  # fmt: skip
        self.model = PlaceholderClassifier(network)
        self.student_ema = frozen_copy(self.model)
        self.context_ema = frozen_copy(self.context_model)

    @property
    def deploys_context(self) -> bool:
        """Whether the teacher (with metadata) is the evaluated model: the baseline."""
        return bool(self.hparams['deploy'] == 'context')

    @property
    def _use_ema(self) -> bool:
        return not self.training and self.hparams['eval_model'] == 'ema'

    def network(self) -> torch.nn.Module:
        """The student, or its EMA outside training: the image-only model.

        Returns:
            The network that embeds, classifies and scores pool items.

        Raises:
            ValueError: With ``deploy: context`` outside training (that model
                needs the metadata; see :meth:`evaluation_logits`).
        """
        network: torch.nn.Module = self.model
        if self.training:
            return network
        if self.deploys_context:
            raise ValueError(DEPLOY_CONTEXT_ONLY_WITH_METADATA)
        return self.student_ema if self._use_ema else network

    def evaluation_logits(self, batch: dict[str, Tensor]) -> Tensor:
        """Logits of a val / test batch: the student's, or the baseline's with metadata.

        Args:
            batch: the batch.

        Returns:
            ``[B, K]`` logits.
        """
        if not self.deploys_context:
            student: Tensor = self(batch['image'])
            return student
        metadata, valid = batch_context(batch, type(self).__name__)
        teacher = self.context_ema if self._use_ema else self.context_model
        with evaluating(teacher) as network:
            logits: Tensor = network(batch['image'], metadata, valid)
        return logits

    def _teacher_logits(self, embedding: Tensor) -> Tensor:
        p = float(self.hparams['dropout'])
        dropped = F.dropout(embedding, p, training=self.training)
        logits: Tensor = self.context_model.get_classifier()(dropped)
        return logits

    def _targets(self, labels: Tensor) -> Tensor:
        return labels.float() if self.multilabel else labels.long()

    def compute_losses(
        self,
        labeled: dict[str, Tensor],
        unlabeled: dict[str, Tensor] | None,
        iteration: int = 0,
    ) -> dict[str, Tensor]:
        """Every loss term of one iteration.

        Args:
            labeled: ``image``, ``label``, ``metadata`` (, ``metadata_valid``).
            unlabeled: ``image`` (the weak view) and ``metadata``, or None.
            iteration: the iteration (the signature every semi-supervised task
                shares; this task has no schedule that reads it).

        Returns:
            ``loss`` and the detached terms ``loss_teacher``, ``loss_student``,
            ``loss_distill``, ``kept_fraction`` (and ``pseudo_label_accuracy``
            when the unlabelled items carry labels), plus ``logits_l``.
        """
        name = type(self).__name__
        x_l, y_l = labeled['image'], self._targets(labeled['label'])
        m_l, v_l = batch_context(labeled, name)
        images, metadata, known = x_l, m_l, v_l
        stats: dict[str, Tensor] = {}
        pseudo: tuple[Tensor, Tensor] | None = None
        if unlabeled is not None:
            x_u = unlabeled['image']
            m_u, v_u = batch_context(unlabeled, name)
            with torch.no_grad():
                embedding = self.context_model.forward_split(x_u, m_u, v_u)[0]
                logits = self.context_model.get_classifier()(embedding).float()
                prob = self.probabilities(logits)
            targets, weights = image_pseudo_labels(
                prob, self.multilabel, self.hparams['threshold'],
                self.hparams['negative_threshold'], self.hparams['positive_threshold'],
            )  # fmt: skip
            pseudo = targets, weights
            stats['kept_fraction'] = weights.mean()
            if 'label' in unlabeled:
                truth = self._targets(unlabeled['label'])
                hits = (targets == truth).to(weights.dtype) * weights
                stats['pseudo_label_accuracy'] = hits.sum() / weights.sum().clamp_min(1)
            images = torch.cat([x_l, self.strong(x_u)])
            metadata, known = torch.cat([m_l, m_u]), torch.cat([v_l, v_u])
        batch = x_l.shape[0]

        def fit_terms(logits: Tensor) -> Tensor:
            loss: Tensor = self.criterion(logits[:batch].squeeze(1), y_l)
            if pseudo is not None:
                loss = loss + self.hparams['lambda_u'] * image_pseudo_label_loss(
                    logits[batch:], *pseudo, self.multilabel
                )
            return loss

        embedding_t, features_t = self.context_model.forward_split(
            images, metadata, known
        )
        logits_t = self._teacher_logits(embedding_t)
        loss_teacher = fit_terms(logits_t)
        zero = torch.zeros((), device=x_l.device)
        loss_student, loss_distill, logits_l = zero, zero, logits_t[:batch]
        if not self.deploys_context:
            embedding_s, features_s = self.model.forward_split(images)
            logits_s = self.head(embedding_s)
            loss_distill = F.mse_loss(features_s, features_t.detach())
            loss_student = (
                fit_terms(logits_s) + self.hparams['lambda_distill'] * loss_distill
            )
            logits_l = logits_s[:batch]
        return {
            'loss': loss_teacher + loss_student,
            'loss_teacher': loss_teacher,
            'loss_student': loss_student,
            'loss_distill': loss_distill,
            'logits_l': logits_l.detach(),
            **stats,
        }

    def training_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """One FixMatch iteration of both networks.

        Args:
            batch: a labelled batch or ``{'labeled', 'unlabeled'}``.
            batch_idx: batch index.
            dataloader_idx: loader index.

        Returns:
            The summed loss.
        """
        if 'labeled' in batch:
            labeled, unlabeled = batch['labeled'], batch.get('unlabeled')
        else:
            labeled, unlabeled = batch, None
        losses = self.compute_losses(labeled, unlabeled, self.global_step)
        size = labeled['image'].shape[0]
        self.train_metrics(losses['logits_l'].squeeze(1), labeled['label'])
        self.log_dict(self.train_metrics, batch_size=size)
        logged = {
            f'train_{k}': v.detach().float()
            for k, v in losses.items()
            if k != 'logits_l'
        }
        self.log_dict(logged, batch_size=size)
        return losses['loss']

    def _evaluate(self, batch: Any, split: str) -> None:
        metrics = self.val_metrics if split == 'val' else self.test_metrics
        logits = self.evaluation_logits(batch).squeeze(1)
        metrics(logits, batch['label'])
        size = batch['image'].shape[0]
        self.log_dict(metrics, batch_size=size)
        loss = self.criterion(logits, self._targets(batch['label']))
        self.log(f'{split}_loss', loss, batch_size=size)

    def validation_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Metrics of the deployed model on a validation batch.

        Args:
            batch: the batch.
            batch_idx: batch index.
            dataloader_idx: loader index.
        """
        self._evaluate(batch, 'val')

    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Metrics of the deployed model on a test batch.

        Args:
            batch: the batch.
            batch_idx: batch index.
            dataloader_idx: loader index.
        """
        self._evaluate(batch, 'test')

    def ema_pairs(self) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
        """Both EMAs follow their networks (the student's only when deployed).

        Returns:
            ``(context_ema, context_model)`` and ``(student_ema, model)``.
        """
        pairs: list[tuple[torch.nn.Module, torch.nn.Module]] = [
            (self.context_ema, self.context_model)
        ]
        if not self.deploys_context:
            pairs.append((self.student_ema, self.model))
        return pairs
