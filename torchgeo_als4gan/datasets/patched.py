"""Base class for NonGeo segmentation datasets read in patches (windows)."""

import abc
import logging
import os
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from matplotlib.figure import Figure
from numpy.typing import NDArray
from torch import Tensor
from torchgeo.datasets import NonGeoDataset

from ..checks import check_positive, check_window_size
from .plotting import plot_segmentation
from .raster_io import raster_header, read_window, resolve_bands
from .records import ImageRecord, NonGeoPatch, select_records
from .utils import grid_windows

__all__ = ('PatchedSegmentationDataset',)

logger = logging.getLogger(__name__)

_PATCH_ID = re.compile(r'(?P<image>.+)_r(?P<row>-?\d+)_c(?P<col>-?\d+)_p(?P<size>\d+)')


class PatchedSegmentationDataset(NonGeoDataset, abc.ABC):
    """Segmentation dataset over image files, indexed by patches.

    With ``patch_size=None`` every image is one sample of ``tile_size`` (the usual
    way to use UC Merced tiles, a few of which are not 256 x 256): smaller images
    are padded (image 0, mask ignore index) at the bottom and right, images larger
    by at most ``max_crop`` pixels are centre-cropped, and a larger excess is an
    error naming the file; one log line per dataset says how many were padded and
    cropped. With a
    ``patch_size`` every image is cut into a grid of ``patch_size`` windows with
    ``stride``; windows at the right and bottom edges reach past the image and are
    padded with the ignore index rather than dropped. Arbitrary windows can be read
    by indexing with a :class:`NonGeoPatch`, which is what the patch samplers yield.

    ``bands`` selects bands by 1-based index or band description (as TorchGeo's
    ``RasterDataset.bands`` does by name); every image must give the same number
    of bands.

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
        split_file: str | os.PathLike[str] | Sequence[str] | None = None,
        split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
        patch_size: int | None = None,
        stride: int | None = None,
        tile_size: int | None = 256,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        bands: Sequence[int | str] | None = None,
        max_crop: int = 8,
    ) -> None:
        """Initialize a new dataset.

        Args:
            root: root directory of the dataset.
            split: one of ``train``, ``val``, ``test`` or ``all``.
            split_file: text file listing the ids of this split, one per line (the
                ALS4GAN format), or the list of ids itself; overrides the seeded
                split.
            split_fractions: train/val/test fractions of the seeded split.
            split_seed: seed of the split (stratified by scene class when known).
            patch_size: side of the grid patches, or None for whole images.
            stride: grid stride (defaults to ``patch_size``).
            tile_size: side of whole-image samples when ``patch_size`` is None
                (None: the largest image side).
            transforms: function applied to each sample.
            bands: bands to read, as 1-based indexes or band descriptions
                (None: all bands).
            max_crop: whole images larger than ``tile_size`` by at most this
                many pixels are centre-cropped (UC Merced's ``harbor10`` is
                257 x 257); a larger excess is an error.

        Raises:
            DatasetNotFoundError: If no images are found under ``root``.
            ValueError: If an argument is out of range, an image and its mask
                differ in size, images give different band counts or an image is
                far larger than ``tile_size`` (the message names the files).
            OSError: If a file cannot be read (the message names it).
        """
        if split not in self.splits:
            msg = f'split must be one of {self.splits}, got {split!r}'
            raise ValueError(msg)
        check_positive('patch_size', patch_size, optional=True)
        check_positive('stride', stride, optional=True)
        check_positive('tile_size', tile_size, optional=True)
        if not isinstance(max_crop, int) or max_crop < 0:
            msg = f'max_crop must be a non-negative number of pixels, got {max_crop!r}'
            raise ValueError(msg)
        self.root = os.fspath(root)
        self.split = split
        self.patch_size = patch_size
        self.stride = stride if stride is not None else patch_size
        self.transforms = transforms
        self.bands = list(bands) if bands is not None else None
        self.max_crop = max_crop
        #: Context (location, date) by image id; set by the datamodule's
        #: ``context: true``, which adds ``metadata`` and ``metadata_valid``.
        self.context: Callable[[str], tuple[Tensor, Tensor]] | None = None

        records = self._find_records()
        self.records = select_records(
            records, self.split, split_file, split_fractions, split_seed, self.root
        )
        self.band_indexes: list[list[int] | None] = []
        self.shapes = []
        counts = []
        for record in self.records:
            height, width, indexes, count = self._check_files(record)
            self.shapes.append((height, width))
            self.band_indexes.append(indexes)
            counts.append(count)
        self.band_count = max(set(counts), key=counts.count, default=0)
        odd = [
            (r.image, c)
            for r, c in zip(self.records, counts, strict=True)
            if c != self.band_count
        ]
        if odd:
            groups = ', '.join(
                f'{n} band(s): {counts.count(n)} image(s), e.g.'
                f' {next(r.image for r, c in zip(self.records, counts, strict=True) if c == n)!r}'
                for n in sorted(set(counts), key=lambda n: (-counts.count(n), n))
            )
            msg = (
                f'The images of {self.split} do not all give the same number of'
                f' bands ({groups}): every image must give the same bands (select'
                ' them with bands)'
            )
            raise ValueError(msg)
        if tile_size is None:
            tile_size = max((max(shape) for shape in self.shapes), default=0)
        self.tile_size = tile_size
        if patch_size is None:
            self._check_tile_sizes()
        elif self.shapes:
            check_window_size(
                'patch_size', patch_size, max(h for h, _ in self.shapes),
                max(w for _, w in self.shapes), f'{type(self).__name__} at {self.root!r}',
                self.band_count, allow_padding=0,
            )  # fmt: skip
        self.patches = self._grid_patches()

    def _check_tile_sizes(self) -> None:
        """Refuse images far larger than ``tile_size``; log what is padded/cropped."""
        size = self.tile_size
        padded = cropped = offsize = 0
        for record, (height, width) in zip(self.records, self.shapes, strict=True):
            excess = max(height, width) - size
            if excess > self.max_crop:
                msg = (
                    f'Image {record.image!r} is {height}x{width}, larger than'
                    f' tile_size={size} by {excess} pixels (at most'
                    f' max_crop={self.max_crop} are centre-cropped): raise tile_size'
                    ' or max_crop, or set patch_size'
                )
                raise ValueError(msg)
            cropped += excess > 0
            padded += min(height, width) < size
            offsize += (height, width) != (size, size)
        if offsize:
            logger.info(
                '%s (%s): %d of %d images are not %dx%d: %d padded (image 0, mask'
                ' ignore index), %d centre-cropped',
                type(self).__name__, self.split, offsize,
                len(self.records), size, size, padded, cropped,
            )  # fmt: skip

    @abc.abstractmethod
    def _find_records(self) -> list[ImageRecord]:
        """Find every image of the dataset, sorted by id.

        Raises:
            DatasetNotFoundError: If no images are found.
        """

    @abc.abstractmethod
    def _decode_mask(self, array: NDArray[Any], path: str) -> NDArray[np.int64]:
        """Turn the raw mask bands (bands, h, w) of file ``path`` into class indices."""

    def _check_files(
        self, record: ImageRecord
    ) -> tuple[int, int, list[int] | None, int]:
        """Height, width, selected band indexes and band count of a record."""
        header = raster_header(record.image)
        height, width = header.height, header.width
        indexes = resolve_bands(self.bands, header, record.image, 'bands')
        if record.mask is not None:
            mask = raster_header(record.mask)
            if (mask.height, mask.width) != (height, width):
                msg = (
                    f'Image {record.image!r} is {height}x{width} but its mask'
                    f' {record.mask!r} is {mask.height}x{mask.width}'
                )
                raise ValueError(msg)
        count = header.bands if indexes is None else len(indexes)
        return height, width, indexes, count

    def _whole_patch(self, image: int) -> NonGeoPatch:
        """The whole-image sample of an image: padded, or centre-cropped if larger."""
        height, width = self.shapes[image]
        size = self.tile_size
        return NonGeoPatch(
            image, max((height - size) // 2, 0), max((width - size) // 2, 0), size
        )

    def _grid_patches(self) -> list[NonGeoPatch]:
        if self.patch_size is None:
            return [self._whole_patch(i) for i in range(len(self.records))]
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
        if self.patch_size is None and patch == self._whole_patch(patch.image):
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
            return self._whole_patch(index)
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
            ``label`` (long scalar), ``id`` (str) and, with a ``context``,
            ``metadata`` ([4]) and ``metadata_valid``.
        """
        patch = self.patches[index] if isinstance(index, int) else NonGeoPatch(*index)
        record = self.records[patch.image]
        size = patch.size
        data, (dr, dc) = read_window(
            record.image, patch.row, patch.col, size, size,
            self.band_indexes[patch.image],
        )  # fmt: skip
        image = torch.zeros((data.shape[0], size, size), dtype=torch.float32)
        h, w = data.shape[1:]
        image[:, dr : dr + h, dc : dc + w] = torch.from_numpy(data.astype(np.float32))
        sample: dict[str, Any] = {'image': image, 'id': self.patch_id(patch)}
        mask = self.read_mask(patch)
        if mask is not None:
            sample['mask'] = mask
        sample.update(self._labels(record, sample.get('mask')))
        if self.context is not None:
            sample['metadata'], sample['metadata_valid'] = self.context(record.id)
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def read_mask(self, index: int | NonGeoPatch) -> Tensor | None:
        """Read only the mask of a patch (no image).

        Args:
            index: position in the patch grid, or any :class:`NonGeoPatch`.

        Returns:
            Class indices [S, S] (ignore index outside the image), or None when
            the image has no mask.
        """
        patch = self.patches[index] if isinstance(index, int) else NonGeoPatch(*index)
        record = self.records[patch.image]
        if record.mask is None:
            return None
        size = patch.size
        raw, (mr, mc) = read_window(record.mask, patch.row, patch.col, size, size)
        mask = torch.full((size, size), self.ignore_index, dtype=torch.long)
        mh, mw = raw.shape[1:]
        mask[mr : mr + mh, mc : mc + mw] = torch.from_numpy(
            self._decode_mask(raw, record.mask)
        )
        return mask

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
