import torch
from torch import nn

from torchgeo_als4gan.trainers.ema import (
    ema_momentum,
    ema_update,
    evaluating,
    frozen_copy,
)


def test_momentum_formula() -> None:
    assert [ema_momentum(t, 0.99) for t in range(4)] == [0.0, 0.5, 1 - 1 / 3, 0.75]
    assert ema_momentum(10_000, 0.99) == 0.99


def test_update_equals_the_formula_buffers_included() -> None:
    torch.manual_seed(0)
    student = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3))
    teacher = frozen_copy(student)
    assert not any(p.requires_grad for p in teacher.parameters())
    student(torch.randn(4, 2, 5, 5))  # moves the BatchNorm running statistics
    with torch.no_grad():
        student[0].weight.add_(1.0)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    ema_update(teacher, student, 0.75)
    for key, value in teacher.state_dict().items():
        new = student.state_dict()[key]
        if value.dtype.is_floating_point:
            torch.testing.assert_close(value, 0.75 * before[key] + 0.25 * new)
        else:  # num_batches_tracked is copied
            assert torch.equal(value, new)


def test_evaluating_restores_modes() -> None:
    net = nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(2))
    net.train()
    with evaluating(net) as same:
        assert same is net and not any(m.training for m in net.modules())
    assert all(m.training for m in net.modules())
