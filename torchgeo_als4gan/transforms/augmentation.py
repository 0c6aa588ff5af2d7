"""Batch augmentations for segmentation, run with Kornia on the device."""

from collections.abc import Sequence
from typing import Any

import kornia.augmentation as K
import torch
from torch import Tensor, nn

__all__ = ('SegmentationAugmentation',)


class SegmentationAugmentation(nn.Module):
    """Normalize, then random scale, flips, 90-degree rotations and crop.

    Image and mask receive the same geometric transform; the mask is resampled with
    nearest neighbour, and pixels that enter the frame from outside (when zooming
    out or cropping past the border) become ``ignore_index`` in the mask and 0 in
    the normalized image. The default scale range 0.5-1.5 and the horizontal mirror
    follow ALS4GAN. Random draws come from the module's own seeded generator, so a
    given seed reproduces the same sequence of batches whatever else uses torch's
    global RNG.

    The module takes and returns a batch dict; keys other than ``image`` and
    ``mask`` (ids, labels) pass through unchanged. A batch without ``mask``
    (unlabelled images) gets ``valid`` [B, H, W], False where pixels entered the
    frame from outside, so pseudo-labels are not learnt there.
    """

    def __init__(
        self,
        mean: Sequence[float] | float = 0.0,
        std: Sequence[float] | float = 255.0,
        scale: tuple[float, float] | None = (0.5, 1.5),
        hflip: bool = True,
        vflip: bool = False,
        rot90: bool = False,
        crop_size: int | None = None,
        ignore_index: int = 255,
        seed: int | None = None,
    ) -> None:
        """Initialize a new SegmentationAugmentation.

        Args:
            mean: per-band mean subtracted from the image.
            std: per-band standard deviation the image is divided by.
            scale: range of the random zoom factor, or None for no scaling.
            hflip: random horizontal mirror with p=0.5.
            vflip: random vertical flip with p=0.5.
            rot90: random rotation by 0, 90, 180 or 270 degrees.
            crop_size: random crop to this size (padding when the input is
                smaller), or None to keep the input size.
            ignore_index: mask value of pixels without a label.
            seed: seed of the augmentation generator (None: nondeterministic).

        Raises:
            ValueError: If ``scale`` is not an increasing pair of positive numbers.
        """
        super().__init__()
        if scale is not None and not 0 < scale[0] <= scale[1]:
            msg = f'scale must be (min, max) with 0 < min <= max, got {scale}'
            raise ValueError(msg)
        self.normalize = K.Normalize(
            mean=torch.as_tensor(mean, dtype=torch.float),
            std=torch.as_tensor(std, dtype=torch.float),
        )
        ops: list[Any] = []
        if scale is not None:
            ops.append(K.RandomAffine(degrees=0.0, scale=scale, p=1.0))
        if hflip:
            ops.append(K.RandomHorizontalFlip(p=0.5))
        if vflip:
            ops.append(K.RandomVerticalFlip(p=0.5))
        if rot90:
            ops.append(K.RandomRotation90(times=(0, 3), p=1.0))
        if crop_size is not None:
            ops.append(K.RandomCrop((crop_size, crop_size), pad_if_needed=True, p=1.0))
        self.geometric = (
            K.AugmentationSequential(*ops, data_keys=['image', 'mask']) if ops else None
        )
        self.ignore_index = ignore_index
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)
        else:
            self.generator.seed()

    @torch.no_grad()
    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Augment a batch.

        Args:
            batch: dict with ``image`` [B, C, H, W] and optionally ``mask`` [B, H, W].

        Returns:
            The batch with augmented ``image`` and ``mask``.
        """
        out = dict(batch)
        image = self.normalize(batch['image'].float())
        if self.geometric is None:
            out['image'] = image
            if 'mask' not in batch:
                out['valid'] = torch.ones_like(image[:, 0], dtype=torch.bool)
            return out
        mask: Tensor | None = batch.get('mask')
        # Shift labels by one so that zero marks pixels coming from outside the frame.
        if mask is None:
            shifted = torch.ones_like(image[:, :1])
        else:
            shifted = (mask.long() + 1).unsqueeze(1).float()
        seed = int(torch.randint(2**62, (1,), generator=self.generator))
        devices = [image.device] if image.device.type == 'cuda' else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            image, shifted = self.geometric(image, shifted)
        out['image'] = image
        if mask is not None:
            restored = shifted.squeeze(1).round().long() - 1
            out['mask'] = restored.masked_fill(restored < 0, self.ignore_index)
        else:
            out['valid'] = shifted.squeeze(1) > 0.5
        return out
