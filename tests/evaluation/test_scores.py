import math

import pytest
import torch

from torchgeo_als4gan.evaluation import segmentation_scores


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
