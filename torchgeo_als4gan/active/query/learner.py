"""Training and scoring the classifier with Lightning, for the pool loop."""

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning import Callback, Trainer, seed_everything
from lightning.pytorch.callbacks import BasePredictionWriter
from numpy.typing import NDArray

from ...checks import read_checkpoint
from ...datamodules.pool import PoolDataModule, QueryPool
from ...files import atomic_path, atomic_write
from ...runtime import release_free_memory
from ...trainers import ActiveLearnerTask
from ..registry import QueryStrategy
from .calibration import calibrate_classifier
from .rounds import RoundScores

__all__ = ('LightningPoolLearner', 'PoolScoreWriter')


class PoolScoreWriter(BasePredictionWriter):
    """Collects per-item scores during ``trainer.predict`` without keeping outputs.

    Only the pool index and one float per item stay in memory; embeddings (for
    the diversity strategy) are appended to a file per process and assembled into
    a memory-mapped ``[N_pool, D]`` array. With several devices the indices and
    scores are gathered from all processes.
    """

    def __init__(
        self, folder: Path, pool_size: int, name: str, trim_every: int = 8
    ) -> None:
        """Initialize a new PoolScoreWriter.

        Args:
            folder: folder for the embedding files.
            pool_size: number of pool items (rows of the embedding array).
            name: base name of the files, e.g. ``round003``.
            trim_every: give freed memory back to the OS every this many batches
                (see :func:`~torchgeo_als4gan.runtime.release_free_memory`).
        """
        super().__init__(write_interval='batch')
        self.folder = folder
        self.pool_size = pool_size
        self.name = name
        self.trim_every = trim_every
        self.indices: list[torch.Tensor] = []
        self.scores: list[torch.Tensor] = []
        self.dim = 0
        self.rank = 0
        self.world_size = 1
        self.result: RoundScores | None = None

    def _raw(self, rank: int) -> Path:
        return self.folder / f'.embeddings_{self.name}_rank{rank}.f32'

    def on_predict_start(self, trainer: Trainer, pl_module: Any) -> None:
        """Reset the buffers and the embedding file.

        Args:
            trainer: the trainer.
            pl_module: the model.
        """
        self.indices, self.scores, self.dim = [], [], 0
        self.rank, self.world_size = trainer.global_rank, trainer.world_size
        self.folder.mkdir(parents=True, exist_ok=True)
        self._raw(self.rank).unlink(missing_ok=True)

    def write_on_batch_end(
        self,
        trainer: Trainer,
        pl_module: Any,
        prediction: Any,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        """Keep the batch's indices and scores; append its embeddings to disk.

        Args:
            trainer: the trainer.
            pl_module: the model.
            prediction: ``predict_step`` output with ``index`` and ``score`` /
                ``embedding``.
            batch_indices: unused.
            batch: unused.
            batch_idx: unused.
            dataloader_idx: unused.
        """
        self.indices.append(prediction['index'].detach().cpu())
        if 'score' in prediction:
            self.scores.append(prediction['score'].detach().double().cpu())
        if batch_idx % self.trim_every == 0:
            release_free_memory()
        if 'embedding' in prediction:
            embedding = prediction['embedding'].detach().float().cpu().numpy()
            self.dim = embedding.shape[1]
            with self._raw(self.rank).open('ab') as f:
                f.write(np.ascontiguousarray(embedding).tobytes())

    def on_predict_epoch_end(self, trainer: Trainer, pl_module: Any) -> None:
        """Gather indices and scores of all processes; assemble the embeddings.

        Args:
            trainer: the trainer.
            pl_module: the model.
        """
        indices = torch.cat(self.indices) if self.indices else torch.zeros(0)
        scores = torch.cat(self.scores) if self.scores else None
        per_rank = [indices.long()]
        if trainer.world_size > 1:
            per_rank = list(pl_module.all_gather(indices.long()).cpu())
            if scores is not None:
                scores = pl_module.all_gather(scores).cpu().reshape(-1)
        all_indices = torch.cat(per_rank).numpy()
        unique, first = np.unique(all_indices, return_index=True)
        result = RoundScores(unique.astype(np.int64))
        if scores is not None:
            result.scores = scores.numpy()[first].astype(np.float64)
        if self.dim:
            result.embeddings = self._assemble(trainer, [p.numpy() for p in per_rank])
        self.result = result

    def _assemble(
        self, trainer: Trainer, per_rank: list[NDArray[np.int64]]
    ) -> NDArray[np.float32]:
        """Write the ``[N_pool, D]`` embedding memmap from every process's file."""
        trainer.strategy.barrier()
        path = self.folder / f'embeddings_{self.name}.npy'
        if trainer.is_global_zero:
            with atomic_write(path) as tmp:
                shape = (self.pool_size, self.dim)
                out = np.lib.format.open_memmap(tmp, 'w+', np.float32, shape)
                for rank, indices in enumerate(per_rank):
                    raw = np.memmap(self._raw(rank), dtype=np.float32, mode='r')
                    rows = raw.reshape(-1, self.dim)
                    for start in range(0, len(indices), 4096):
                        chunk = indices[start : start + 4096]
                        out[chunk] = rows[start : start + len(chunk)]
                    del raw, rows
                out.flush()
                del out
            for rank in range(len(per_rank)):
                self._raw(rank).unlink(missing_ok=True)
        trainer.strategy.barrier()
        embeddings: NDArray[np.float32] = np.load(path, mmap_mode='r')
        return embeddings


class LightningPoolLearner:
    """Implements :class:`~torchgeo_als4gan.active.query.PoolLearner` with Lightning.

    Each round gets a fresh Trainer (from ``make_trainer``) and a fresh model
    (from ``make_model``) warm-started from the previous round's checkpoint; all
    random generators are seeded with ``seed + round``, so a resumed run repeats
    the rounds of an uninterrupted one exactly.
    """

    def __init__(
        self,
        pool: QueryPool,
        make_model: Callable[[], ActiveLearnerTask],
        make_trainer: Callable[[str, list[Callback]], Trainer],
        make_datamodule: Callable[[int, Sequence[int], Sequence[int]], PoolDataModule],
        strategy: QueryStrategy,
        state_dir: Path,
        uncertainty: QueryStrategy | None = None,
        seed: int = 0,
        calibration: QueryPool | None = None,
        label_key: str = 'label',
        batch_size: int = 16,
    ) -> None:
        """Initialize a new LightningPoolLearner.

        Args:
            pool: the pool.
            make_model: returns a new, untrained classifier.
            make_trainer: returns a Trainer for a run name and extra callbacks.
            make_datamodule: returns the datamodule of a round for the items to
                train on and the items to score.
            strategy: the query strategy.
            state_dir: folder for embeddings.
            uncertainty: uncertainty combined with ``diversity``.
            seed: base seed.
            calibration: held-out labelled items (the val split): each scoring
                round first fits the classifier's temperature on them
                (:func:`~.calibration.calibrate_classifier`); None: no scaling.
            label_key: the items' label (``label`` or ``label_multi``).
            batch_size: items per forward when calibrating.
        """
        self.pool = pool
        self.make_model = make_model
        self.make_trainer = make_trainer
        self.make_datamodule = make_datamodule
        self.strategy = strategy
        self.uncertainty = uncertainty
        self.state_dir = state_dir
        self.seed = seed
        self.calibration = calibration
        self.label_key = label_key
        self.batch_size = batch_size

    def _model(self, checkpoint: Path | None) -> ActiveLearnerTask:
        model = self.make_model()
        if checkpoint is not None:
            state = read_checkpoint(checkpoint, 'round checkpoint')
            model.load_state_dict(state['state_dict'])
        return model

    def fit(
        self, round_: int, labeled: Sequence[int], init: Path | None, save: Path
    ) -> None:
        """Train on the selected items and save the classifier.

        Args:
            round_: the round.
            labeled: selected pool indices.
            init: checkpoint to start from (None: fresh model).
            save: checkpoint to write (atomically).
        """
        seed_everything(self.seed + round_, workers=True, verbose=False)
        model = self._model(init)
        trainer = self.make_trainer(f'round{round_:03d}_fit', [])
        if trainer.is_global_zero:
            print(f'[als4gan query] round {round_}: training on {len(labeled)} items')
        with warnings.catch_warnings():
            # the classifier trains on the pool without validation, by design
            warnings.filterwarnings(
                'ignore',
                message='.*defined a `validation_step` but have no `val_dataloader`',
            )
            trainer.fit(model, self.make_datamodule(round_, labeled, []))
        tmp = atomic_path(save)
        trainer.save_checkpoint(tmp)
        if trainer.is_global_zero:
            os.replace(tmp, save)
        trainer.strategy.barrier()

    def score(self, round_: int, items: Sequence[int], checkpoint: Path) -> RoundScores:
        """Score items with a saved classifier, streaming them through predict.

        Args:
            round_: the round.
            items: pool indices to score.
            checkpoint: the classifier.

        Returns:
            The scores (and embeddings).
        """
        seed_everything(self.seed + round_, workers=True, verbose=False)
        model = self._model(checkpoint)
        model.query_strategy = self.strategy
        model.query_uncertainty = self.uncertainty
        model.query_seed = self.seed + round_
        writer = PoolScoreWriter(self.state_dir, len(self.pool), f'round{round_:03d}')
        trainer = self.make_trainer(f'round{round_:03d}_score', [writer])
        if self.calibration is not None:  # the same fit in every process
            report = self.state_dir / f'calibration_round{round_:03d}.json'
            fit = calibrate_classifier(
                model, self.calibration, self.label_key, self.batch_size,
                report if trainer.is_global_zero else None,
            )  # fmt: skip
            if trainer.is_global_zero:
                print(
                    f'[als4gan query] round {round_}: temperature'
                    f' {fit["temperature"]:.3f} [{fit["temperature_low"]:.3f},'
                    f' {fit["temperature_high"]:.3f}] fitted on {fit["val_items"]} val'
                    f' items (ECE {fit["ece_before"]:.3f} -> {fit["ece_after"]:.3f})'
                )
        if trainer.is_global_zero:
            print(f'[als4gan query] round {round_}: scoring {len(items)} pool items')
        trainer.predict(
            model, datamodule=self.make_datamodule(round_, [], items),
            return_predictions=False,
        )  # fmt: skip
        assert writer.result is not None
        return writer.result
