import pytest
import torch

from torchgeo_als4gan.transforms import SegmentationAugmentation


def batch_from_mask(mask: torch.Tensor) -> dict[str, object]:
    # the image is the mask value in every band: aligned transforms keep them equal
    image = mask.unsqueeze(1).float().expand(-1, 3, -1, -1).clone()
    return {'image': image, 'mask': mask, 'id': ['a', 'b']}


class TestSegmentationAugmentation:
    def test_image_and_mask_move_together(self) -> None:
        mask = torch.zeros(2, 32, 32, dtype=torch.long)
        mask[:, 8:20, 4:12] = 3
        mask[:, 20:30, 16:30] = 5
        aug = SegmentationAugmentation(mean=0, std=1, vflip=True, rot90=True, seed=0)
        for _ in range(5):
            out = aug(batch_from_mask(mask))
            m, img = out['mask'], out['image'][:, 0]
            inside = m != 255
            # nearest for the mask, bilinear for the image: close away from edges
            # (a misaligned pair would differ by whole class values: 3 or 5)
            # pixels whose 5x5 neighbourhood (frame border counting as ignore) is uniform
            values = torch.nn.functional.pad(
                m.unsqueeze(1).float(), (2, 2, 2, 2), value=255
            )
            high = torch.nn.functional.max_pool2d(values, 5, 1)
            low = -torch.nn.functional.max_pool2d(-values, 5, 1)
            eroded = inside & (high == low).squeeze(1)
            assert eroded.sum() > 300
            assert (img[eroded] - m[eroded].float()).abs().max() < 0.5
            assert set(m.unique().tolist()) <= {0, 3, 5, 255}
            assert out['id'] == ['a', 'b']

    def test_zoom_out_pads_with_ignore(self) -> None:
        mask = torch.ones(2, 32, 32, dtype=torch.long)
        aug = SegmentationAugmentation(
            mean=0, std=1, scale=(0.5, 0.5), hflip=False, seed=0
        )
        out = aug(batch_from_mask(mask))
        assert (out['mask'][:, 0, :] == 255).all() and (
            out['mask'][:, 16, 16] == 1
        ).all()
        assert (out['image'][:, :, 0, :] == 0).all()
        assert abs((out['mask'] == 1).float().mean().item() - 0.25) < 0.05

    def test_ignore_index_preserved(self) -> None:
        mask = torch.full((2, 16, 16), 255, dtype=torch.long)
        mask[:, :8] = 2
        out = SegmentationAugmentation(scale=None, seed=0)(batch_from_mask(mask))
        assert set(out['mask'].unique().tolist()) == {2, 255}

    def test_crop_and_normalize(self) -> None:
        image = torch.full((2, 3, 16, 16), 128.0)
        aug = SegmentationAugmentation(
            mean=[100.0] * 3,
            std=[2.0] * 3,
            scale=None,
            hflip=False,
            crop_size=24,
            seed=0,
        )
        out = aug({'image': image, 'mask': torch.zeros(2, 16, 16, dtype=torch.long)})
        assert out['image'].shape == (2, 3, 24, 24) and out['mask'].shape == (2, 24, 24)
        assert (out['mask'] == 255).sum() == 2 * (24 * 24 - 16 * 16)
        assert set(out['image'].unique().tolist()) == {0.0, 14.0}

    def test_seeded(self) -> None:
        mask = torch.randint(0, 4, (2, 32, 32))
        outs = []
        for _ in range(2):
            aug = SegmentationAugmentation(seed=3, rot90=True)
            torch.manual_seed(
                torch.randint(1000, (1,)).item()
            )  # global RNG must not matter
            outs.append([aug(batch_from_mask(mask))['mask'] for _ in range(3)])
        assert all(torch.equal(a, b) for a, b in zip(*outs, strict=False))
        assert not torch.equal(outs[0][0], outs[0][1])

    def test_unlabelled_batch_and_normalize_only(self) -> None:
        image = torch.rand(2, 3, 16, 16) * 255
        out = SegmentationAugmentation(seed=0, crop_size=8)({'image': image})
        assert out['image'].shape == (2, 3, 8, 8) and 'mask' not in out
        plain = SegmentationAugmentation(scale=None, hflip=False)({'image': image})
        assert torch.allclose(plain['image'], image / 255)

    def test_invalid_scale(self) -> None:
        with pytest.raises(ValueError, match='scale'):
            SegmentationAugmentation(scale=(1.5, 0.5))
