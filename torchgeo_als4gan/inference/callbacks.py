"""Writing ``als4gan predict`` / ``trainer.predict`` outputs as GeoTIFFs."""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import rasterio
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch import Tensor

from ..datamodules.metadata import datamodule_classes
from ..datasets.plotting import default_colors
from ..files import check_output_folder
from ..models import rescale_to_unit
from ..samplers.tiles import RasterTileGeoSampler, TileGrid
from .distributed import RankSummary, gather_summaries
from .geotiff import PredictionGeoTIFFs, gdal_env, output_paths
from .sources import RasterSource, read_valid
from .tiling import StreamingBlender

__all__ = ('RasterPredictionWriter',)


class _FileState:
    """The file being predicted: its blender, writer and open source."""

    def __init__(
        self, path: str, grid: TileGrid, writer: PredictionGeoTIFFs, channels: int,
        device: torch.device,
    ) -> None:  # fmt: skip
        self.path = path
        self.grid = grid
        self.writer = writer
        self.blender = StreamingBlender(grid, channels, device)
        self.src = rasterio.open(path)
        self.source = RasterSource(
            Path(path),
            self.src.crs,
            self.src.transform,
            self.src.width,
            self.src.height,
        )

    def close(self) -> None:
        self.src.close()


class RasterPredictionWriter(BasePredictionWriter):
    """Blend ``predict`` tiles into one GeoTIFF per raster, as they arrive.

    Use with :class:`~torchgeo_als4gan.datamodules.GeoSegmentationDataModule`,
    whose ``predict`` stage yields every tile of ``predict_paths`` in order, e.g.
    ``als4gan predict --config configs/raster_s4gan.yaml --ckpt_path best.ckpt
    --data.init_args.predict_paths new.tif --trainer.callbacks+=
    torchgeo_als4gan.inference.RasterPredictionWriter
    --trainer.callbacks.output_dir predictions``. Outputs are the same as
    ``als4gan predict-raster`` (:class:`PredictionGeoTIFFs`), written to
    temporary files and renamed when a raster is complete. With several devices
    (``--trainer.devices N --trainer.strategy ddp``) each process predicts and
    writes whole rasters (see :class:`RasterTileGeoSampler`) and the first one
    logs what every process wrote.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike[str],
        probabilities: bool = False,
        uncertainty: bool = False,
        overwrite: bool = False,
    ) -> None:
        """Initialize a new RasterPredictionWriter.

        Args:
            output_dir: output folder.
            probabilities: also write per-class probabilities.
            uncertainty: also write entropy (and D's score for S4GAN tasks).
            overwrite: replace existing outputs.
        """
        super().__init__(write_interval='batch')
        self.output_dir = Path(output_dir)
        self.probabilities = probabilities
        self.uncertainty = uncertainty
        self.overwrite = overwrite
        self.written: list[dict[str, Path]] = []
        self._files: list[tuple[str, TileGrid, Any]] = []
        self._state: _FileState | None = None
        self._next_file = 0
        self._env: Any = None

    def on_predict_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule
    ) -> None:
        """Check the sampler and the outputs before the first batch.

        Args:
            trainer: the trainer.
            pl_module: the task.

        Raises:
            ValueError: If the predict sampler is not a RasterTileGeoSampler.
            FileExistsError: If an output of any process exists and
                ``overwrite`` is False.
        """
        datamodule = trainer.datamodule  # type: ignore[attr-defined]
        sampler = getattr(datamodule, 'predict_sampler', None)
        if not isinstance(sampler, RasterTileGeoSampler):
            msg = (
                'RasterPredictionWriter needs a datamodule whose predict sampler is a'
                ' RasterTileGeoSampler (e.g. GeoSegmentationDataModule)'
            )
            raise ValueError(msg)
        check_output_folder(self.output_dir, 'output_dir')
        for path, _, _ in sampler.all_files:  # every process checks every output
            paths = output_paths(
                self.output_dir, Path(path).stem, self.probabilities, self.uncertainty
            )
            existing = [p for p in paths.values() if p.exists()]
            if existing and not self.overwrite:
                msg = f'{os.fspath(existing[0])!r} exists; set overwrite to replace it'
                raise FileExistsError(msg)
        self._files = list(sampler.files)
        self._next_file = 0
        self.written = []
        classes = datamodule_classes(datamodule) or tuple(
            f'class_{i}' for i in range(pl_module.hparams['num_classes'])
        )
        self._classes = tuple(classes)
        colors = None
        scene = getattr(datamodule, 'scene', None)
        if scene is not None and len(getattr(scene, 'colors', ())) == len(classes):
            colors = tuple(scene.colors)
        self._colors = colors or default_colors(len(classes))
        self._env = gdal_env()
        self._env.__enter__()

    def _open_next(self, pl_module: pl.LightningModule, channels: int) -> _FileState:
        path, grid, transform = self._files[self._next_file]
        self._next_file += 1
        with rasterio.open(path) as src:
            crs = src.crs
        writer = PredictionGeoTIFFs(
            output_paths(self.output_dir, Path(path).stem, self.probabilities, self.uncertainty),
            crs, transform, grid.width, grid.height, self._classes, self._colors,
            hasattr(pl_module, 'discriminator'),
        )  # fmt: skip
        return _FileState(path, grid, writer, channels, pl_module.device)

    def write_on_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        prediction: Any,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Blend the batch's tiles and write the windows they finish.

        Args:
            trainer: the trainer.
            pl_module: the task.
            prediction: class probabilities [B, C, H, W] from ``predict_step``.
            batch_indices: unused.
            batch: the batch (normalized ``image``).
            batch_idx: index of the batch.
            dataloader_idx: index of the loader.
        """
        probs: Tensor = prediction.float()
        score = None
        discriminator = getattr(pl_module, 'discriminator', None)
        if discriminator is not None:
            with torch.inference_mode():
                logit, _ = discriminator(probs, rescale_to_unit(batch['image'].float()))
            score = logit.float().sigmoid().flatten()
        classes = probs.shape[1]
        for k in range(probs.shape[0]):
            if self._state is None:
                self._state = self._open_next(
                    pl_module, classes + int(score is not None)
                )
            state = self._state
            grid = state.grid
            values = probs[k, :, : grid.tile_height, : grid.tile_width]
            if score is not None:
                values = torch.cat(
                    [values, score[k].expand(1, grid.tile_height, grid.tile_width)]
                )
            window = state.blender.add(values)
            h, w = window.values.shape[1:]
            valid = read_valid(state.src, state.source, window.row, window.col, h, w)
            state.writer.write(
                window.row, window.col, window.values[:classes],
                window.values[classes] if score is not None else None, valid,
            )  # fmt: skip
            if state.blender.done:
                state.close()
                self.written.append(state.writer.commit())
                self._state = None

    def on_predict_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule
    ) -> None:
        """Release GDAL settings; every raster must be complete.

        Args:
            trainer: the trainer.
            pl_module: the task.

        Raises:
            RuntimeError: If the loop ended before the last tile (e.g.
                ``limit_predict_batches``); unfinished outputs are removed.
        """
        unfinished = self._state is not None or self._next_file < len(self._files)
        self._cleanup()
        if unfinished:
            msg = (
                'prediction ended before every tile was predicted (limit_predict_batches?);'
                ' unfinished rasters were not written'
            )
            raise RuntimeError(msg)
        if trainer.world_size > 1:
            summary = RankSummary(
                trainer.global_rank,
                [
                    (self._files[i][0], {k: os.fspath(v) for k, v in w.items()})
                    for i, w in enumerate(self.written)
                ],
            )  # fmt: skip
            summaries = gather_summaries(summary)
            if trainer.global_rank == 0:
                for line in (s.line() for s in summaries):
                    print(f'[RasterPredictionWriter] {line}')

    def on_exception(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        exception: BaseException,
    ) -> None:
        """Remove temporary files of the unfinished raster.

        Args:
            trainer: the trainer.
            pl_module: the task.
            exception: what went wrong.
        """
        self._cleanup()

    def _cleanup(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state.writer.abort()
            self._state = None
        if self._env is not None:
            self._env.__exit__(None, None, None)
            self._env = None
