"""A folder of image tiles with a parallel folder of index masks."""

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from numpy.typing import NDArray
from torchgeo.datasets import DatasetNotFoundError

from ..checks import check_class_names
from .patched import PatchedSegmentationDataset
from .records import ImageRecord

__all__ = ('SegmentationTileFolder',)

_EXTENSIONS = {'.tif', '.tiff', '.png', '.jpg', '.jpeg', '.jp2', '.bmp', '.img'}


class SegmentationTileFolder(PatchedSegmentationDataset):
    """Your own tiles: ``<root>/<image_dir>/...`` with masks under ``<root>/<mask_dir>/...``.

    Images and masks are paired by relative path without extension, so
    ``images/a/tile_001.jpg`` pairs with ``masks/a/tile_001.png``. Any format rasterio
    reads works (TIFF, PNG, JPEG, ...), with any band count. With
    ``class_subfolders=True`` the first folder level names the scene class of each
    tile, which becomes ``label`` (for the active learner).

    Masks hold class indices ``0 .. len(classes) - 1``; ``ignore_value`` becomes
    the ignore index (255). Any other value is ignored too, with a warning naming
    the first mask holding one. Tiles of slightly different sizes are padded to
    ``tile_size`` (default: the largest tile side) rather than rejected. Ids are
    relative paths without extension (``town/tile_0``).
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = 'data/tiles',
        classes: Sequence[str] = ('background', 'foreground'),
        colors: Sequence[Sequence[int]] | None = None,
        ignore_value: int | None = None,
        image_dir: str = 'images',
        mask_dir: str = 'masks',
        class_subfolders: bool = False,
        split: str = 'train',
        split_file: str | os.PathLike[str] | Sequence[str] | None = None,
        split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
        patch_size: int | None = None,
        stride: int | None = None,
        tile_size: int | None = None,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        bands: Sequence[int | str] | None = None,
        max_crop: int = 8,
    ) -> None:
        """Initialize a new SegmentationTileFolder instance.

        Args:
            root: dataset folder.
            classes: segmentation class names, in mask-value order.
            colors: RGB colour per class for ``plot`` (default: a qualitative map).
            ignore_value: mask value meaning "no label" (mapped to 255).
            image_dir: sub-folder of ``root`` with the images.
            mask_dir: sub-folder of ``root`` with the masks.
            class_subfolders: the first folder level under ``image_dir`` names the
                scene class of the tile.
            split: ``train``, ``val``, ``test`` or ``all``.
            split_file: id list for this split; ids are relative paths without
                extension (``a/tile_001``).
            split_fractions: train/val/test fractions of the seeded split.
            split_seed: seed of the split (stratified by scene class if known).
            patch_size: side of grid patches, or None for whole tiles.
            stride: grid stride (defaults to ``patch_size``).
            tile_size: whole tiles are padded to this size (None: largest side).
            transforms: function applied to each sample.
            bands: bands to read, as 1-based indexes or band descriptions
                (None: all).
            max_crop: whole tiles larger than ``tile_size`` by at most this many
                pixels are centre-cropped.

        Raises:
            DatasetNotFoundError: If ``root/image_dir`` holds no image.
            FileNotFoundError: If a tile has no mask (the message names it).
            ValueError: If there are fewer than two classes or ``colors`` does
                not match ``classes``.
        """
        if isinstance(classes, str) or len(classes) < 2:
            msg = (
                f'classes must name at least two classes in mask-value order (e.g.'
                f' [background, building]), got {classes!r}'
            )
            raise ValueError(msg)
        self.classes = tuple(classes)
        check_class_names(self.classes)
        if colors is None:
            cmap = matplotlib.colormaps['tab20']
            colors = [
                [int(255 * v) for v in cmap(i % 20)[:3]] for i in range(len(classes))
            ]
        if len(colors) != len(self.classes):
            msg = (
                f'colors has {len(colors)} entries but classes has {len(self.classes)}'
            )
            raise ValueError(msg)
        self.colors = tuple((int(c[0]), int(c[1]), int(c[2])) for c in colors)
        self.ignore_value = ignore_value
        self.image_dir = image_dir
        self.mask_dir = mask_dir
        self.class_subfolders = class_subfolders
        self._warned_values = False
        super().__init__(
            root, split, split_file, split_fractions, split_seed, patch_size, stride,
            tile_size, transforms, bands, max_crop,
        )  # fmt: skip

    @staticmethod
    def _index(folder: Path) -> dict[str, Path]:
        files = {}
        for path in sorted(folder.rglob('*')):
            if path.is_file() and path.suffix.lower() in _EXTENSIONS:
                files[path.relative_to(folder).with_suffix('').as_posix()] = path
        return files

    def _find_records(self) -> list[ImageRecord]:
        images = self._index(Path(self.root, self.image_dir))
        if not images:
            top = (
                sorted(
                    p.name
                    for p in Path(self.root).iterdir()
                    if p.suffix.lower() in _EXTENSIONS
                )
                if Path(self.root).is_dir()
                else []
            )
            if top:
                msg = (
                    f'{self.root!r} holds {len(top)} image file(s) at its top level'
                    f' (e.g. {top[0]!r}) but a tile folder keeps tiles in'
                    f' {self.image_dir}/ and their masks under the same names in'
                    f' {self.mask_dir}/ (set image_dir / mask_dir if they are'
                    ' elsewhere)'
                )
                raise ValueError(msg)
            raise DatasetNotFoundError(self)
        masks = self._index(Path(self.root, self.mask_dir))
        missing = [str(images[key]) for key in images if key not in masks]
        if missing:
            msg = (
                f'{len(missing)} tiles have no mask under'
                f' {os.path.join(self.root, self.mask_dir)!r}, e.g. {missing[:3]}'
            )
            raise FileNotFoundError(msg)
        scenes = sorted({key.split('/')[0] for key in images if '/' in key})
        if self.class_subfolders:
            self.scene_classes = tuple(scenes)
        records = []
        for key, path in images.items():
            label = -1
            if self.class_subfolders and '/' in key:
                label = self.scene_classes.index(key.split('/')[0])
            records.append(ImageRecord(key, str(path), str(masks[key]), label))
        return records

    def _decode_mask(self, array: NDArray[Any], path: str) -> NDArray[np.int64]:
        values = array[0]
        out = self._map_values(values)
        expected = out != self.ignore_index
        if self.ignore_value is not None:
            is_ignore = values == self.ignore_value
            out[is_ignore] = self.ignore_index
            expected |= is_ignore
        if not self._warned_values and not expected.all():
            self._warned_values = True
            bad = np.unique(values[~expected])
            warnings.warn(
                f'Mask {path!r} holds values {bad[:8].tolist()} that are neither'
                f' class indices 0..{len(self.classes) - 1} ({list(self.classes)})'
                f' nor ignore_value ({self.ignore_value}); those pixels are ignored'
                ' (warned once per dataset)',
                UserWarning,
                stacklevel=2,
            )
        return out
