import logging
from pathlib import Path

import pytest
import torch
from torch import nn

from torchgeo_als4gan.models import load_local_weights, read_state_dict


def small() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Linear(4, 2))


def test_prefixed_checkpoint_is_matched_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Linear(4, 5))
    state = {f'model.{k}': v for k, v in source.state_dict().items()}
    state['model.extra.weight'] = torch.zeros(1)
    path = tmp_path / 'weights.ckpt'
    torch.save({'state_dict': state, 'hyper_parameters': {}}, path)
    target = small()
    with caplog.at_level(logging.WARNING):
        report = load_local_weights(target, path)
    assert report.loaded == ['0.bias', '0.weight']
    assert report.mismatched == ['2.bias', '2.weight'] or sorted(report.mismatched) == [
        '2.bias',
        '2.weight',
    ]
    assert report.unexpected == ['extra.weight']
    assert report.missing == []
    assert torch.equal(target[0].weight, source[0].weight)
    assert 'loaded 2 tensors' in caplog.text and 'extra.weight' in caplog.text


def test_plain_state_dict_all_loaded(tmp_path: Path) -> None:
    source = small()
    path = tmp_path / 'w.pth'
    torch.save(source.state_dict(), path)
    target = small()
    report = load_local_weights(target, path)
    assert len(report.loaded) == 4 and not (report.missing or report.unexpected)
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            source.state_dict().values(), target.state_dict().values(), strict=True
        )
    )
    assert 'loaded 4 tensors, 0 missing' in str(report)


def test_no_matching_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / 'other.pt'
    torch.save({'decoder.weight': torch.zeros(2)}, path)
    with pytest.raises(
        ValueError, match=r"None of the 1 tensors in weights file .*other.pt' match"
    ):
        load_local_weights(small(), path)


def test_bad_weights_files(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError, match="Weights file '.*missing.pt' does not exist"
    ):
        read_state_dict(tmp_path / 'missing.pt')
    path = tmp_path / 'list.pt'
    torch.save([1, 2, 3], path)
    with pytest.raises(ValueError, match='holds no state dict of tensors'):
        read_state_dict(path)
    module_path = tmp_path / 'module.pt'
    torch.save(small(), module_path)
    assert set(read_state_dict(module_path)) == {
        '0.weight',
        '0.bias',
        '2.weight',
        '2.bias',
    }


def test_text_file_as_s4gan_weights(tmp_path: Path) -> None:
    from torchgeo_als4gan.trainers import S4GANTask

    text = tmp_path / 'weights.pth'
    text.write_text('resnet50 imagenet weights, see the README\n')
    # used to end in a pickle traceback that named no file
    with pytest.raises(
        ValueError, match=r"Weights file '.*weights\.pth' is not a PyTorch checkpoint"
    ):
        S4GANTask(model='fcn', num_classes=3, weights=str(text))
    truncated = tmp_path / 'cut.pt'
    torch.save(small().state_dict(), truncated)
    truncated.write_bytes(truncated.read_bytes()[:50])
    with pytest.raises(
        ValueError, match=r"cut\.pt' is a truncated or damaged PyTorch checkpoint"
    ):
        read_state_dict(truncated)
