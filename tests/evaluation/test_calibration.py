"""Temperature scaling: recovers a known temperature, lowers ECE, travels in checkpoints."""

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning import LightningDataModule, Trainer, seed_everything
from torch.utils.data import DataLoader
from torchgeo.trainers import SemanticSegmentationTask

from tests.trainers.test_speed import Tiles
from torchgeo_als4gan.evaluation.calibration import (
    CALIBRATION_KEY,
    TemperatureCalibration,
    expected_calibration_error,
    fit_temperature,
    label_calibration_error,
    read_temperature,
    temperature_interval,
)
from torchgeo_als4gan.inference import load_segmentation_checkpoint


def _calibrated(n: int = 20000, classes: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels drawn from softmax(logits): calibrated by construction."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(n, classes, generator=g) * 2
    labels = torch.multinomial(logits.softmax(dim=1), 1, generator=g)[:, 0]
    return logits, labels


def test_a_known_temperature_is_recovered() -> None:
    logits, labels = _calibrated()
    assert fit_temperature(logits, labels) == pytest.approx(1.0, abs=0.05)
    # an over-confident network: logits three times too large
    assert fit_temperature(3 * logits, labels) == pytest.approx(3.0, rel=0.05)
    assert fit_temperature(0.5 * logits, labels) == pytest.approx(0.5, rel=0.05)


def test_scaling_lowers_the_calibration_error() -> None:
    logits, labels = _calibrated()
    assert expected_calibration_error(logits.softmax(dim=1), labels) < 0.02
    sharp = 3 * logits
    before = expected_calibration_error(sharp.softmax(dim=1), labels)
    t = fit_temperature(sharp, labels)
    after = expected_calibration_error((sharp / t).softmax(dim=1), labels)
    assert before > 0.1 and after < 0.02
    nll = torch.nn.functional.cross_entropy
    assert nll(sharp / t, labels) < nll(sharp, labels) - 0.1  # the NLL falls too
    # the predicted classes are unchanged
    assert torch.equal(sharp.argmax(dim=1), (sharp / t).argmax(dim=1))


def test_multilabel_scaling_recovers_the_temperature_and_lowers_the_error() -> None:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(20000, 6, generator=g) * 2
    targets = torch.bernoulli(logits.sigmoid(), generator=g)  # calibrated
    assert fit_temperature(logits, targets, multilabel=True) == pytest.approx(
        1.0, abs=0.05
    )
    sharp = 3 * logits  # an over-confident multi-label classifier
    t = fit_temperature(sharp, targets, multilabel=True)
    assert t == pytest.approx(3.0, rel=0.05)
    before = label_calibration_error(sharp.sigmoid(), targets)
    after = label_calibration_error((sharp / t).sigmoid(), targets)
    assert before > 0.05 and after < 0.02
    # every label's decision (p > 0.5) is unchanged
    assert torch.equal(sharp > 0, sharp / t > 0)
    with pytest.raises(ValueError, match='\\[N, C\\] targets'):
        fit_temperature(sharp, targets[:, 0], multilabel=True)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match='needs \\[N, C\\] logits and \\[N\\] labels'):
        fit_temperature(torch.zeros(0, 3), torch.zeros(0))
    with pytest.raises(ValueError, match='max_batches must be a positive integer'):
        TemperatureCalibration(max_batches=0)
    assert read_temperature({}) == 1.0


class WithVal(LightningDataModule):
    def train_dataloader(self) -> Any:
        return DataLoader(Tiles(8, 0), batch_size=4)

    def val_dataloader(self) -> Any:
        return DataLoader(Tiles(8, 2), batch_size=4)


def test_the_fitted_temperature_travels_to_prediction(tmp_path: Path) -> None:
    seed_everything(0)
    task = SemanticSegmentationTask(model='unet', backbone='resnet18', num_classes=3)
    calibration = TemperatureCalibration(pixels_per_batch=512)
    trainer = Trainer(
        accelerator='cpu', max_steps=4, logger=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path, num_sanity_val_steps=0,
        callbacks=[calibration],
    )  # fmt: skip
    trainer.fit(task, WithVal())
    result = calibration.result
    assert result is not None and result['pixels'] == 2 * 512  # 2 val batches
    assert (
        result['temperature'] > 0 and result['ece_calibrated'] <= result['ece'] + 1e-6
    )
    assert 'val_temperature' in trainer.callback_metrics
    written = json.loads((tmp_path / 'calibration.json').read_text())
    assert written == pytest.approx(result)
    (path,) = tmp_path.rglob('*.ckpt')
    stored = torch.load(path, weights_only=False)[CALIBRATION_KEY]
    assert stored['temperature'] == pytest.approx(result['temperature'])
    model = load_segmentation_checkpoint(path, 'cpu', mean=0.0, std=1.0)
    assert model.temperature == pytest.approx(result['temperature'])
    x = torch.randn(1, 3, 32, 32)
    probs, _ = model.predict(x)
    task.eval()
    with torch.no_grad():
        expected = (task(x) / result['temperature']).softmax(dim=1)
    torch.testing.assert_close(probs, expected, rtol=1e-4, atol=1e-5)


def test_the_temperature_interval_narrows_with_more_items() -> None:
    logits, labels = _calibrated()
    sharp = 3 * logits
    low, high = temperature_interval(sharp, labels, samples=20)
    assert low <= 3.0 <= high and high - low < 0.3
    few_low, few_high = temperature_interval(sharp[:25], labels[:25], samples=20)
    assert few_high - few_low > 2 * (high - low)  # 25 items: a loose temperature
    assert temperature_interval(sharp[:25], labels[:25], samples=20) == (
        few_low,
        few_high,
    )  # seeded
    with pytest.raises(ValueError, match='samples >= 2'):
        temperature_interval(sharp, labels, samples=1)
    with pytest.raises(ValueError, match=r'\[N\] labels'):
        temperature_interval(sharp, labels[:, None])
