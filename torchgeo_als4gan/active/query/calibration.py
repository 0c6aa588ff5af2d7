"""Temperature scaling of ALS4GAN's classifier before it scores the pool.

Entropy, margin and BALD read the classifier's probabilities; a classifier
trained on a few dozen items is over-confident, and a temperature changes
which items look most uncertain (the entropy of ``softmax(z / T)`` does not
keep its order across items as ``T`` moves). With ``als4gan query --calibrate
temperature`` every scoring round first fits one temperature (Guo et al.,
2017: NLL, LBFGS) on the datamodule's **val** items, which the classifier
never trains on, and scores the pool with ``logits / T``. A temperature from
a few val items is loose: the fit's bootstrap interval over the items is
reported with it, and below :data:`FEW_CALIBRATION_ITEMS` items the query
warns.
"""

import json
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ...datamodules.pool import PoolDataModule, QueryPool
from ...evaluation.calibration import (
    expected_calibration_error,
    fit_temperature,
    label_calibration_error,
    temperature_interval,
)
from ...files import atomic_write
from ...trainers import ActiveLearnerTask

__all__ = (
    'CALIBRATIONS',
    'FEW_CALIBRATION_ITEMS',
    'calibrate_classifier',
    'check_calibrate',
    'check_calibration_pool',
)

#: Values of ``--calibrate``: none, or one temperature on the val items.
CALIBRATIONS = (None, 'temperature')

#: Below this many val items the fitted temperature comes with a warning.
FEW_CALIBRATION_ITEMS = 30


def check_calibrate(value: object) -> None:
    """Refuse a ``calibrate`` setting other than ``temperature`` or null.

    The one check of ``als4gan query --calibrate`` and the loop's ``calibrate:``.

    Args:
        value: the setting.

    Raises:
        ValueError: If it is not one of :data:`CALIBRATIONS`.
    """
    if value not in CALIBRATIONS:
        msg = f"calibrate must be 'temperature' or null, got {value!r}"
        raise ValueError(msg)


def check_calibration_pool(pool: QueryPool, label_key: str) -> None:
    """Refuse a val split with no labelled item to fit a temperature on.

    Args:
        pool: the datamodule's val items (``query_pool(split='val')``).
        label_key: ``label`` or ``label_multi``.

    Raises:
        ValueError: If the split is empty or its items lack ``label_key``.
    """
    if not len(pool):
        msg = (
            '--calibrate temperature fits on the val split, but it has no items:'
            ' give the datamodule a val split (split_fractions, split_files)'
        )
        raise ValueError(msg)
    if label_key not in pool.dataset[0]:
        msg = f'--calibrate temperature: the val items have no {label_key!r} labels'
        raise ValueError(msg)


@torch.no_grad()
def _logits(
    model: ActiveLearnerTask, pool: QueryPool, label_key: str, batch_size: int
) -> tuple[Tensor, Tensor]:
    """The classifier's logits of every labelled val item, and their labels."""
    data = PoolDataModule(pool, [], range(len(pool)), label_key, batch_size)
    model.eval()
    device = next(model.parameters()).device
    logits, labels = [], []
    for batch in data.predict_dataloader():
        batch = data.on_after_batch_transfer(batch, 0)
        logits.append(model(batch['image'].to(device)).float().cpu())
        labels.append(batch['label'])
    z, y = torch.cat(logits), torch.cat(labels)
    if not model.multilabel:  # scene classes outside the classifier's are left out
        keep = (y >= 0) & (y < z.shape[1])
        z, y = z[keep], y[keep]
    return z, y


def calibrate_classifier(
    model: ActiveLearnerTask,
    pool: QueryPool,
    label_key: str,
    batch_size: int,
    report: Path | None = None,
) -> dict[str, Any]:
    """Fit the classifier's temperature on the val items and set it for scoring.

    Args:
        model: the round's trained classifier (its ``query_temperature`` is set).
        pool: the val items.
        label_key: ``label`` or ``label_multi``.
        batch_size: items per forward.
        report: where to write the figures as JSON (atomically), if anywhere.

    Returns:
        ``temperature``, ``ece_before``, ``ece_after``, ``nll_before``,
        ``nll_after`` (the mean NLL the temperature minimises), ``val_items``
        and ``temperature_low`` / ``temperature_high`` (the 95 % bootstrap
        interval of the fit over the val items).
    """
    z, y = _logits(model, pool, label_key, batch_size)
    multilabel = model.multilabel
    temperature = fit_temperature(z, y, multilabel=multilabel)
    low, high = temperature_interval(z, y, multilabel)
    if len(y) < FEW_CALIBRATION_ITEMS:
        warnings.warn(
            f'--calibrate temperature: T = {temperature:.3f} was fitted on only'
            f' {len(y)} val items (bootstrap 95 % interval [{low:.3f}, {high:.3f}]);'
            f' give the datamodule at least {FEW_CALIBRATION_ITEMS} val items'
            ' for a temperature to trust',
            UserWarning,
            stacklevel=2,
        )

    def ece(t: float) -> float:
        if multilabel:
            return label_calibration_error((z / t).sigmoid(), y)
        return expected_calibration_error((z / t).softmax(dim=1), y)

    def nll(t: float) -> float:
        if multilabel:
            return float(F.binary_cross_entropy_with_logits(z / t, y.float()))
        return float(F.cross_entropy(z / t, y))

    figures = {
        'temperature': temperature, 'ece_before': ece(1.0),
        'ece_after': ece(temperature), 'nll_before': nll(1.0),
        'nll_after': nll(temperature), 'val_items': len(y),
        'temperature_low': low, 'temperature_high': high,
    }  # fmt: skip
    model.query_temperature = temperature
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(report) as tmp:
            tmp.write_text(json.dumps(figures, indent=1))
    return figures
