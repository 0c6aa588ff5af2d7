"""Strong views for self-training: photometric changes and CutMix, on the device."""

from collections.abc import Sequence
from typing import Literal

import kornia.augmentation as K
import torch
from torch import Tensor, nn

__all__ = ('CutMixBoxes', 'StrongAugmentation', 'apply_cutmix', 'cutmix_boxes')


class StrongAugmentation(nn.Module):
    """Photometric strong view of normalized images, for any band count.

    ``rgb`` (3 bands): colour jitter (brightness, contrast, saturation, hue,
    p=0.8), grayscale (p=0.2) and Gaussian blur (p=0.5), as in FixMatch and
    UniMatch. Colour jitter needs values in [0, 1]: each image is mapped to
    [0, 1] by its own min and max over all bands (colour ratios kept), jittered,
    and mapped back.

    ``bands`` (any band count; colour jitter assumes RGB): per image and band a
    random contrast factor around the band's mean, a brightness offset and
    Gaussian noise, all in units of the normalized band (its training std),
    then blur (p=0.5).

    Random draws use torch's global generator: the tasks seed it per
    iteration, so a resumed run gets the same views.
    """

    def __init__(
        self,
        bands: int,
        mode: Literal['auto', 'rgb', 'bands'] = 'auto',
        brightness: float = 0.5,
        contrast: float = 0.5,
        saturation: float = 0.5,
        hue: float = 0.25,
        noise: float = 0.1,
        blur_p: float = 0.5,
        grayscale_p: float = 0.2,
    ) -> None:
        """Initialize a new StrongAugmentation.

        Args:
            bands: input bands.
            mode: ``rgb``, ``bands``, or ``auto`` (``rgb`` for 3 bands).
            brightness: jitter strength (``rgb``), or the largest offset in
                std units (``bands``).
            contrast: jitter strength (``rgb``), or the largest relative
                change of contrast (``bands``).
            saturation: saturation jitter (``rgb``).
            hue: hue jitter (``rgb``), at most 0.5.
            noise: std of the Gaussian noise in std units (``bands``).
            blur_p: probability of a Gaussian blur (sigma 0.1-2 pixels: it
                erases objects a few pixels wide, e.g. roads at 1 m).
            grayscale_p: probability of a grayscale view (``rgb``).

        Raises:
            ValueError: If ``rgb`` is asked for another band count, or a
                strength is out of range.
        """
        super().__init__()
        if mode == 'auto':
            mode = 'rgb' if bands == 3 else 'bands'
        if mode == 'rgb' and bands != 3:
            msg = (
                f"strong_augmentation 'rgb' (colour jitter) needs 3 bands, the input"
                f" has {bands}; use 'bands' (per-band brightness, contrast, noise)"
                " or 'auto'"
            )
            raise ValueError(msg)
        if mode not in ('rgb', 'bands'):
            msg = f"strong_augmentation must be 'auto', 'rgb' or 'bands', got {mode!r}"
            raise ValueError(msg)
        for name, value in (('brightness', brightness), ('contrast', contrast),
                            ('saturation', saturation), ('noise', noise)):  # fmt: skip
            if value < 0:
                msg = f'{name} must not be negative, got {value!r}'
                raise ValueError(msg)
        if not 0 <= hue <= 0.5 or not 0 <= blur_p <= 1 or not 0 <= grayscale_p <= 1:
            msg = (
                f'need 0 <= hue <= 0.5 and blur_p, grayscale_p in [0, 1], got {hue},'
                f' {blur_p}, {grayscale_p}'
            )
            raise ValueError(msg)
        self.mode = mode
        self.brightness, self.contrast, self.noise = brightness, contrast, noise
        self.blur = K.RandomGaussianBlur((5, 5), (0.1, 2.0), p=blur_p)
        self.colour = K.AugmentationSequential(
            K.ColorJitter(brightness, contrast, saturation, hue, p=0.8),
            K.RandomGrayscale(p=grayscale_p),
        )

    @torch.no_grad()
    def forward(self, image: Tensor) -> Tensor:
        """Return a strong view of normalized images.

        Args:
            image: [B, bands, H, W] normalized images.

        Returns:
            The strong view, same shape.
        """
        x = image.float()
        if self.mode == 'rgb':
            low = x.amin(dim=(1, 2, 3), keepdim=True)
            span = (x.amax(dim=(1, 2, 3), keepdim=True) - low).clamp_min(1e-6)
            x = self.colour((x - low) / span) * span + low
        else:
            b, c = x.shape[:2]
            mean = x.mean(dim=(2, 3), keepdim=True)
            factor = (
                1 + (torch.rand(b, c, 1, 1, device=x.device) * 2 - 1) * self.contrast
            )
            offset = (torch.rand(b, c, 1, 1, device=x.device) * 2 - 1) * self.brightness
            x = (x - mean) * factor + mean + offset
            x = x + torch.randn_like(x) * self.noise
        out: Tensor = self.blur(x)
        return out.to(image.dtype)


#: Boxes of one CutMix: ``(row0, row1, col0, col1)`` per image, or None.
CutMixBoxes = list[tuple[int, int, int, int] | None]


def cutmix_boxes(
    batch: int,
    height: int,
    width: int,
    p: float = 0.5,
    area: tuple[float, float] = (0.02, 0.4),
    ratio: tuple[float, float] = (0.3, 1 / 0.3),
) -> CutMixBoxes:
    """Random CutMix boxes (UniMatch's rule), one per image with probability ``p``.

    Args:
        batch: images.
        height: image height.
        width: image width.
        p: probability that an image gets a box.
        area: range of the box area as a share of the image.
        ratio: range of the box's aspect ratio (height / width).

    Returns:
        A box or None per image (drawn with torch's global generator).
    """
    boxes: CutMixBoxes = []
    for _ in range(batch):
        if float(torch.rand(())) >= p:
            boxes.append(None)
            continue
        share = float(torch.empty(()).uniform_(*area))
        aspect = float(torch.empty(()).uniform_(*ratio))
        h = min(height, max(1, round((share * height * width * aspect) ** 0.5)))
        w = min(width, max(1, round((share * height * width / aspect) ** 0.5)))
        row = int(torch.randint(0, height - h + 1, ()))
        col = int(torch.randint(0, width - w + 1, ()))
        boxes.append((row, row + h, col, col + w))
    return boxes


def apply_cutmix(
    tensors: Sequence[Tensor], boxes: CutMixBoxes, partner: Tensor
) -> list[Tensor]:
    """Paste each image's box from its partner, in every tensor alike.

    The image, its pseudo-labels, their weights and the valid-pixel mask are
    mixed with the same boxes, so every mixed pixel keeps its own label.

    Args:
        tensors: tensors of the batch, [B, ..., H, W] each.
        boxes: from :func:`cutmix_boxes`.
        partner: [B] index of the image each box is taken from.

    Returns:
        The mixed tensors (copies).
    """
    out = [t.clone() for t in tensors]
    for i, box in enumerate(boxes):
        if box is None:
            continue
        r0, r1, c0, c1 = box
        j = int(partner[i])
        for mixed, source in zip(out, tensors, strict=True):
            mixed[i, ..., r0:r1, c0:c1] = source[j, ..., r0:r1, c0:c1]
    return out
