import pytest
import torch

from torchgeo_als4gan.transforms import StrongAugmentation, apply_cutmix, cutmix_boxes


def test_cutmix_mixes_every_tensor_with_the_same_boxes() -> None:
    torch.manual_seed(3)
    images = torch.randn(4, 3, 16, 16)
    labels = torch.arange(4).view(4, 1, 1).expand(4, 16, 16).clone()
    weights = torch.rand(4, 16, 16)
    boxes = cutmix_boxes(4, 16, 16, p=1.0)
    partner = torch.tensor([1, 2, 3, 0])
    mixed_images, mixed_labels, mixed_weights = apply_cutmix(
        [images, labels, weights], boxes, partner
    )
    for i, box in enumerate(boxes):
        assert box is not None
        r0, r1, c0, c1 = box
        area = (r1 - r0) * (c1 - c0) / 256
        assert 0.02 * 0.5 <= area <= 0.4 * 1.5  # rounding of the sides
        inside = torch.zeros(16, 16, dtype=torch.bool)
        inside[r0:r1, c0:c1] = True
        j = int(partner[i])
        # inside the box everything comes from the partner, outside from the image
        assert (mixed_labels[i][inside] == j).all() and (
            mixed_labels[i][~inside] == i
        ).all()
        assert torch.equal(mixed_images[i][:, inside], images[j][:, inside])
        assert torch.equal(mixed_images[i][:, ~inside], images[i][:, ~inside])
        assert torch.equal(mixed_weights[i][inside], weights[j][inside])
    assert torch.equal(labels[0], torch.zeros(16, 16, dtype=torch.long))  # copies


def test_cutmix_probability() -> None:
    torch.manual_seed(0)
    boxes = cutmix_boxes(2000, 32, 32, p=0.5)
    share = sum(b is not None for b in boxes) / len(boxes)
    assert 0.46 < share < 0.54
    assert all(b is None for b in cutmix_boxes(10, 32, 32, p=0.0))


def test_strong_views_change_pixels_not_shapes() -> None:
    torch.manual_seed(0)
    rgb = StrongAugmentation(3)
    assert rgb.mode == 'rgb'
    x = torch.randn(4, 3, 8, 8)
    y = rgb(x)
    assert y.shape == x.shape and not torch.equal(x, y)
    bands = StrongAugmentation(5)
    assert bands.mode == 'bands'
    z = torch.randn(2, 5, 8, 8)
    assert bands(z).shape == z.shape and not torch.equal(bands(z), z)


def test_rgb_jitter_on_other_band_counts_is_refused() -> None:
    with pytest.raises(
        ValueError, match="'rgb' \\(colour jitter\\) needs 3 bands, the input has 4"
    ):
        StrongAugmentation(4, 'rgb')
    with pytest.raises(ValueError, match='hue'):
        StrongAugmentation(3, hue=0.8)
