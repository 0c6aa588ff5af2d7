"""GeoTIFF outputs of a predicted raster, written window by window, then as COGs."""

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
import torch
from rasterio.crs import CRS
from rasterio.windows import Window
from torch import Tensor

from ..files import atomic_path

__all__ = (
    'CLASS_NODATA',
    'PredictionGeoTIFFs',
    'gdal_env',
    'output_paths',
    'valid_pixels',
)

#: Value of class pixels that were not predicted (input nodata).
CLASS_NODATA = 255

#: Limit of GDAL's block cache while writing, so memory does not grow with the
#: raster (GDAL's default is 5 % of the machine's memory).
GDAL_CACHE_BYTES = 64 * 2**20


def gdal_env() -> rasterio.Env:
    """GDAL settings for prediction: a block cache bounded by :data:`GDAL_CACHE_BYTES`.

    Returns:
        A rasterio environment to enter around reading and writing.
    """
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES)


def output_paths(
    folder: Path, stem: str, probabilities: bool, uncertainty: bool
) -> dict[str, Path]:
    """Files written for one input raster.

    Args:
        folder: output folder.
        stem: the input's file name without extension.
        probabilities: also write per-class probabilities.
        uncertainty: also write the uncertainty bands.

    Returns:
        ``classes`` -> ``<stem>_classes.tif`` and, when asked for,
        ``probabilities`` -> ``<stem>_probabilities.tif`` and ``uncertainty`` ->
        ``<stem>_uncertainty.tif``.
    """
    paths = {'classes': folder / f'{stem}_classes.tif'}
    if probabilities:
        paths['probabilities'] = folder / f'{stem}_probabilities.tif'
    if uncertainty:
        paths['uncertainty'] = folder / f'{stem}_uncertainty.tif'
    return paths


@dataclass(frozen=True)
class _Layer:
    """One output file: its bands, data type and how overviews are resampled."""

    descriptions: tuple[str, ...]
    dtype: str
    nodata: float
    resampling: str


