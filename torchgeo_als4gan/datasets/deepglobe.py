"""DeepGlobe Land Cover, read at native resolution in patches."""

import glob
import json
import os
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor
from torchgeo.datasets import DatasetNotFoundError

from .patched import PatchedSegmentationDataset
from .records import ImageRecord
from .utils import mask_labels

__all__ = ('DeepGlobePatches',)


class DeepGlobePatches(PatchedSegmentationDataset):
    """DeepGlobe Land Cover Classification in native-resolution patches.

    Layout under ``root`` (the Kaggle ``train`` folder, the only one with masks)::

        train/<id>_sat.jpg    RGB, 2448 x 2448
        train/<id>_mask.png   RGB colour-coded classes

    Masks are decoded by thresholding each channel at 128 and mapping
    urban (0,255,255), agriculture (255,255,0), rangeland (255,0,255),
    forest (0,255,0), water (0,0,255) and barren (255,255,255) to 0..5; unknown
    (0,0,0) and any other colour become the ignore index. Masks are never resized.

    Images are split into train/val/test by image (never by patch, so patches of one
    image do not leak across splits), then cut into ``patch_size`` patches. Each
    sample's image-level labels come from its mask: ``label`` is the dominant class
    (the ignore index when the patch has no labelled pixel) and ``label_multi`` the
    multi-hot presence of classes covering at least ``presence_threshold`` of the
    labelled pixels. An ALS4GAN-style ``class_map.json`` ({image id: class name})
    replaces ``label`` by the mapped class of the patch's image.

    If you use this dataset, cite Demir et al. (2018), "DeepGlobe 2018: A Challenge
    to Parse the Earth through Satellite Images".
    """

    classes = ('urban', 'agriculture', 'rangeland', 'forest', 'water', 'barren')
    colors = (
        (0, 255, 255), (255, 255, 0), (255, 0, 255), (0, 255, 0), (0, 0, 255),
        (255, 255, 255),
    )  # fmt: skip
    folder: ClassVar[str] = 'train'

    def __init__(
        self,
        root: str | os.PathLike[str] = 'data/deepglobe',
        split: str = 'train',
        split_file: str | os.PathLike[str] | Sequence[str] | None = None,
        split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
        patch_size: int | None = 512,
        stride: int | None = None,
        tile_size: int = 2448,
        presence_threshold: float = 0.05,
        class_map: str | os.PathLike[str] | None = None,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        """Initialize a new DeepGlobePatches instance.

        Args:
            root: folder holding ``train/``.
            split: ``train``, ``val``, ``test`` or ``all``.
            split_file: id list (image ids such as ``855``) for this split.
            split_fractions: train/val/test fractions of the seeded image split.
            split_seed: seed of the split.
            patch_size: side of the patches (None for whole images).
            stride: grid stride (defaults to ``patch_size``).
            tile_size: whole images are padded to this size when ``patch_size`` is
                None.
            presence_threshold: fraction of labelled pixels a class needs to be
                present in ``label_multi``.
            class_map: JSON file mapping image ids to class names for ``label``.
            transforms: function applied to each sample.

        Raises:
            DatasetNotFoundError: If no image/mask pairs are found.
            ValueError: If ``class_map`` names an unknown class or
                ``presence_threshold`` is outside [0, 1].
        """
        if not 0 <= presence_threshold <= 1:
            msg = f'presence_threshold must be in [0, 1], got {presence_threshold}'
            raise ValueError(msg)
        self.presence_threshold = presence_threshold
        self.class_map = self._read_class_map(class_map) if class_map else None
        lut = np.full(8, self.ignore_index, dtype=np.int64)
        for index, (r, g, b) in enumerate(self.colors):
            lut[(r >= 128) * 4 + (g >= 128) * 2 + (b >= 128)] = index
        self._lut = lut
        super().__init__(
            root, split, split_file, split_fractions, split_seed, patch_size, stride,
            tile_size, transforms,
        )  # fmt: skip

    def _read_class_map(self, path: str | os.PathLike[str]) -> dict[str, int]:
        with open(path) as f:
            raw = json.load(f)
        out = {}
        for key, name in raw.items():
            if name not in self.classes:
                msg = (
                    f'class_map {os.fspath(path)!r} maps {key!r} to {name!r},'
                    f' which is not one of {self.classes}'
                )
                raise ValueError(msg)
            out[os.path.splitext(str(key))[0].removesuffix('_sat')] = (
                self.classes.index(name)
            )
        return out

    def _find_records(self) -> list[ImageRecord]:
        pattern = os.path.join(self.root, self.folder, '*_sat.jpg')
        records = []
        for path in sorted(glob.glob(pattern)):
            image_id = os.path.basename(path).removesuffix('_sat.jpg')
            mask = path.removesuffix('_sat.jpg') + '_mask.png'
            if not os.path.isfile(mask):
                msg = f'Image {path!r} has no mask: expected {mask!r}'
                raise FileNotFoundError(msg)
            label = -1 if self.class_map is None else self.class_map.get(image_id, -1)
            records.append(ImageRecord(image_id, path, mask, label))
        if not records:
            raise DatasetNotFoundError(self)
        return records

    def _decode_mask(self, array: NDArray[Any], path: str) -> NDArray[np.int64]:
        if array.shape[0] < 3:
            msg = f'DeepGlobe mask {path!r} must be RGB, got {array.shape[0]} band(s)'
            raise ValueError(msg)
        bits = (array[:3] >= 128).astype(np.int64)
        result: NDArray[np.int64] = self._lut[bits[0] * 4 + bits[1] * 2 + bits[2]]
        return result

    def _labels(self, record: ImageRecord, mask: Tensor | None) -> dict[str, Tensor]:
        assert mask is not None
        labels = mask_labels(
            mask, len(self.classes), self.ignore_index, self.presence_threshold
        )
        if self.class_map is not None and record.label >= 0:
            labels['label'] = torch.tensor(record.label)
        return labels
