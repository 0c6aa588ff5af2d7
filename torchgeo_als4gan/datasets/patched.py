"""Base class for NonGeo segmentation datasets read in patches (windows)."""

import abc
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
from matplotlib.figure import Figure
from numpy.typing import NDArray
from torch import Tensor
from torchgeo.datasets import NonGeoDataset

from .plotting import plot_segmentation
from .utils import (
    grid_windows,
    raster_shape,
    read_id_list,
    read_window,
    stratified_split,
)

__all__ = ('ImageRecord', 'NonGeoPatch', 'PatchedSegmentationDataset')

_PATCH_ID = re.compile(r'(?P<image>.+)_r(?P<row>-?\d+)_c(?P<col>-?\d+)_p(?P<size>\d+)')


class NonGeoPatch(NamedTuple):
    """A square window of one image of a NonGeo dataset.

    ``row`` and ``col`` may be negative or reach past the image: the outside part is
    padded (image with 0, mask with the ignore index).
    """

    #: Index of the image in ``dataset.records``.
    image: int
    #: Top row of the window in image pixels.
    row: int
    #: Left column of the window in image pixels.
    col: int
    #: Side of the window in pixels.
    size: int


@dataclass(frozen=True)
class ImageRecord:
    """One image file of a dataset, with its optional mask and scene label."""

    #: Stable id, e.g. ``agricultural05``.
    id: str
    #: Path of the image file.
    image: str
    #: Path of the index mask, or None when the image is unlabelled.
    mask: str | None = None
    #: Scene class index, or -1 when the image has none.
    label: int = -1


