"""S4GAN: semi-supervised segmentation with an image-level discriminator."""

import os
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor
from torch.optim import Adam
from torch.optim.lr_scheduler import LambdaLR

from ..losses import (
    discriminator_loss,
    feature_matching_loss,
    one_hot_mask,
    self_training_loss,
)
from ..models import S4GANDiscriminator, rescale_to_unit
from .network import NetworkName
from .options import check_s4gan_arguments
from .schedules import lr_factor, network_optimizer, total_iterations
from .semi import SemiSupervisedSegmentationTask

__all__ = ('S4GANTask',)

#: Loss terms checked for NaN/inf before every update, in the order reported.
LOSS_TERMS = ('loss_ce', 'loss_fm', 'loss_st', 'loss_d')


class S4GANTask(SemiSupervisedSegmentationTask):
    """S4GAN (Mittal et al., 2019) as used by ALS4GAN, on TorchGeo's segmentation task.

    The generator G is any TorchGeo segmentation model (``deeplabv3+`` by default)
    or ``deeplabv2`` (the paper's dilated ResNet-101 with a summed ASPP head). The
    discriminator D (:class:`S4GANDiscriminator`) scores a class-probability map
    concatenated with its image rescaled to [0, 1]. Each iteration takes a
    ``{'labeled', 'unlabeled'}`` batch and minimizes

    * ``loss_g = loss_ce + lambda_fm * loss_fm + lambda_st * loss_st`` for G:
      cross-entropy on labelled pixels, matching of D's mean features between
      (image, ground truth) and (unlabelled image, prediction) pairs, and
      self-training on the unlabelled images D scores above ``threshold_st``
      (after ``st_warmup`` iterations);
    * ``loss_d``, half the binary cross-entropy of real pairs as 1 and predicted
      pairs (detached from G) as 0, for D.

    G's losses see D's current weights as constants and D's loss sees G's output
    as a constant, so one forward pass of D and one backward pass give exactly the
    gradients of the usual alternating G step and D step taken from the same
    state (see :meth:`compute_losses`). G uses SGD (head at ``head_lr_mult`` x ``lr``), D Adam, both with poly
    decay over the training length. Validation, test, checkpoints, figures and
    per-iteration seeding are the shared ones of
    :class:`SemiSupervisedSegmentationTask` (mIoU over present classes and
    per-class IoU; the best checkpoint is chosen on validation mIoU; a resumed
    run continues exactly like an uninterrupted one).
    """

    def __init__(
        self,
        model: NetworkName = 'deeplabv3+',
        backbone: str = 'resnet50',
        weights: str | os.PathLike[str] | bool | None = None,
        in_channels: int = 3,
        num_classes: int = 2,
        ignore_index: int | None = 255,
        class_weights: Tensor | Sequence[float] | None = None,
        lr: float = 2.5e-4,
        head_lr_mult: float | None = None,
        momentum: float = 0.9,
        weight_decay: float | None = None,
        optimizer: Literal['sgd', 'adamw'] = 'sgd',
        d_lr: float = 1e-4,
        d_betas: tuple[float, float] = (0.9, 0.99),
        d_width: int = 64,
        d_dropout: float = 0.5,
        poly_power: float = 0.9,
        max_iterations: int | None = None,
        lambda_fm: float = 0.1,
        lambda_st: float = 1.0,
        threshold_st: float = 0.6,
        st_warmup: int = 0,
        d_max_accuracy: float | None = None,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: Literal['norm', 'value'] = 'norm',
        freeze_backbone: bool = False,
        plot_batches: int = 2,
        seed: int = 0,
    ) -> None:
        """Initialize a new S4GANTask.

        Args:
            model: generator: a TorchGeo segmentation model name, ``deeplabv2`` or
                ``hypercolumn`` (:class:`HypercolumnSegmenter` on the timm
                ``backbone``: every convolution tapped, MLP 1024-1024).
            backbone: encoder name (timm / smp; for ``deeplabv2`` a timm ResNet
                such as ``resnet101``).
            weights: a local ``.pt``/``.pth``/``.ckpt`` file (whole model or
                backbone; a report of loaded and missing keys is kept in
                :attr:`weights_report`), True for ImageNet weights (download),
                a TorchGeo weight enum or its name, ``timm:<name>`` (from the local caches), or None for random initialisation.
            in_channels: input bands.
            num_classes: segmentation classes (without the ignore index).
            ignore_index: mask value of unlabelled pixels.
            class_weights: per-class weights of the cross-entropy.
            lr: generator (backbone) learning rate.
            head_lr_mult: factor of the decoder / head learning rate (None: 10
                for SGD, 1 for AdamW).
            momentum: SGD momentum of the generator.
            weight_decay: weight decay of the generator (None: 5e-4 for SGD,
                1e-2 for AdamW).
            optimizer: ``sgd`` (the paper's, with poly decay) or ``adamw``
                (TorchGeo's baseline optimizer, constant rate), so that a
                comparison with the baseline can hold the optimizer fixed.
            d_lr: discriminator learning rate (Adam).
            d_betas: Adam betas of the discriminator.
            d_width: filters of D's first convolution.
            d_dropout: dropout after D's first three convolutions.
            poly_power: power of the polynomial decay of both learning rates.
            max_iterations: iterations of the decay (default: the trainer's
                training length).
            lambda_fm: weight of the feature-matching loss.
            lambda_st: weight of the self-training loss.
            threshold_st: D score above which an unlabelled prediction becomes a
                pseudo-label, in [0, 1].
            st_warmup: iterations before self-training starts.
            d_max_accuracy: keep D from winning: D is updated only on batches
                where its accuracy (mean of real and fake) is at most this, in
                (0.5, 1] (None: always; the paper's). A D that separates real
                from predicted pairs perfectly scores every prediction near 0,
                and the self-training gate ``threshold_st`` closes.
            gradient_clip_val: clip the gradients of both networks (None: off).
            gradient_clip_algorithm: ``norm`` or ``value``.
            freeze_backbone: train only the decoder / head of the generator.
            plot_batches: validation batches drawn as figures per epoch (when
                the logger can show figures).
            seed: seed of the random draws of each iteration.

        Raises:
            ValueError: If an argument is out of range.
        """
        check_s4gan_arguments(locals())
        self._init_semi()
        super().__init__(
            model=model, backbone=backbone, weights=weights,  # type: ignore[arg-type]
            in_channels=in_channels, num_classes=num_classes,
            class_weights=class_weights, ignore_index=ignore_index, lr=lr,
            freeze_backbone=freeze_backbone,
        )  # fmt: skip
        self.automatic_optimization = False

    def configure_models(self) -> None:
        """Create the generator (loading local weights) and the discriminator."""
        self.configure_network()
        self.discriminator = S4GANDiscriminator(
            self.hparams['num_classes'],
            self.hparams['in_channels'],
            self.hparams['d_width'],
            self.hparams['d_dropout'],
        )

    def configure_optimizers(self) -> Any:
        """G: SGD with poly decay (the paper's) or AdamW (TorchGeo's); D: Adam.

        With SGD both rates decay polynomially per iteration; with AdamW both
        stay constant, as TorchGeo's baseline does within these runs.

        Returns:
            The two optimizers and their schedulers (stepped by the task).
        """
        name: str = self.hparams['optimizer']
        opt_g = network_optimizer(
            self.model, name, self.hparams['lr'], self.hparams['momentum'],
            self.hparams['weight_decay'], self.hparams['head_lr_mult'],
        )  # fmt: skip
        opt_d = Adam(
            self.discriminator.parameters(),
            lr=self.hparams['d_lr'],
            betas=tuple(self.hparams['d_betas']),
        )
        total = self.hparams['max_iterations'] or total_iterations(self.trainer, 2)
        factor = lr_factor(name, total, self.hparams['poly_power'])
        return [opt_g, opt_d], [LambdaLR(opt_g, factor), LambdaLR(opt_d, factor)]

    def _optimizer_pair(self) -> tuple[Any, Any]:
        optimizers = self.optimizers()
        assert isinstance(optimizers, list)
        return optimizers[0], optimizers[1]

    def compute_losses(
        self,
        labeled: dict[str, Tensor],
        unlabeled: dict[str, Tensor] | None,
        iteration: int,
    ) -> dict[str, Tensor]:
        """All loss terms and statistics of one iteration.

        D runs once on the real pairs and once on the predicted pairs, the
        predictions entering as a constant leaf. ``loss_d`` backpropagates into D only. The
        gradient of the feature-matching loss with respect to the predictions
        (D's weights constant) is taken with :func:`torch.autograd.grad` and
        handed to G through a surrogate term, so G gets exactly the gradient of
        ``loss_g`` without a second pass of D.

        Args:
            labeled: ``image`` [B, C, H, W] (normalized) and ``mask`` [B, H, W].
            unlabeled: ``image`` [B', C, H, W], or None (the labelled images
                then also serve as unlabelled ones).
            iteration: the iteration (for the self-training warm-up).

        Returns:
            ``objective`` (what to backpropagate: G's and D's losses, each
            reaching only its own network), ``loss_g`` (value), ``loss_d``, the
            terms ``loss_ce``, ``loss_fm``, ``loss_st``, and ``d_acc_real``,
            ``d_acc_fake``, ``st_fraction``, ``logits_l``. ``training_step``
            adds ``d_updated`` (1 when D's update was taken, see
            ``d_max_accuracy``).
        """
        x_l, y_l = labeled['image'], labeled['mask'].long()
        x_u = unlabeled['image'] if unlabeled is not None else x_l
        logits_l = self(x_l)
        loss_ce: Tensor = self.criterion(logits_l, y_l)
        logits_u = self(x_u)
        prob_u = logits_u.float().softmax(dim=1)
        image_l, image_u = rescale_to_unit(x_l), rescale_to_unit(x_u)
        real = one_hot_mask(y_l, self.hparams['num_classes'])
        fake = prob_u.detach().requires_grad_(True)
        # Separate passes, so that the gradient below traverses only the fake pairs
        real_logit, real_feature = self.discriminator(real, image_l)
        fake_logit, fake_feature = self.discriminator(fake, image_u)
        loss_d = discriminator_loss(real_logit.float(), fake_logit.float())
        loss_fm = feature_matching_loss(
            real_feature.detach().float(), fake_feature.float()
        )
        lambda_fm: float = self.hparams['lambda_fm']
        scale = self._loss_scale()
        (grad_fm,) = torch.autograd.grad(
            loss_fm * (lambda_fm * scale), fake, retain_graph=True
        )
        surrogate_fm = (prob_u * (grad_fm / scale)).sum()
        scores = fake_logit.detach().float().sigmoid()
        loss_st, fraction = self_training_loss(
            logits_u.float(), scores, self.hparams['threshold_st']
        )
        st_weight = (
            self.hparams['lambda_st'] if iteration >= self.hparams['st_warmup'] else 0.0
        )
        supervised = loss_ce + st_weight * loss_st
        return {
            'objective': supervised + surrogate_fm + loss_d,
            'loss_g': (supervised + lambda_fm * loss_fm).detach(),
            'loss_d': loss_d,
            'loss_ce': loss_ce,
            'loss_fm': loss_fm,
            'loss_st': loss_st,
            'd_acc_real': (real_logit > 0).float().mean(),
            'd_acc_fake': (fake_logit < 0).float().mean(),
            'st_fraction': fraction,
            'logits_l': logits_l,
        }

    def _loss_scale(self) -> float:
        """The AMP loss scale (fp16), so that the inner gradient does not underflow."""
        trainer = self._trainer
        scaler = getattr(trainer.precision_plugin, 'scaler', None) if trainer else None
        return float(scaler.get_scale()) if scaler is not None else 1.0

    def _check_finite(self, losses: dict[str, Tensor], iteration: int) -> None:
        """Stop with a message naming the iteration and term of a NaN/inf loss.

        Raises:
            FloatingPointError: If a loss term is not finite (on any process).
        """
        values = torch.stack([losses[k].detach().float() for k in LOSS_TERMS])
        bad = not bool(torch.isfinite(values).all())
        if self.trainer.world_size > 1:
            bad = self.trainer.strategy.reduce_boolean_decision(bad, all=False)
        if not bad:
            return
        terms = ', '.join(
            f'{k} = {float(v)}' for k, v in zip(LOSS_TERMS, values, strict=True)
        )
        checkpoint = (
            getattr(self.trainer.checkpoint_callback, 'last_model_path', '') or None
        )
        msg = (
            f'Non-finite S4GAN loss at iteration {iteration} (global step'
            f' {self.global_step}, rank {self.global_rank}): {terms}. Training'
            ' stopped before this update; the last checkpoint saved before it is'
            f' kept ({checkpoint}). Lower the learning rates or check the inputs.'
        )
        raise FloatingPointError(msg)

    def training_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """One S4GAN iteration: both updates from one backward pass.

        Args:
            batch: ``{'labeled': ..., 'unlabeled': ...}`` or a labelled batch
                (then the labelled images also serve as unlabelled ones).
            batch_idx: batch index.
            dataloader_idx: loader index.

        Returns:
            The generator loss (detached).

        Raises:
            ValueError: If the labelled batch is empty or a mask value is not
                a class (checked on the first batch).
        """
        labeled, unlabeled = self.split_batch(batch)
        iteration = self.iteration
        with self.iteration_rng(iteration):
            losses = self.compute_losses(labeled, unlabeled, iteration)
        self._check_finite(losses, iteration)
        opt_g, opt_d = self._optimizer_pair()
        opt_g.zero_grad()
        opt_d.zero_grad()
        self.manual_backward(losses['objective'])
        opt_g.step()
        limit: float | None = self.hparams['d_max_accuracy']
        accuracy = (losses['d_acc_real'] + losses['d_acc_fake']) / 2
        losses['d_updated'] = torch.tensor(
            float(limit is None or float(accuracy) <= limit), device=accuracy.device
        )
        if losses['d_updated'] == 0:  # no gradient: Adam leaves D as it is, and
            opt_d.zero_grad(set_to_none=True)  # the step still counts (global_step)
        opt_d.step()
        for scheduler in self.lr_schedulers():  # type: ignore[union-attr]
            scheduler.step()
        self._log_iteration(losses, labeled, labeled['image'].shape[0])
        return losses['loss_g'].detach()

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip gradients (after AMP unscaling) when ``gradient_clip_val`` is set.

        Args:
            optimizer: the optimizer about to step.
        """
        value = self.hparams['gradient_clip_val']
        if value:
            self.clip_gradients(
                optimizer,
                gradient_clip_val=value,
                gradient_clip_algorithm=self.hparams['gradient_clip_algorithm'],
            )

    def _log_iteration(
        self, losses: dict[str, Tensor], labeled: dict[str, Tensor], batch_size: int
    ) -> None:
        self.train_metrics(losses['logits_l'].detach(), labeled['mask'].long())
        self.log_dict(self.train_metrics, batch_size=batch_size)
        logged = {
            f'train_{k}': v.detach()
            for k, v in losses.items()
            if k not in ('logits_l', 'objective')
        }
        logged['train_loss'] = logged.pop('train_loss_g')
        self.log_dict(logged, batch_size=batch_size)
        opt_g, opt_d = self._optimizer_pair()
        for group in opt_g.param_groups:
            self.log(f'lr_{group.get("name", "g")}', group['lr'], batch_size=batch_size)
        self.log('lr_d', opt_d.param_groups[0]['lr'], batch_size=batch_size)

    def figure_title(self, batch: dict[str, Tensor], logits: Tensor) -> str | None:
        """D's score of the first validation prediction, as the figure title.

        Args:
            batch: the normalized validation batch.
            logits: the generator's logits on it.

        Returns:
            The title.
        """
        prob = logits[:1].float().softmax(dim=1)
        with torch.no_grad():
            logit, _ = self.discriminator(prob, rescale_to_unit(batch['image'][:1]))
        return f'discriminator score of the prediction: {float(logit.float().sigmoid()):.3f}'
