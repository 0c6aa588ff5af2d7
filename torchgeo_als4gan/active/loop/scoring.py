"""Scoring the pool with the segmenter being trained (STAL), streamed.

The trained task (for self-training its teacher, the network it evaluates
with) predicts every unlabelled item through Lightning's predict loop; each
batch is reduced at once to one float per item by a function of
:mod:`torchgeo_als4gan.active.pixel_scores`, so no per-pixel map of the pool is
kept. With ``embedding`` (``feature`` or ``badge`` diversity) every item also
gets a vector from the classifier's input
(:mod:`torchgeo_als4gan.active.embeddings`). The same
:class:`~torchgeo_als4gan.active.query.learner.PoolScoreWriter` as ``als4gan
query`` collects both (gathered over processes under DDP; the embeddings in a
memory-mapped ``embeddings_<name>.npy`` of the pool's size).
"""

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lightning import LightningModule, Trainer
from torch import Tensor

from ...datamodules.pool import PoolDataModule, QueryPool
from ..embeddings import ClassifierInput, badge_embedding, pooled_features, projection
from ..pixel_scores import pixel_entropy, pixel_margin, region_impurity
from ..query.learner import PoolScoreWriter
from ..query.rounds import RoundScores

__all__ = (
    'BADGE_WIDTH',
    'SEGMENTER_SCORERS',
    'SegmenterPoolScorer',
    'check_scorer',
    'score_pool',
)

#: Width of the projected BADGE embeddings.
BADGE_WIDTH = 256

#: Scorer name -> (function of probabilities and valid pixels, larger is more
#: uncertain).
SEGMENTER_SCORERS: dict[str, tuple[Callable[..., Tensor], bool]] = {
    'pixel_entropy': (pixel_entropy, True),
    'pixel_margin': (pixel_margin, False),
    'region_impurity': (region_impurity, True),
}


def check_scorer(
    name: str, argument: str = 'scorer'
) -> tuple[Callable[..., Tensor], bool]:
    """The function of a scorer name and whether larger means more uncertain.

    Args:
        name: a key of :data:`SEGMENTER_SCORERS`.
        argument: the option name, for the error.

    Returns:
        The function and its direction.

    Raises:
        ValueError: If the name is unknown.
    """
    if name not in SEGMENTER_SCORERS:
        msg = f'{argument} must be one of {sorted(SEGMENTER_SCORERS)}, got {name!r}'
        raise ValueError(msg)
    return SEGMENTER_SCORERS[name]


class SegmenterPoolScorer(LightningModule):
    """A trained segmentation task as a pool scorer for ``trainer.predict``."""

    def __init__(
        self,
        task: LightningModule,
        scorer: str,
        temperature: float = 1.0,
        embedding: str | None = None,
        num_classes: int | None = None,
        **options: Any,
    ) -> None:
        """Initialize a new SegmenterPoolScorer.

        Args:
            task: the trained segmentation task (its ``forward`` in eval mode
                is what the task evaluates with: the teacher for self-training).
            scorer: a key of :data:`SEGMENTER_SCORERS`.
            temperature: the logits are divided by it before the softmax (the
                checkpoint's fitted temperature; 1: none).
            embedding: also return an ``embedding`` per item: ``feature``
                (pooled classifier input) or ``badge`` (projected gradient
                embedding); None: scores only.
            num_classes: the classes (finds the classifier; needed with
                ``embedding``, default the task's ``num_classes``).
            **options: extra arguments of the score function (``k``, ``top`` of
                ``region_impurity``).

        Raises:
            ValueError: If ``embedding`` is unknown or the task has no
                classifier layer to read.
        """
        super().__init__()
        function, _ = check_scorer(scorer)
        self.task = task
        self.temperature = temperature
        self.score_fn = functools.partial(function, **options)
        if embedding not in (None, 'feature', 'badge'):
            msg = f"embedding must be 'feature', 'badge' or None, got {embedding!r}"
            raise ValueError(msg)
        self.embedding = embedding
        self.classifier: ClassifierInput | None = None
        self.project: Tensor | None = None
        if embedding is not None:
            classes = num_classes or int(task.hparams['num_classes'])
            self.classifier = ClassifierInput(task, classes)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        """Score a batch: one float per item.

        Args:
            batch: ``image`` (normalized), ``index`` and ``pixels``.
            batch_idx: unused.

        Returns:
            ``index``, ``score`` and, with ``embedding``, ``embedding``.
        """
        if self.classifier is None:
            logits = self.task(batch['image'])
        else:
            with self.classifier:
                logits = self.task(batch['image'])
        probs = (logits.float() / self.temperature).softmax(dim=1)
        out = {'index': batch['index'], 'score': self.score_fn(probs, batch['pixels'])}
        if self.classifier is not None:
            features, head = self.classifier.features, self.classifier.logits
            assert features is not None and head is not None
            if self.embedding == 'feature':
                out['embedding'] = pooled_features(features, batch['pixels'])
            else:
                if self.project is None:
                    rows = head.shape[1] * features.shape[1]
                    self.project = projection(rows, BADGE_WIDTH).to(features.device)
                out['embedding'] = badge_embedding(
                    head.float() / self.temperature, features, batch['pixels'],
                    self.project,
                )  # fmt: skip
        return out


def score_pool(
    task: LightningModule,
    pool: QueryPool,
    items: Sequence[int],
    scorer: str,
    folder: Path,
    name: str,
    accelerator: str = 'cpu',
    devices: int | str = 1,
    strategy: str = 'auto',
    batch_size: int = 16,
    num_workers: int = 0,
    temperature: float = 1.0,
    embedding: str | None = None,
    **options: Any,
) -> RoundScores:
    """Score pool items with a trained segmenter, streaming them through predict.

    Args:
        task: the trained segmentation task.
        pool: the pool (normalization and items).
        items: pool indices to score.
        scorer: a key of :data:`SEGMENTER_SCORERS`.
        folder: folder for the writer's files.
        name: base name of those files.
        accelerator: Lightning accelerator.
        devices: Lightning devices (several: DDP, scores gathered).
        strategy: Lightning strategy.
        batch_size: scoring batch size.
        num_workers: data loading workers.
        temperature: divides the logits before the softmax (calibration).
        embedding: also embed every item (``feature`` or ``badge``, see
            :class:`SegmenterPoolScorer`).
        **options: extra arguments of the score function.

    Returns:
        The pool indices scored and their scores (and, with ``embedding``, the
        ``[len(pool), D]`` embeddings by pool index).
    """
    # segmentation batches fragment the heap faster than the classifier's: trim
    # every 4 batches keeps the peak flat in the pool size (benchmarks/segmenter_scoring.py)
    writer = PoolScoreWriter(folder, len(pool), name, trim_every=4)
    trainer = Trainer(
        accelerator=accelerator, devices=devices, strategy=strategy, logger=False,
        enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[writer], inference_mode=True,
        default_root_dir=folder,
    )  # fmt: skip
    data = PoolDataModule(
        pool, [], items, batch_size=batch_size, num_workers=num_workers, pixels=True
    )
    trainer.predict(
        SegmenterPoolScorer(task, scorer, temperature, embedding, **options),
        datamodule=data,
        return_predictions=False,
    )  # fmt: skip
    assert writer.result is not None
    return writer.result