class PatchedSegmentationDataset(NonGeoDataset, abc.ABC):
    """Segmentation dataset over image files, indexed by patches.

    With ``patch_size=None`` every image is one sample, padded to ``tile_size`` (the
    usual way to use UC Merced tiles, a few of which are not 256 x 256). With a
    ``patch_size`` every image is cut into a grid of ``patch_size`` windows with
    ``stride``; windows at the right and bottom edges reach past the image and are
    padded with the ignore index rather than dropped. Arbitrary windows can be read
    by indexing with a :class:`NonGeoPatch`, which is what the patch samplers yield.

    Subclasses find their files in ``_find_records`` and decode their masks in
    ``_decode_mask``.
    """

    #: Names of the segmentation classes, index order.
    classes: tuple[str, ...] = ()
    #: RGB colour of each segmentation class, for ``plot``.
    colors: tuple[tuple[int, int, int], ...] = ()
    #: Names of the scene (image-level) classes, when the dataset has them.
    scene_classes: tuple[str, ...] = ()
    #: Mask value of pixels without a label (padding, unknown, unmapped values).
    ignore_index: ClassVar[int] = 255
    #: Valid values of ``split``.
    splits: ClassVar[tuple[str, ...]] = ('train', 'val', 'test', 'all')

    @property
    def label_classes(self) -> tuple[str, ...]:
        """Classes of the image-level ``label``: scene classes, else mask classes."""
        return self.scene_classes or self.classes

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = 'train',
        split_file: str | os.PathLike[str] | None = None,
        split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
        patch_size: int | None = None,
        stride: int | None = None,
        tile_size: int | None = 256,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        """Initialize a new dataset.

        Args:
            root: root directory of the dataset.
            split: one of ``train``, ``val``, ``test`` or ``all``.
            split_file: text file listing the ids of this split, one per line (the
                ALS4GAN format); overrides the seeded split.
            split_fractions: train/val/test fractions of the seeded split.
            split_seed: seed of the split (stratified by scene class when known).
            patch_size: side of the grid patches, or None for whole images.
            stride: grid stride (defaults to ``patch_size``).
            tile_size: size whole images are padded to when ``patch_size`` is None
                (None: the largest image side).
            transforms: function applied to each sample.

        Raises:
            DatasetNotFoundError: If no images are found under ``root``.
            ValueError: If an argument is out of range, or an image and its mask
                differ in size (the message names both files).
            OSError: If a file cannot be read (the message names it).
        """
        if split not in self.splits:
            msg = f'split must be one of {self.splits}, got {split!r}'
            raise ValueError(msg)
        if patch_size is not None and patch_size <= 0:
            msg = f'patch_size must be a positive number of pixels, got {patch_size}'
            raise ValueError(msg)
        if stride is not None and stride <= 0:
            msg = f'stride must be a positive number of pixels, got {stride}'
            raise ValueError(msg)
        self.root = os.fspath(root)
        self.split = split
        self.patch_size = patch_size
        self.stride = stride or patch_size
        self.transforms = transforms

        records = self._find_records()
        self.records = self._select_split(
            records, split_file, split_fractions, split_seed
        )
        self.shapes = [self._check_shapes(record) for record in self.records]
        if tile_size is None:
            tile_size = max((max(shape) for shape in self.shapes), default=0)
        self.tile_size = tile_size
        if patch_size is None:
            for record, (height, width) in zip(self.records, self.shapes, strict=False):
                if height > tile_size or width > tile_size:
                    msg = (
                        f'Image {record.image!r} is {height}x{width}, larger than'
                        f' tile_size={tile_size}: raise tile_size or set patch_size'
                    )
                    raise ValueError(msg)
        self.patches = self._grid_patches()

    @abc.abstractmethod
    def _find_records(self) -> list[ImageRecord]:
        """Find every image of the dataset, sorted by id.

        Raises:
            DatasetNotFoundError: If no images are found.
        """

    @abc.abstractmethod
    def _decode_mask(self, array: NDArray[Any]) -> NDArray[np.int64]:
        """Turn the raw mask bands (bands, h, w) into class indices (h, w)."""

    def _select_split(
        self,
        records: list[ImageRecord],
        split_file: str | os.PathLike[str] | None,
        fractions: Sequence[float],
        seed: int,
    ) -> list[ImageRecord]:
        if split_file is not None:
            wanted = read_id_list(split_file)
            by_id = {record.id: record for record in records}
            missing = [i for i in wanted if i not in by_id]
            if missing:
                msg = (
                    f'{len(missing)} ids in split file {os.fspath(split_file)!r} are'
                    f' not in the dataset at {self.root!r}, e.g. {missing[:5]}'
                )
                raise ValueError(msg)
            return [by_id[i] for i in wanted]
        if self.split == 'all':
            return records
        split = stratified_split([r.label for r in records], fractions, seed)
        return [records[i] for i in split[self.split]]

    def _check_shapes(self, record: ImageRecord) -> tuple[int, int]:
        _, height, width = raster_shape(record.image)
        if record.mask is not None:
            _, mask_height, mask_width = raster_shape(record.mask)
            if (mask_height, mask_width) != (height, width):
                msg = (
                    f'Image {record.image!r} is {height}x{width} but its mask'
                    f' {record.mask!r} is {mask_height}x{mask_width}'
                )
                raise ValueError(msg)
        return height, width

    def _grid_patches(self) -> list[NonGeoPatch]:
        if self.patch_size is None:
            return [
                NonGeoPatch(i, 0, 0, self.tile_size) for i in range(len(self.records))
            ]
        size, stride = self.patch_size, self.stride or self.patch_size
        patches = []
        for i, (height, width) in enumerate(self.shapes):
            for row, col in grid_windows(height, width, size, stride):
                patches.append(NonGeoPatch(i, row, col, size))
        return patches

    def patch_id(self, patch: NonGeoPatch) -> str:
        """Return the stable id of a patch.

        Whole-image samples use the image id (``agricultural05``), as ALS4GAN does;
        windows use ``<image id>_r<row>_c<col>_p<size>``.

        Args:
            patch: the patch.

        Returns:
            The id string.
        """
        image_id = self.records[patch.image].id
        if self.patch_size is None and patch == NonGeoPatch(
            patch.image, 0, 0, self.tile_size
        ):
            return image_id
        return f'{image_id}_r{patch.row}_c{patch.col}_p{patch.size}'

    def patch_from_id(self, patch_id: str) -> NonGeoPatch:
        """Inverse of :meth:`patch_id`.

        Args:
            patch_id: an image id or ``<image id>_r<row>_c<col>_p<size>``.

        Returns:
            The patch.

        Raises:
            KeyError: If the image is not in this dataset (split).
        """
        match = _PATCH_ID.fullmatch(patch_id)
        image_id = match['image'] if match else patch_id
        index = self._index_of_id().get(image_id)
        if index is None:
            raise KeyError(patch_id)
        if match is None:
            if self.patch_size is not None:
                raise KeyError(patch_id)
            return NonGeoPatch(index, 0, 0, self.tile_size)
        return NonGeoPatch(
            index, int(match['row']), int(match['col']), int(match['size'])
        )

    def _index_of_id(self) -> dict[str, int]:
        if not hasattr(self, '_id_index'):
            self._id_index = {record.id: i for i, record in enumerate(self.records)}
        return self._id_index

    @property
    def ids(self) -> list[str]:
        """Ids of the grid patches, in index order."""
        return [self.patch_id(patch) for patch in self.patches]

    def __len__(self) -> int:
        """Return the number of grid patches.

        Returns:
            Length of the dataset.
        """
        return len(self.patches)

    def __getitem__(self, index: int | NonGeoPatch) -> dict[str, Any]:
        """Return one patch.

        Args:
            index: position in the patch grid, or any :class:`NonGeoPatch`.

        Returns:
            ``image`` (float [C, S, S]), ``mask`` (long [S, S], when labelled),
            ``label`` (long scalar) and ``id`` (str).
        """
        patch = self.patches[index] if isinstance(index, int) else NonGeoPatch(*index)
        record = self.records[patch.image]
        size = patch.size
        data, (dr, dc) = read_window(record.image, patch.row, patch.col, size, size)
        image = torch.zeros((data.shape[0], size, size), dtype=torch.float32)
        h, w = data.shape[1:]
        image[:, dr : dr + h, dc : dc + w] = torch.from_numpy(data.astype(np.float32))
        sample: dict[str, Any] = {'image': image, 'id': self.patch_id(patch)}
        if record.mask is not None:
            raw, (mr, mc) = read_window(record.mask, patch.row, patch.col, size, size)
            mask = torch.full((size, size), self.ignore_index, dtype=torch.long)
            mh, mw = raw.shape[1:]
            decoded = torch.from_numpy(self._decode_mask(raw))
            mask[mr : mr + mh, mc : mc + mw] = decoded
            sample['mask'] = mask
        sample.update(self._labels(record, sample.get('mask')))
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _labels(self, record: ImageRecord, mask: Tensor | None) -> dict[str, Tensor]:
        """Image-level labels of a patch; by default the record's scene class."""
        return {'label': torch.tensor(record.label, dtype=torch.long)}

    def _map_values(self, values: NDArray[Any], offset: int = 0) -> NDArray[np.int64]:
        """Map mask values ``offset .. offset + C - 1`` to ``0 .. C - 1``, rest to ignore."""
        out = values.astype(np.int64) - offset
        out[(out < 0) | (out >= len(self.classes))] = self.ignore_index
        return out

    def plot(
        self,
        sample: dict[str, Any],
        show_titles: bool = True,
        suptitle: str | None = None,
    ) -> Figure:
        """Plot a sample: image, mask and, when present, prediction.

        Args:
            sample: a sample returned by ``__getitem__`` (may hold ``prediction``).
            show_titles: whether to title each panel.
            suptitle: optional title of the figure.

        Returns:
            The figure.
        """
        return plot_segmentation(
            sample, self.classes, self.colors, show_titles, suptitle, self.ignore_index
        )
