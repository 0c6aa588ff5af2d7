"""UC Merced Land Use images with DLRSD segmentation masks."""

import glob
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from torchgeo.datasets import DatasetNotFoundError
from torchgeo.datasets.utils import check_integrity, download_url, extract_archive

from .patched import PatchedSegmentationDataset
from .records import ImageRecord

__all__ = ('UCMercedDLRSD',)


class UCMercedDLRSD(PatchedSegmentationDataset):
    """UC Merced Land Use tiles with the DLRSD pixel-level labels.

    Layout under ``root`` (the official archives, unzipped)::

        UCMerced_LandUse/Images/<scene class>/<scene class>NN.tif   (RGB, ~256x256)
        DLRSD/Labels/<scene class>/<scene class>NN.png             (1 band, 1..17)

    Older DLRSD releases use ``DLRSD/Images/`` instead of ``DLRSD/Labels/``; both are
    found. DLRSD stores the 17 classes as values 1..17 (ALS4GAN trained 18 outputs
    with index 0 unused); they are exposed as 0..16 and every other value (0,
    255, ...) becomes the ignore index 255. Of the 2,100 real tiles, 43 are smaller
    than 256 x 256 (247 to 256 pixels a side): they are padded to ``tile_size``
    (image 0, mask ignore index); ``harbor/harbor10.tif`` is 257 x 257 and is
    centre-cropped (tiles up to ``max_crop`` pixels larger are). One log line
    per split gives the counts.

    Each sample holds ``image`` (float [3, H, W], 0..255), ``mask`` (long [H, W]),
    ``label`` (scene class) and ``id`` (e.g. ``agricultural05``).

    If you use this dataset, cite Yang & Newsam (2010) for UC Merced and Shao et
    al. (2018), "Performance evaluation of single-label and multi-label remote
    sensing image retrieval using a dense labeling dataset", for DLRSD.
    """

    url = 'http://weegee.vision.ucmerced.edu/datasets/UCMerced_LandUse.zip'
    md5 = '5b7ec56793786b6dc8a908e8854ac0e4'
    filename = 'UCMerced_LandUse.zip'

    scene_classes = (
        'agricultural', 'airplane', 'baseballdiamond', 'beach', 'buildings',
        'chaparral', 'denseresidential', 'forest', 'freeway', 'golfcourse', 'harbor',
        'intersection', 'mediumresidential', 'mobilehomepark', 'overpass',
        'parkinglot', 'river', 'runway', 'sparseresidential', 'storagetanks',
        'tenniscourt',
    )  # fmt: skip
    classes = (
        'airplane', 'bare soil', 'buildings', 'cars', 'chaparral', 'court', 'dock',
        'field', 'grass', 'mobile home', 'pavement', 'sand', 'sea', 'ship', 'tanks',
        'trees', 'water',
    )  # fmt: skip
    colors = (
        (166, 202, 240), (128, 128, 0), (255, 0, 0), (255, 128, 0), (0, 128, 0),
        (128, 0, 128), (0, 0, 128), (255, 255, 128), (0, 255, 0), (255, 0, 255),
        (128, 128, 128), (240, 230, 140), (0, 0, 255), (0, 128, 128),
        (192, 192, 192), (0, 64, 0), (0, 255, 255),
    )  # fmt: skip
    #: Value of the first class in the DLRSD PNGs.
    value_offset: ClassVar[int] = 1
    mask_dirs: ClassVar[tuple[str, ...]] = ('Labels', 'Images')

    def __init__(
        self,
        root: str | os.PathLike[str] = 'data/ucmerced',
        split: str = 'train',
        split_file: str | os.PathLike[str] | Sequence[str] | None = None,
        split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
        patch_size: int | None = None,
        stride: int | None = None,
        tile_size: int = 256,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        download: bool = False,
        checksum: bool = False,
        max_crop: int = 8,
    ) -> None:
        """Initialize a new UCMercedDLRSD instance.

        Args:
            root: folder holding ``UCMerced_LandUse/`` and ``DLRSD/``.
            split: ``train``, ``val``, ``test`` or ``all``.
            split_file: ALS4GAN id list for this split (one id per line).
            split_fractions: train/val/test fractions of the seeded split, which is
                stratified by scene class.
            split_seed: seed of the split.
            patch_size: side of grid patches, or None for whole tiles.
            stride: grid stride (defaults to ``patch_size``).
            tile_size: side of whole-tile samples when ``patch_size`` is None
                (smaller tiles are padded, slightly larger ones centre-cropped).
            transforms: function applied to each sample.
            download: download the UC Merced images if missing (DLRSD has no
                stable URL and must be placed by hand).
            checksum: verify the MD5 of the downloaded archive.
            max_crop: tiles larger than ``tile_size`` by at most this many
                pixels are centre-cropped; a larger excess is an error.

        Raises:
            DatasetNotFoundError: If the images or the DLRSD masks are missing.
        """
        self.download = download
        self.checksum = checksum
        super().__init__(
            root, split, split_file, split_fractions, split_seed, patch_size, stride,
            tile_size, transforms, max_crop=max_crop,
        )  # fmt: skip

    def _image_dir(self) -> str:
        return os.path.join(self.root, 'UCMerced_LandUse', 'Images')

    def _mask_dir(self) -> str | None:
        for name in self.mask_dirs:
            path = os.path.join(self.root, 'DLRSD', name)
            if os.path.isdir(path):
                return path
        return None

    def _download(self) -> None:
        archive = os.path.join(self.root, self.filename)
        if not os.path.isfile(archive):
            if not self.download:
                raise DatasetNotFoundError(self)
            download_url(self.url, self.root, filename=self.filename)
        if self.checksum and not check_integrity(archive, self.md5):
            msg = f'Archive {archive!r} is corrupted (MD5 mismatch)'
            raise RuntimeError(msg)
        extract_archive(archive, self.root)

    def _find_records(self) -> list[ImageRecord]:
        if not os.path.isdir(self._image_dir()):
            self._download()
        mask_dir = self._mask_dir()
        if mask_dir is None:
            error = DatasetNotFoundError(self)
            error.args = (
                f'DLRSD masks not found: neither {self.root}/DLRSD/Labels/ nor'
                f' {self.root}/DLRSD/Images/ exists. DLRSD has no stable download'
                ' URL (download=True fetches only the UC Merced images): get the'
                ' DLRSD archive by hand and unzip it so that'
                f' {self.root}/DLRSD/Labels/<class>/<class>NN.png exist.',
            )
            raise error
        records = []
        missing = []
        for path in sorted(glob.glob(os.path.join(self._image_dir(), '*', '*.tif'))):
            scene = os.path.basename(os.path.dirname(path))
            if scene not in self.scene_classes:
                continue
            image_id = os.path.splitext(os.path.basename(path))[0]
            mask = os.path.join(mask_dir, scene, image_id + '.png')
            if not os.path.isfile(mask):
                missing.append(mask)
                continue
            label = self.scene_classes.index(scene)
            records.append(ImageRecord(image_id, path, mask, label))
        if missing:
            msg = f'{len(missing)} DLRSD masks are missing, e.g. {missing[:3]}'
            raise FileNotFoundError(msg)
        if not records:
            raise DatasetNotFoundError(self)
        return records

    def _decode_mask(self, array: NDArray[Any], path: str) -> NDArray[np.int64]:
        out = self._map_values(array[0], offset=self.value_offset)
        outside = out == self.ignore_index
        if outside.any() and not getattr(self, '_warned_values', False):
            self._warned_values = True
            low = self.value_offset
            high = low + len(self.classes) - 1
            share = float(outside.mean())
            warnings.warn(
                f'Mask {path!r} holds values'
                f' {np.unique(array[0][outside])[:8].tolist()} outside the DLRSD'
                f' class values {low}..{high} on {share:.0%} of its pixels; those'
                ' pixels are ignored (warned once per dataset)',
                UserWarning,
                stacklevel=2,
            )
        return out
