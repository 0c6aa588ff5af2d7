import math

import numpy as np
import pytest
import torch

from torchgeo_als4gan.evaluation import item_confusions, segmentation_scores
from torchgeo_als4gan.evaluation.intervals import (
    bootstrap_miou,
    miou_of_confusions,
    paired_difference,
    seed_interval,
)


def test_known_confusion_matrix() -> None:
    # rows: truth, columns: prediction; class 2 never occurs nor is predicted
    cm = torch.tensor([[8, 2, 0], [1, 9, 0], [0, 0, 0]])
    scores = segmentation_scores(cm, ['a', 'b', 'c'])
    assert scores['pixel_accuracy'] == pytest.approx(17 / 20)
    assert scores['mean_accuracy'] == pytest.approx((0.8 + 0.9) / 2)
    iou_a, iou_b = 8 / (10 + 9 - 8), 9 / (10 + 11 - 9)
    assert scores['per_class_iou'] == pytest.approx({'a': iou_a, 'b': iou_b, 'c': None})
    assert scores['miou'] == pytest.approx((iou_a + iou_b) / 2)
    assert scores['fw_iou'] == pytest.approx(0.5 * iou_a + 0.5 * iou_b)


def test_predicted_but_absent_class_counts_as_zero() -> None:
    cm = torch.tensor([[5, 5], [0, 0]])
    scores = segmentation_scores(cm)
    assert scores['per_class_iou'] == {'0': 0.5, '1': 0.0}
    assert scores['miou'] == 0.25 and scores['mean_accuracy'] == 0.5
    assert not math.isnan(scores['fw_iou'])


def test_bad_input() -> None:
    with pytest.raises(ValueError, match='square'):
        segmentation_scores(torch.zeros(2, 3))
    with pytest.raises(ValueError, match='1 class names for a 2x2'):
        segmentation_scores(torch.zeros(2, 2), ['x'])


class TestIntervals:
    def test_constant_predictor_has_a_zero_width_interval(self) -> None:
        # every item predicted and labelled the same way: every resample is alike
        item = np.array([[30, 10], [5, 55]])
        per_item = np.stack([item] * 40)
        miou, low, high = bootstrap_miou(per_item, samples=200, seed=0)
        assert miou == pytest.approx((30 / 45 + 55 / 70) / 2)
        assert low == pytest.approx(miou) and high == pytest.approx(miou)

    def test_a_method_against_itself_is_zero(self) -> None:
        per_item = np.random.default_rng(0).integers(0, 50, (30, 3, 3))
        assert paired_difference(per_item, per_item, 300, 1) == (0.0, 0.0, 0.0)

    def test_intervals_are_reproducible_and_cover(self) -> None:
        rng = np.random.default_rng(1)
        per_item = rng.integers(0, 40, (50, 3, 3))
        first = bootstrap_miou(per_item, 500, seed=7)
        assert bootstrap_miou(per_item, 500, seed=7) == first
        assert bootstrap_miou(per_item, 500, seed=8) != first
        miou, low, high = first
        assert low < miou < high
        better = per_item.copy()
        better[:, 0, 0] += 30  # more true positives of class 0 on every item
        diff, d_low, d_high = paired_difference(better, per_item, 500, 7)
        assert diff > 0 and d_low > 0 and d_low <= diff <= d_high
        # paired: much narrower than the two unpaired intervals suggest
        _, b_low, b_high = bootstrap_miou(better, 500, 7)
        assert d_high - d_low < (high - low) + (b_high - b_low)

    def test_miou_rule_matches_segmentation_scores(self) -> None:
        per_item = np.random.default_rng(2).integers(0, 9, (5, 4, 4))
        per_item[:, 3, :] = 0
        per_item[:, :, 3] = 0  # a class absent from truth and prediction
        expected = segmentation_scores(torch.from_numpy(per_item.sum(axis=0)))['miou']
        assert miou_of_confusions(per_item.sum(axis=0, keepdims=True))[
            0
        ] == pytest.approx(expected)

    def test_seed_interval(self) -> None:
        assert seed_interval([0.5]) == (0.5, 0.5, 0.5)
        mean, low, high = seed_interval([0.5, 0.6, 0.7])
        assert mean == pytest.approx(0.6)
        assert high - mean == pytest.approx(4.303 * 0.1 / 3**0.5)
        assert mean - low == pytest.approx(high - mean)

    def test_item_confusions_match_torchmetrics(self) -> None:
        from torchmetrics.functional.classification import multiclass_confusion_matrix

        pred = torch.randint(0, 3, (4, 6, 5))
        target = torch.randint(0, 3, (4, 6, 5))
        target[0, :2] = 255
        per_item = item_confusions(pred, target, 3, 255)
        for i in range(4):
            expected = multiclass_confusion_matrix(
                pred[i], target[i], 3, ignore_index=255
            )
            assert torch.equal(per_item[i], expected.long())
