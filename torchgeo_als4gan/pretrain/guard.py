"""Catching silent collapse: embedding spread and a k-NN accuracy, every epoch."""

import math
from typing import Any

import torch
from lightning import Callback, LightningModule, Trainer
from torch import Tensor
from torch.nn import functional as F

__all__ = (
    'CollapseGuard',
    'PretrainingCollapsedError',
    'embedding_std',
    'knn_accuracy',
)


class PretrainingCollapsedError(RuntimeError):
    """The embeddings stopped varying: the encoder maps everything to one point."""


def embedding_std(embeddings: Tensor) -> float:
    """Mean over dimensions of the std of L2-normalized embeddings.

    About ``1 / sqrt(D)`` for embeddings spread over the sphere, 0 when every
    input maps to the same direction (collapse).

    Args:
        embeddings: ``[N, D]``.

    Returns:
        The mean std.
    """
    return float(F.normalize(embeddings.float(), dim=1).std(dim=0).mean())


def knn_accuracy(embeddings: Tensor, labels: Tensor, k: int = 5) -> float:
    """Leave-one-out k-NN accuracy (cosine similarity, majority vote).

    Args:
        embeddings: ``[N, D]``.
        labels: ``[N]`` classes.
        k: neighbours (at most N - 1).

    Returns:
        The share of items whose neighbours' majority class is theirs.
    """
    n = len(labels)
    k = max(1, min(k, n - 1))
    z = F.normalize(embeddings.float(), dim=1)
    similarity = z @ z.T
    similarity.fill_diagonal_(-math.inf)
    neighbours = similarity.topk(k, dim=1).indices
    votes = F.one_hot(labels[neighbours], int(labels.max()) + 1).sum(dim=1)
    return float((votes.argmax(dim=1) == labels).float().mean())


class CollapseGuard(Callback):
    """Logs ``embedding_std`` (and ``knn_accuracy``) each epoch; stops on collapse."""

    def __init__(
        self,
        images: Tensor,
        labels: Tensor | None,
        threshold: float | None = None,
        k: int = 5,
        batch_size: int = 64,
    ) -> None:
        """Initialize a new CollapseGuard.

        Args:
            images: normalized check images ``[N, C, H, W]``.
            labels: their classes (None: no k-NN accuracy).
            threshold: smallest healthy ``embedding_std`` (default
                ``0.02 / sqrt(D)``).
            k: k-NN neighbours.
            batch_size: embedding batch size.
        """
        self.images, self.labels = images, labels
        self.threshold, self.k, self.batch_size = threshold, k, batch_size
        self.history: list[dict[str, float]] = []

    @torch.no_grad()
    def embed(self, module: LightningModule) -> Tensor:
        """Embeddings of the check images by the task's backbone, in eval mode.

        Args:
            module: a TorchGeo SimCLR / MoCo task.

        Returns:
            ``[N, D]``.
        """
        backbone: Any = module.backbone
        was_training = backbone.training
        backbone.eval()
        out = [
            backbone(self.images[i : i + self.batch_size].to(module.device))
            .float()
            .cpu()
            for i in range(0, len(self.images), self.batch_size)
        ]
        backbone.train(was_training)
        return torch.cat(out)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Measure, log, and stop when the embeddings collapsed.

        Args:
            trainer: the trainer.
            pl_module: the task.

        Raises:
            PretrainingCollapsedError: If ``embedding_std`` fell below the threshold.
        """
        z = self.embed(pl_module)
        spread = embedding_std(z)
        row = {'epoch': float(trainer.current_epoch), 'embedding_std': spread}
        pl_module.log('embedding_std', spread)
        if self.labels is not None:
            row['knn_accuracy'] = knn_accuracy(z, self.labels, self.k)
            pl_module.log('knn_accuracy', row['knn_accuracy'])
        self.history.append(row)
        threshold = self.threshold
        if threshold is None:
            threshold = 0.02 / math.sqrt(z.shape[1])
        if spread < threshold:
            msg = (
                f'pretraining collapsed at epoch {trainer.current_epoch}: embedding std'
                f' {spread:.4f} < {threshold:.4f} (every image maps to nearly the same'
                ' embedding); lower the learning rate, raise the temperature or the'
                ' batch size, or use stronger augmentations. The best checkpoint so'
                ' far is kept; no weights were exported.'
            )
            raise PretrainingCollapsedError(msg)
