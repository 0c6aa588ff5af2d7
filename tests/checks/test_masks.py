"""Masks whose values are not class indices are refused, naming the range."""

import pytest
import torch

from torchgeo_als4gan.checks import check_class_indices


def test_class_indices_or_the_ignore_index_pass() -> None:
    check_class_indices(torch.tensor([[0, 2, 255]]), 3, 255)


def test_other_values_are_refused_with_their_range() -> None:
    with pytest.raises(ValueError, match=r'\[0, 3\).*got values 0\.\.5.*num_classes'):
        check_class_indices(torch.tensor([[0, 5, 255]]), 3, 255)
    with pytest.raises(ValueError, match='ignore index None'):
        check_class_indices(torch.tensor([[0, 255]]), 3, None)
