"""The loop's check that a round's scorer reads the pool's bands."""

from types import SimpleNamespace
from typing import Any

import pytest
import torch

from torchgeo_als4gan.active.loop.pool import check_bands


def fake(bands: int, in_channels: int | None) -> tuple[Any, Any]:
    pool = SimpleNamespace(dataset=[{'image': torch.zeros(bands, 4, 4)}])
    hparams = {} if in_channels is None else {'in_channels': in_channels}
    return pool, SimpleNamespace(hparams=hparams)


def test_a_scorer_for_other_bands_is_refused() -> None:
    check_bands(*fake(3, 3))
    check_bands(*fake(4, None))  # a task that does not say: left to the network
    with pytest.raises(
        ValueError, match=r'takes 3 band\(s\) but the pool items have 4'
    ):
        check_bands(*fake(4, 3))
