"""The active learner's image classifier: a TorchGeo ClassificationTask that scores."""

import os
from collections.abc import Sequence
from typing import Any, Literal

import timm
import torch
from torch import Tensor
from torchgeo.trainers import ClassificationTask

from ..active.registry import QueryStrategy, score_probabilities
from ..models.pretrained import resolve_weights
from ..models.weights import WeightsReport, load_local_weights
from .network import is_local_weights

__all__ = ('ActiveLearnerTask',)


class ActiveLearnerTask(ClassificationTask):
    """Image (or patch) classifier that scores pool items for active learning.

    Everything of TorchGeo's :class:`~torchgeo.trainers.ClassificationTask` is kept
    (any timm backbone, multi-class or multi-label, losses, metrics). Added:

    * ``weights`` may be a local ``.pt``/``.pth``/``.ckpt`` file: keys are matched
      after stripping wrapper prefixes, and loaded / missing / unexpected /
      mismatched keys are reported (an error if nothing matches).
    * A dropout layer before the classifier head (``dropout``), which is also what
      Monte-Carlo dropout samples for BALD (``mc_samples`` passes of the head).
    * When :attr:`query_strategy` is set, ``predict_step`` returns per-item
      uncertainty scores (and embeddings for the diversity strategy) for batches
      carrying a pool ``index``, instead of probabilities, from the logits
      divided by :attr:`query_temperature`.

    The learning-rate scheduler follows ``train_loss``, as the pool loop trains
    without a validation set.
    """

    monitor = 'train_loss'
    #: Whether training also takes ``{'labeled', 'unlabeled'}`` batches.
    semi_supervised = False
    #: Whether training batches must carry ``metadata``.
    needs_metadata = False

    def __init__(
        self,
        model: str = 'resnet50',
        weights: str | os.PathLike[str] | bool | None = None,
        in_channels: int = 3,
        task: Literal['binary', 'multiclass', 'multilabel'] = 'multiclass',
        num_classes: int | None = None,
        num_labels: int | None = None,
        loss: Literal['ce', 'bce', 'jaccard', 'focal'] = 'ce',
        class_weights: Tensor | Sequence[float] | None = None,
        lr: float = 1e-3,
        patience: int = 10,
        freeze_backbone: bool = False,
        dropout: float = 0.2,
        mc_samples: int = 20,
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        """Initialize a new ActiveLearnerTask.

        Args:
            model: name of a timm model (e.g. ``resnet50``).
            weights: path of local weights, a TorchGeo weight enum or its name, ``timm:<name>``, True
                for timm's ImageNet weights, or None for random initialisation.
            in_channels: number of input bands.
            task: ``binary``, ``multiclass`` or ``multilabel``.
            num_classes: number of classes (multi-class).
            num_labels: number of labels (multi-label).
            loss: ``ce``, ``bce``, ``jaccard`` or ``focal``.
            class_weights: per-class weights of the ``ce`` loss.
            lr: learning rate.
            patience: patience of the plateau scheduler (on ``train_loss``).
            freeze_backbone: train only the head.
            dropout: dropout probability before the head, in [0, 1).
            mc_samples: Monte-Carlo dropout passes for BALD.
            model_kwargs: extra ``timm.create_model`` arguments, e.g.
                ``{img_size: 64}`` for a ViT on 64 px images (with local,
                timm or no weights).

        Raises:
            ValueError: If ``dropout`` or ``mc_samples`` is out of range, or
                ``model_kwargs`` come with TorchGeo weights.
        """
        if not 0 <= dropout < 1:
            msg = f'dropout must be in [0, 1), got {dropout!r}'
            raise ValueError(msg)
        if mc_samples < 2:
            msg = f'mc_samples must be at least 2, got {mc_samples!r}'
            raise ValueError(msg)
        if (
            model_kwargs
            and weights not in (None, True, False)
            and not is_local_weights(weights)
        ):
            msg = (
                f'model_kwargs {model_kwargs} cannot be combined with TorchGeo weights'
                f' {weights!r}: use a local weights file, true (timm) or none'
            )
            raise ValueError(msg)
        #: Strategy used by ``predict_step`` on pool batches (set by the pool loop).
        self.query_strategy: QueryStrategy | None = None
        #: Uncertainty combined with the diversity strategy, if any.
        self.query_uncertainty: QueryStrategy | None = None
        #: Seed of the Monte-Carlo dropout masks.
        self.query_seed = 0
        #: Temperature the scored logits are divided by (``als4gan query
        #: --calibrate temperature`` fits it on val items; 1: none).
        self.query_temperature = 1.0
        self.weights_report: WeightsReport | None = None
        super().__init__(
            model, weights, in_channels, task, num_classes, num_labels, loss,
            class_weights, lr, patience, freeze_backbone,
        )  # fmt: skip

    def configure_models(self) -> None:
        """Create the timm model and load local weights with a report."""
        given = self.weights
        weights = resolve_weights(given)
        local = is_local_weights(weights)
        if local:
            self.weights = None
        extra = self.hparams.get('model_kwargs')
        if extra:
            self.model = timm.create_model(
                self.hparams['model'],
                num_classes=self.hparams['num_classes'] or self.hparams['num_labels'] or 1,
                in_chans=self.hparams['in_channels'], pretrained=self.weights is True,
                **extra,
            )  # fmt: skip
            if self.hparams['freeze_backbone']:
                self.model.requires_grad_(False)
                self.model.get_classifier().requires_grad_(True)
        else:
            super().configure_models()
        self.weights = given
        if local:
            assert isinstance(weights, str | os.PathLike)
            self.weights_report = load_local_weights(self.model, weights)

    @property
    def multilabel(self) -> bool:
        """Whether outputs are per-label sigmoids rather than a softmax."""
        return bool(self.hparams['task'] in ('binary', 'multilabel'))

    def network(self) -> torch.nn.Module:
        """The network that embeds and classifies (subclasses may pick an average).

        Returns:
            The timm model (or a module with its ``forward_features``,
            ``forward_head`` and ``get_classifier``).
        """
        network: torch.nn.Module = self.model
        return network

    def embed(self, x: Tensor) -> Tensor:
        """Pooled features before the classifier head.

        Args:
            x: images [B, C, H, W].

        Returns:
            Embeddings [B, D].
        """
        network: Any = self.network()
        features = network.forward_features(x)
        embedding: Tensor = network.forward_head(features, pre_logits=True)
        return embedding

    def head(self, embedding: Tensor, dropout: bool | None = None) -> Tensor:
        """Classifier head with dropout (active while training by default).

        Args:
            embedding: embeddings [B, D].
            dropout: force dropout on or off (default: ``self.training``).

        Returns:
            Logits [B, C].
        """
        active = self.training if dropout is None else dropout
        p = float(self.hparams['dropout'])
        dropped = torch.nn.functional.dropout(embedding, p, training=active)
        logits: Tensor = self.network().get_classifier()(dropped)  # type: ignore[operator]
        return logits

    def forward(self, x: Tensor) -> Tensor:
        """Logits of a batch.

        Args:
            x: images [B, C, H, W].

        Returns:
            Logits [B, C].
        """
        return self.head(self.embed(x))

    def probabilities(self, logits: Tensor) -> Tensor:
        """Softmax, or per-label sigmoid for multi-label tasks.

        Args:
            logits: logits [..., C].

        Returns:
            Probabilities.
        """
        return logits.sigmoid() if self.multilabel else logits.softmax(dim=-1)

    def mc_probabilities(self, embedding: Tensor, seed: int) -> Tensor:
        """Monte-Carlo dropout samples of the head, with seeded masks.

        Args:
            embedding: embeddings [B, D].
            seed: seed of the dropout masks.

        Returns:
            Probabilities [T, B, C].
        """
        p = float(self.hparams['dropout'])
        if p == 0:
            msg = 'BALD needs dropout > 0 in the classifier (model dropout argument)'
            raise ValueError(msg)
        generator = torch.Generator(device=embedding.device).manual_seed(seed)
        samples = []
        classifier: Any = self.network().get_classifier()  # type: ignore[operator]
        for _ in range(int(self.hparams['mc_samples'])):
            keep = (
                torch.rand(
                    embedding.shape, generator=generator, device=embedding.device
                )
                >= p
            )
            logits = classifier(embedding * keep / (1 - p))
            samples.append(self.probabilities(logits / self.query_temperature))
        return torch.stack(samples)

    def score_batch(self, x: Tensor, index: Tensor) -> dict[str, Tensor]:
        """Scores (and embeddings) of pool items for the current query strategy.

        Args:
            x: normalized images [B, C, H, W].
            index: pool indices [B] (seed the MC dropout masks per batch).

        Returns:
            ``index``, ``score`` (when the strategy or its uncertainty scores)
            and ``embedding`` (diversity strategy).
        """
        strategy = self.query_strategy
        assert strategy is not None
        embedding = self.embed(x)
        out = {'index': index}
        scorer = self.query_uncertainty if strategy.diversity else strategy
        if scorer is not None:
            if scorer.mc:
                seed = self.query_seed * 1_000_003 + int(index.min())
                probs = self.mc_probabilities(embedding, seed)
            else:
                logits = self.head(embedding, dropout=False)
                probs = self.probabilities(logits / self.query_temperature)
            out['score'] = score_probabilities(scorer, probs, self.multilabel).float()
        if strategy.diversity:
            out['embedding'] = embedding.float()
        return out

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
        """Scores of pool batches when querying, else class probabilities.

        Args:
            batch: the batch.
            batch_idx: batch index.
            dataloader_idx: loader index.

        Returns:
            A dict of per-item scores, or probabilities [B, C].
        """
        if self.query_strategy is not None and 'index' in batch:
            return self.score_batch(batch['image'], batch['index'])
        return super().predict_step(batch, batch_idx, dataloader_idx)
