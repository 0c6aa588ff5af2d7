"""Self-training with an EMA teacher and weak-to-strong consistency (FixMatch family)."""

import os
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR

from ..losses import weighted_cross_entropy
from ..models import perturbed_forward, supports_feature_perturbation
from ..transforms import StrongAugmentation
from .calibrated_teacher import CalibratedTeacher
from .ema import EMATeacherHook, evaluating, frozen_copy
from .network import NetworkName
from .options import check_self_training_arguments
from .schedules import lr_factor, network_optimizer, total_iterations
from .semi import SemiSupervisedSegmentationTask
from .teaching import WeakToStrongTeaching, weak_view_valid

__all__ = ('SelfTrainingTask',)


class SelfTrainingTask(
    EMATeacherHook, CalibratedTeacher, WeakToStrongTeaching,
    SemiSupervisedSegmentationTask,
):  # fmt: skip
    """Semi-supervised segmentation by a student and its EMA teacher.

    The recipe of FixMatch / UniMatch with STAL's teacher (one network trained,
    its exponential moving average labels the unlabelled images):

    1. the teacher, ``m = min(1 - 1/(t+1), ema_decay)`` times itself plus the
       rest of the student after every update (buffers included), predicts
       ``p`` on the *weak* view of each unlabelled image (the datamodule's
       geometric augmentation): pseudo-labels ``argmax p`` with weight 1 where
       ``max p >= threshold`` (``pseudo_label: threshold``) or ``(max p) **
       gamma`` (``soft``, STAL). With ``threshold_mode: adaptive`` the
       threshold is FreeMatch's self-adaptive one, per class: the teacher's
       running mean confidence, scaled down for the classes it predicts less
       often (:func:`adaptive_thresholds`), capped at ``threshold``. With ``entropy_filter`` the highest-entropy
       share of the unlabelled pixels is dropped as well, 20 % at first and
       none at the end (U2PL; STAL's released code masks the *lowest*-entropy
       pixels instead, which we do not follow).
    2. the student learns those pseudo-labels on a *strong* view: photometric
       changes (:class:`StrongAugmentation`: colour jitter for RGB, per-band
       brightness / contrast / noise for other band counts) and CutMix between
       unlabelled images (box 2-40 % of the area, p = 0.5), the pseudo-labels
       and weights mixed with the same boxes. Optionally a second strong view
       (``strong_views: 2``) and UniMatch's feature perturbation
       (``lambda_fp``: dropout on the encoder features of the weak view).
    3. ``L = L_sup + lambda_u(t) L_unsup (+ lambda_fp(t) L_fp)``, with
       ``lambda_u(t)`` 0 during ``unsup_warmup`` supervised-only iterations (a
       teacher trained from scratch is confident about nothing at first), then
       rising linearly over ``unsup_rampup`` iterations.

    Validation, test and prediction use the teacher (``eval_model``), through
    the shared evaluation of :class:`SemiSupervisedSegmentationTask`. The
    optimizer is TorchGeo's AdamW by default (the supervised baseline's, so a
    comparison holds it fixed) or SGD with poly decay as in the papers. Every
    random draw of an iteration is seeded from ``seed``, the iteration and the
    rank, and the teacher is part of the checkpoint, so a resumed run
    continues exactly like an uninterrupted one.

    Logged per step: ``train_loss``, ``train_loss_sup``, ``train_loss_unsup``
    (and ``train_loss_fp``), ``train_lambda_u``, ``train_kept_fraction`` (of the
    valid unlabelled pixels, weighted), ``train_confidence``,
    ``train_entropy_drop`` and, every ``monitor_every`` iterations,
    ``train_pseudo_label_accuracy``: the teacher's pixel accuracy on the
    labelled images, where the truth is known.
    """

    requires_unlabeled = True

    def __init__(
        self,
        model: NetworkName = 'deeplabv3+',
        backbone: str = 'resnet50',
        weights: str | os.PathLike[str] | bool | None = None,
        in_channels: int = 3,
        num_classes: int = 2,
        ignore_index: int | None = 255,
        class_weights: Tensor | Sequence[float] | None = None,
        lr: float = 1e-3,
        optimizer: Literal['adamw', 'sgd'] = 'adamw',
        momentum: float = 0.9,
        weight_decay: float | None = None,
        head_lr_mult: float | None = None,
        poly_power: float = 0.9,
        max_iterations: int | None = None,
        ema_decay: float = 0.99,
        pseudo_label: Literal['threshold', 'soft'] = 'threshold',
        threshold: float = 0.95,
        threshold_mode: Literal['fixed', 'adaptive'] = 'fixed',
        adaptive_momentum: float = 0.99,
        gamma: float = 2.0,
        entropy_filter: bool = False,
        entropy_drop: float = 0.2,
        lambda_u: float = 1.0,
        unsup_warmup: int = 0,
        unsup_rampup: int = 0,
        strong_augmentation: Literal['auto', 'rgb', 'bands'] = 'auto',
        strong_strength: float = 1.0,
        blur_p: float = 0.5,
        grayscale_p: float = 0.2,
        strong_views: int = 1,
        cutmix_p: float = 0.5,
        cutmix_area: tuple[float, float] = (0.02, 0.4),
        lambda_fp: float = 0.0,
        joint_batch_norm: bool = True,
        eval_model: Literal['teacher', 'student'] = 'teacher',
        calibrate_teacher: bool = False,
        monitor_every: int = 10,
        freeze_backbone: bool = False,
        plot_batches: int = 2,
        seed: int = 0,
    ) -> None:
        """Initialize a new SelfTrainingTask.

        Args:
            model: the network: a TorchGeo segmentation model name, ``deeplabv2``
                or ``hypercolumn`` (:class:`HypercolumnSegmenter` on the timm
                ``backbone``: every convolution tapped, MLP 1024-1024).
            backbone: encoder name (timm / smp; a timm ResNet for ``deeplabv2``).
            weights: a local ``.pt``/``.pth``/``.ckpt`` file, True for ImageNet
                weights (download), a TorchGeo weight enum or its name, ``timm:<name>`` (from the local caches: ``resolve_weights``), or None.
            in_channels: input bands.
            num_classes: segmentation classes (without the ignore index).
            ignore_index: mask value of unlabelled pixels.
            class_weights: per-class weights of the supervised cross-entropy.
            lr: learning rate (of the backbone with SGD).
            optimizer: ``adamw`` (TorchGeo's baseline, constant rate) or ``sgd``
                (momentum, poly decay).
            momentum: SGD momentum.
            weight_decay: weight decay (None: 1e-2 for AdamW, 5e-4 for SGD).
            head_lr_mult: factor of the head's rate (None: 1 for AdamW, 10 for
                SGD).
            poly_power: exponent of SGD's poly decay.
            max_iterations: iterations of the decay and the entropy filter's
                schedule (default: the trainer's training length).
            ema_decay: largest EMA momentum of the teacher, in [0, 1).
            pseudo_label: ``threshold`` (hard confidence threshold) or ``soft``
                (weight ``confidence ** gamma``).
            threshold: confidence needed in ``threshold`` mode, in [0, 1]; with
                ``threshold_mode: adaptive`` the ceiling of the class thresholds.
            threshold_mode: ``fixed`` (one ``threshold``) or ``adaptive``
                (FreeMatch's self-adaptive thresholds, one per class, from the
                teacher's running confidence; kept in the checkpoint).
            adaptive_momentum: EMA momentum of those running confidences, in
                [0, 1).
            gamma: exponent of ``soft`` weights, not negative.
            entropy_filter: drop the highest-entropy unlabelled pixels (U2PL).
            entropy_drop: share dropped at the start, decaying linearly to 0,
                in [0, 1).
            lambda_u: weight of the unsupervised loss.
            unsup_warmup: supervised-only iterations first.
            unsup_rampup: iterations of the linear rise of ``lambda_u`` after the
                warm-up.
            strong_augmentation: ``rgb`` (colour jitter), ``bands`` (per-band
                brightness, contrast, noise) or ``auto`` (``rgb`` for 3 bands).
            strong_strength: factor of every photometric change of the strong
                view (1: FixMatch's colour jitter 0.5 / hue 0.25, or per-band
                brightness 0.5, contrast 0.5, noise 0.1 std).
            blur_p: probability of a Gaussian blur (sigma 0.1-2 pixels) in the
                strong view; 0 keeps objects a few pixels wide.
            grayscale_p: probability of a grayscale strong view (RGB).
            strong_views: 1 or 2 strong views per unlabelled image.
            cutmix_p: probability of a CutMix box per unlabelled image.
            cutmix_area: range of the box's share of the image.
            lambda_fp: weight of UniMatch's feature-perturbation stream (0: off).
            joint_batch_norm: run the labelled batch and the strong views in one
                forward pass, so BatchNorm normalizes them together; False runs
                two passes (UniMatch's), so the labelled batch keeps its own
                statistics. The demo's config uses two passes (chosen on its val
                split over 3 seeds, ``docs/demo.md``); the DeepGlobe configs keep
                one (val at seed 0, ``docs/deepglobe_real.md``). Cost on 2 CPU
                cores: ``benchmarks/self_training_step.py`` measured two passes
                at 2.18x a plain step and one pass at 2.79x, while whole demo
                fits took 79-98 s with two passes and 67-81 s with one.
            eval_model: network used for validation, test and prediction.
            calibrate_teacher: divide the teacher's logits by a temperature
                (Guo et al. 2017) before its probabilities become pseudo-labels
                and thresholds: the temperature is fitted on every validation's
                labelled pixels by a
                :class:`~torchgeo_als4gan.evaluation.calibration.TemperatureCalibration`
                callback (added when the trainer has none) from the network
                that is validated (the teacher unless ``eval_model:
                student``), and kept in the checkpoint (``teacher_temperature``);
                1 until the first validation.
            monitor_every: iterations between measurements of the teacher's
                pseudo-label accuracy on labelled images.
            freeze_backbone: train only the decoder / head.
            plot_batches: validation batches drawn as figures per epoch.
            seed: seed of the random draws of each iteration.

        Raises:
            ValueError: If an argument is out of range (the message names it).
        """
        check_self_training_arguments(locals())
        self._init_semi()
        super().__init__(
            model=model, backbone=backbone, weights=weights,  # type: ignore[arg-type]
            in_channels=in_channels, num_classes=num_classes,
            class_weights=class_weights, ignore_index=ignore_index, lr=lr,
            freeze_backbone=freeze_backbone,
        )  # fmt: skip

    def configure_models(self) -> None:
        """Create the student, its frozen EMA copy and the strong augmentation."""
        self.configure_network()
        self.teacher = frozen_copy(self.model)
        if self.hparams.get('calibrate_teacher', False):
            self.register_buffer('teacher_temperature', torch.ones(()))
        if self.hparams['threshold_mode'] == 'adaptive':  # FreeMatch's state
            classes: int = self.hparams['num_classes']
            self.register_buffer('confidence_mean', torch.tensor(1 / classes))
            self.register_buffer(
                'confidence_class', torch.full((classes,), 1 / classes)
            )
        k: float = self.hparams['strong_strength']
        self.strong = StrongAugmentation(
            self.hparams['in_channels'], self.hparams['strong_augmentation'],
            brightness=0.5 * k, contrast=0.5 * k, saturation=0.5 * k,
            hue=min(0.25 * k, 0.5), noise=0.1 * k, blur_p=self.hparams['blur_p'],
            grayscale_p=self.hparams['grayscale_p'],
        )  # fmt: skip
        if self.hparams['lambda_fp'] > 0 and not supports_feature_perturbation(
            self.model
        ):
            msg = (
                f'lambda_fp > 0 needs a model with an encoder and a segmentation head'
                f' (smp models such as unet or deeplabv3+, deeplabv2), not'
                f' {self.hparams["model"]!r}'
            )
            raise ValueError(msg)

    def inference_network(self) -> nn.Module:
        """The teacher (``eval_model: teacher``) or the student.

        Returns:
            The network used for validation, test and prediction.
        """
        if self.hparams['eval_model'] == 'teacher':
            return self.teacher
        network: nn.Module = self.model
        return network

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Logits of the student while training, else of :meth:`inference_network`.

        Args:
            *args: the images.
            **kwargs: passed to the network.

        Returns:
            The logits.
        """
        if self.training:
            return self.model(*args, **kwargs)
        with evaluating(self.inference_network()) as network:
            return network(*args, **kwargs)

    def configure_optimizers(self) -> Any:
        """AdamW (constant rate) or SGD (poly decay), stepped every iteration.

        Returns:
            The optimizer and its per-step scheduler.
        """
        name: str = self.hparams['optimizer']
        optimizer = network_optimizer(
            self.model, name, self.hparams['lr'], self.hparams['momentum'],
            self.hparams['weight_decay'], self.hparams['head_lr_mult'],
        )  # fmt: skip
        factor = lr_factor(name, self.total_iterations, self.hparams['poly_power'])
        scheduler = LambdaLR(optimizer, factor)
        return {
            'optimizer': optimizer,
            'lr_scheduler': {'scheduler': scheduler, 'interval': 'step'},
        }

    @property
    def total_iterations(self) -> int:
        """Iterations of training (``max_iterations`` or the trainer's length)."""
        given: int | None = self.hparams['max_iterations']
        return given or total_iterations(self.trainer, 1)

    def compute_losses(
        self,
        labeled: dict[str, Tensor],
        unlabeled: dict[str, Tensor] | None,
        iteration: int,
    ) -> dict[str, Tensor]:
        """Every loss term and statistic of one iteration.

        Args:
            labeled: ``image`` (normalized, augmented) and ``mask``.
            unlabeled: ``image`` (the weak view) and optionally ``valid``
                (pixels inside the image).
            iteration: the iteration (for the schedules).

        Returns:
            ``loss`` (to backpropagate) and detached terms and statistics.
        """
        assert unlabeled is not None
        x_l, y_l, x_u = labeled['image'], labeled['mask'].long(), unlabeled['image']
        valid = weak_view_valid(unlabeled)
        with torch.no_grad(), evaluating(self.teacher) as teacher:
            prob = self.teacher_probabilities(teacher(x_u))
        taught = self.teach(prob, x_u, valid, iteration)
        strong = torch.cat([v[0] for v in taught.views])
        if self.hparams['joint_batch_norm']:  # one pass: shared BatchNorm statistics
            logits = self.model(torch.cat([x_l, strong]))
            logits_l, logits_strong = logits[: x_l.shape[0]], logits[x_l.shape[0] :]
        else:  # two passes (UniMatch's)
            logits_l, logits_strong = self.model(x_l), self.model(strong)
        loss_sup, loss_unsup = self.fit_terms(logits_l, logits_strong, y_l, taught)
        factor = self.unsup_factor(iteration)
        lambda_u = self.hparams['lambda_u'] * factor
        loss = loss_sup + lambda_u * loss_unsup
        loss_fp = torch.zeros((), device=x_l.device)
        if self.hparams['lambda_fp'] > 0:
            fp_logits = perturbed_forward(self.model, x_u)
            loss_fp = weighted_cross_entropy(
                fp_logits, taught.labels, taught.weights, valid
            )
            loss = loss + self.hparams['lambda_fp'] * factor * loss_fp
        return {
            'loss': loss, 'loss_sup': loss_sup.detach(),
            'loss_unsup': loss_unsup.detach(), 'loss_fp': loss_fp,
            'logits_l': logits_l.detach(),
            **self.teaching_statistics(taught, lambda_u),
        }  # fmt: skip

    def training_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """One iteration on a ``{'labeled', 'unlabeled'}`` batch.

        Args:
            batch: the batch.
            batch_idx: batch index.
            dataloader_idx: loader index.

        Returns:
            The loss.
        """
        labeled, unlabeled = self.split_batch(batch)
        iteration = self.iteration
        with self.iteration_rng(iteration):
            losses = self.compute_losses(labeled, unlabeled, iteration)
        self._log_iteration(losses, labeled, iteration)
        loss: Tensor = losses['loss']
        return loss

    def _log_iteration(
        self, losses: dict[str, Tensor], labeled: dict[str, Tensor], iteration: int
    ) -> None:
        batch_size = labeled['image'].shape[0]
        self.train_metrics(losses['logits_l'], labeled['mask'].long())
        self.log_dict(self.train_metrics, batch_size=batch_size)
        names = ('loss', 'loss_sup', 'loss_unsup', 'lambda_u', 'kept_fraction',
                 'confidence', 'entropy_drop')  # fmt: skip
        logged = {f'train_{k}': losses[k].detach().float() for k in names}
        if self.hparams['lambda_fp'] > 0:
            logged['train_loss_fp'] = losses['loss_fp'].detach()
        if iteration % self.hparams['monitor_every'] == 0:
            logged['train_pseudo_label_accuracy'] = self._teacher_accuracy(labeled)
        self.log_dict(logged, batch_size=batch_size)

    @torch.no_grad()
    def _teacher_accuracy(self, labeled: dict[str, Tensor]) -> Tensor:
        """Pixel accuracy of the teacher's labels on labelled images."""
        y = labeled['mask'].long()
        known = y != self.hparams['ignore_index']
        with evaluating(self.teacher) as teacher:
            prediction: Tensor = teacher(labeled['image']).argmax(dim=1)
        correct = ((prediction == y) & known).sum()
        accuracy: Tensor = correct / known.sum().clamp_min(1)
        return accuracy.float()

    def ema_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """The teacher follows the student.

        Returns:
            ``(teacher, student)``.
        """
        return [(self.teacher, self.model)]