class PredictionGeoTIFFs:
    """The GeoTIFFs of one predicted raster.

    Windows are written as they are blended into temporary tiled GeoTIFFs in the
    output folder; :meth:`commit` converts each into a compressed Cloud Optimized
    GeoTIFF (internal tiles + overviews) and only then renames it onto its final
    name. :meth:`abort` removes everything, so a failed prediction leaves no
    output behind.

    * classes: uint8 class indices, colour map and class names embedded (band
      description ``class``, tags ``classes``), :data:`CLASS_NODATA` where the
      input is nodata;
    * probabilities: float32, one band per class, named after it;
    * uncertainty: float32 ``entropy`` (normalized to [0, 1]) and, for S4GAN,
      ``discriminator_score`` (D's score of the tiles, blended like the
      predictions; low means the prediction looks unlike a real label map).
    """

    def __init__(
        self,
        paths: dict[str, Path],
        crs: CRS | None,
        transform: rasterio.Affine,
        width: int,
        height: int,
        classes: tuple[str, ...],
        colors: tuple[tuple[int, int, int], ...],
        with_score: bool = False,
    ) -> None:
        """Open the temporary files.

        Args:
            paths: final paths by kind, from :func:`output_paths`.
            crs: CRS of the outputs (the input's).
            transform: geotransform of the outputs (the input's).
            width: columns.
            height: rows.
            classes: class names.
            colors: RGB colour per class.
            with_score: add the discriminator's score to the uncertainty.

        Raises:
            ValueError: If there are more than 255 classes.
        """
        if len(classes) >= CLASS_NODATA:
            msg = f'at most {CLASS_NODATA - 1} classes fit a uint8 GeoTIFF, got {len(classes)}'
            raise ValueError(msg)
        self.paths = paths
        self.classes = classes
        self.layers: dict[str, _Layer] = {
            'classes': _Layer(('class',), 'uint8', CLASS_NODATA, 'nearest')
        }
        if 'probabilities' in paths:
            self.layers['probabilities'] = _Layer(
                classes, 'float32', math.nan, 'average'
            )
        if 'uncertainty' in paths:
            bands = ('entropy', 'discriminator_score') if with_score else ('entropy',)
            self.layers['uncertainty'] = _Layer(bands, 'float32', math.nan, 'average')
        self.temporary = {kind: atomic_path(path) for kind, path in paths.items()}
        self.datasets: dict[str, Any] = {}
        try:
            for kind, layer in self.layers.items():
                self.datasets[kind] = self._open(
                    kind, layer, crs, transform, width, height, colors
                )
        except Exception:
            self.abort()
            raise

    def _open(
        self,
        kind: str,
        layer: _Layer,
        crs: CRS | None,
        transform: rasterio.Affine,
        width: int,
        height: int,
        colors: tuple[tuple[int, int, int], ...],
    ) -> Any:
        profile = {
            'driver': 'GTiff', 'width': width, 'height': height,
            'count': len(layer.descriptions), 'dtype': layer.dtype, 'crs': crs,
            'transform': transform, 'nodata': layer.nodata, 'tiled': True,
            'blockxsize': 256, 'blockysize': 256, 'compress': 'deflate', 'zlevel': 1,
            'BIGTIFF': 'IF_SAFER',
        }  # fmt: skip
        dst = rasterio.open(self.temporary[kind], 'w', **profile)
        for band, description in enumerate(layer.descriptions, start=1):
            dst.set_band_description(band, description)
        if kind == 'classes':
            cmap = {i: (*color, 255) for i, color in enumerate(colors)}
            cmap[CLASS_NODATA] = (0, 0, 0, 0)
            dst.write_colormap(1, cmap)
            dst.update_tags(
                classes=json.dumps(list(self.classes)),
                **{f'class_{i}': name for i, name in enumerate(self.classes)},
            )
        return dst

    def write(
        self, row: int, col: int, probs: Tensor, score: Tensor | None, valid: Tensor
    ) -> None:
        """Write one finished window.

        Args:
            row: top row of the window.
            col: left column of the window.
            probs: blended class probabilities [C, h, w].
            score: blended discriminator score [h, w], or None.
            valid: [h, w] bool, False where the input is nodata.
        """
        height, width = probs.shape[1:]
        window = Window(col, row, width, height)
        invalid = ~valid.to(probs.device)
        # max(dim).indices: same first-maximum rule as argmax, and on the CPU
        # about 20x faster than argmax over the leading dimension.
        best = probs.max(dim=0).indices
        classes = best.to(torch.uint8).masked_fill(invalid, CLASS_NODATA)
        self.datasets['classes'].write(classes.cpu().numpy()[None], window=window)
        if 'probabilities' in self.datasets:
            out = probs.masked_fill(invalid, math.nan)
            self.datasets['probabilities'].write(out.cpu().numpy(), window=window)
        if 'uncertainty' in self.datasets:
            logs = probs.clamp_min(1e-12).log()
            entropy = -(probs * logs).sum(dim=0) / max(math.log(probs.shape[0]), 1e-12)
            bands = [entropy] if score is None else [entropy, score]
            out = torch.stack(bands).masked_fill(invalid, math.nan)
            self.datasets['uncertainty'].write(out.cpu().numpy(), window=window)

    def commit(self) -> dict[str, Path]:
        """Convert the temporary files to COGs and rename them onto the final names.

        Returns:
            Final paths by kind.
        """
        converted: dict[str, Path] = {}
        try:
            for kind, dst in self.datasets.items():
                dst.close()
                layer = self.layers[kind]
                cog = self.temporary[kind].with_name(
                    self.temporary[kind].stem + '.cog.tif'
                )
                converted[kind] = cog
                predictor = 'NO' if layer.dtype == 'uint8' else 'FLOATING_POINT'
                rasterio.shutil.copy(
                    self.temporary[kind], cog, driver='COG', COMPRESS='DEFLATE',
                    PREDICTOR=predictor, BLOCKSIZE=512, BIGTIFF='IF_SAFER',
                    OVERVIEW_RESAMPLING=layer.resampling.upper(),
                    NUM_THREADS='ALL_CPUS',
                )  # fmt: skip
                self.temporary[kind].unlink()
            for kind, cog in converted.items():
                os.replace(cog, self.paths[kind])
        finally:
            for cog in converted.values():
                cog.unlink(missing_ok=True)
            self.abort()
        return dict(self.paths)

    def abort(self) -> None:
        """Close and remove the temporary files (final names are never touched)."""
        for dst in self.datasets.values():
            if not dst.closed:
                dst.close()
        self.datasets = {}
        for path in self.temporary.values():
            path.unlink(missing_ok=True)


def valid_pixels(mask: np.ndarray[Any, Any]) -> Tensor:
    """Pixels with data, from a GDAL dataset mask (0 = nodata).

    Args:
        mask: [h, w] uint8 mask from ``dataset_mask``.

    Returns:
        [h, w] bool tensor.
    """
    return torch.from_numpy(mask != 0)
