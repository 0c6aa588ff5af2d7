"""Patch samplers for NonGeo datasets: they yield windows (:class:`NonGeoPatch`)."""

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from ..checks import check_positive
from ..datasets.patched import PatchedSegmentationDataset
from ..datasets.records import NonGeoPatch
from ..datasets.utils import grid_windows

__all__ = ('GridPatchSampler', 'PatchSubsetSampler', 'RandomPatchSampler')


class GridPatchSampler(Sampler[NonGeoPatch]):
    """Grid of ``size`` windows with ``stride`` over every image of a dataset.

    Windows at the right and bottom edges reach past the image when its size is not
    a multiple of the stride; the dataset pads them with the ignore index.
    """

    def __init__(
        self,
        dataset: PatchedSegmentationDataset,
        size: int,
        stride: int | None = None,
        images: Sequence[int] | None = None,
    ) -> None:
        """Initialize a new GridPatchSampler.

        Args:
            dataset: dataset to sample from.
            size: window side in pixels.
            stride: step between windows (defaults to ``size``).
            images: restrict to these image indices (default: all).
        """
        check_positive('size', size)
        stride = check_positive('stride', stride, optional=True) or size
        images = range(len(dataset.records)) if images is None else images
        self.patches = [
            NonGeoPatch(i, row, col, size)
            for i in images
            for row, col in grid_windows(*dataset.shapes[i], size, stride)
        ]

    def __iter__(self) -> Iterator[NonGeoPatch]:
        """Yield the windows in row-major order, image by image.

        Yields:
            Windows.
        """
        yield from self.patches

    def __len__(self) -> int:
        """Return the number of windows.

        Returns:
            Number of windows.
        """
        return len(self.patches)


class RandomPatchSampler(Sampler[NonGeoPatch]):
    """Random ``size`` windows, images chosen in proportion to their area.

    Windows lie inside the image whenever the image is at least ``size`` wide and
    high; smaller images give a window at (0, 0) that is padded.
    """

    def __init__(
        self,
        dataset: PatchedSegmentationDataset,
        size: int,
        length: int,
        images: Sequence[int] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        """Initialize a new RandomPatchSampler.

        Args:
            dataset: dataset to sample from.
            size: window side in pixels.
            length: number of windows per epoch.
            images: restrict to these image indices (default: all).
            generator: random generator (seed it for reproducible windows).

        Raises:
            ValueError: If ``size`` or ``length`` is not positive or no image is given.
        """
        if size <= 0 or length <= 0:
            msg = f'size and length must be positive, got size={size}, length={length}'
            raise ValueError(msg)
        self.images = list(range(len(dataset.records)) if images is None else images)
        if not self.images:
            msg = 'RandomPatchSampler needs at least one image'
            raise ValueError(msg)
        self.shapes = [dataset.shapes[i] for i in self.images]
        self.size = size
        self.length = length
        self.generator = generator
        self.weights = torch.tensor([float(h * w) for h, w in self.shapes])

    def __iter__(self) -> Iterator[NonGeoPatch]:
        """Yield random windows.

        Yields:
            Windows.
        """
        picks = torch.multinomial(
            self.weights, self.length, replacement=True, generator=self.generator
        )
        for pick in picks.tolist():
            height, width = self.shapes[pick]
            offsets = torch.rand(2, generator=self.generator)
            row = int(offsets[0] * (max(height - self.size, 0) + 1))
            col = int(offsets[1] * (max(width - self.size, 0) + 1))
            yield NonGeoPatch(self.images[pick], row, col, self.size)

    def __len__(self) -> int:
        """Return the number of windows per epoch.

        Returns:
            ``length``.
        """
        return self.length


class PatchSubsetSampler(Sampler[NonGeoPatch]):
    """Only the given patches, e.g. the labelled set chosen by active learning."""

    def __init__(
        self,
        patches: Sequence[NonGeoPatch],
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        """Initialize a new PatchSubsetSampler.

        Args:
            patches: the patches to yield.
            shuffle: yield them in a new random order every epoch.
            generator: random generator used when shuffling.
        """
        self.patches = list(patches)
        self.shuffle = shuffle
        self.generator = generator

    @classmethod
    def from_ids(
        cls,
        dataset: PatchedSegmentationDataset,
        ids: Sequence[str],
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> 'PatchSubsetSampler':
        """Build the sampler from patch ids (as written by the active learner).

        Args:
            dataset: dataset the ids refer to.
            ids: patch or image ids.
            shuffle: yield them in a new random order every epoch.
            generator: random generator used when shuffling.

        Returns:
            The sampler.

        Raises:
            ValueError: If some ids are not in the dataset (a few are listed).
        """
        patches, missing = [], []
        for patch_id in ids:
            try:
                patches.append(dataset.patch_from_id(patch_id))
            except KeyError:
                missing.append(patch_id)
        if missing:
            msg = f'{len(missing)} ids are not in the dataset, e.g. {missing[:5]}'
            raise ValueError(msg)
        return cls(patches, shuffle, generator)

    def __iter__(self) -> Iterator[NonGeoPatch]:
        """Yield the patches.

        Yields:
            Patches, in the given or a shuffled order.
        """
        if self.shuffle:
            order = torch.randperm(len(self.patches), generator=self.generator).tolist()
            yield from (self.patches[i] for i in order)
        else:
            yield from self.patches

    def __len__(self) -> int:
        """Return the number of patches.

        Returns:
            Number of patches.
        """
        return len(self.patches)
