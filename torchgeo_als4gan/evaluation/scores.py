"""Segmentation scores from a confusion matrix."""

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ('segmentation_scores',)


def segmentation_scores(
    confusion: Tensor, classes: Sequence[str] | None = None
) -> dict[str, float | dict[str, float | None]]:
    """Pixel accuracy, mean accuracy, frequency-weighted IoU, mIoU and per-class IoU.

    ``confusion[i, j]`` counts pixels of true class ``i`` predicted as ``j``
    (ignored pixels excluded), as torchmetrics' ``MulticlassConfusionMatrix``
    gives it. A class that is neither in the ground truth nor predicted has no
    IoU (``None``) and is left out of the mean: mIoU is the mean over present
    classes. Mean accuracy averages the recall of the classes present in the
    ground truth. Frequency-weighted IoU weights each IoU by the class's share of
    ground-truth pixels.

    Args:
        confusion: [C, C] counts.
        classes: class names (default ``"0"``, ``"1"``, ...).

    Returns:
        ``pixel_accuracy``, ``mean_accuracy``, ``fw_iou``, ``miou`` and
        ``per_class_iou`` (name -> IoU or None).

    Raises:
        ValueError: If ``confusion`` is not square or ``classes`` has another
            length.
    """
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        msg = f'confusion must be a square matrix, got shape {tuple(confusion.shape)}'
        raise ValueError(msg)
    n = confusion.shape[0]
    names = list(classes) if classes is not None else [str(i) for i in range(n)]
    if len(names) != n:
        msg = f'{len(names)} class names for a {n}x{n} confusion matrix'
        raise ValueError(msg)
    cm = confusion.detach().double().cpu()
    true_pixels = cm.sum(dim=1)
    tp = cm.diagonal()
    union = true_pixels + cm.sum(dim=0) - tp
    total = cm.sum()
    present = union > 0
    iou = torch.where(present, tp / union.clamp_min(1), torch.nan)
    in_truth = true_pixels > 0
    recall = tp[in_truth] / true_pixels[in_truth]
    freq = true_pixels / total.clamp_min(1)
    nan_to_zero = torch.nan_to_num(iou, nan=0.0)
    return {
        'pixel_accuracy': float(tp.sum() / total.clamp_min(1)),
        'mean_accuracy': float(recall.mean()) if recall.numel() else 0.0,
        'fw_iou': float((freq * nan_to_zero).sum()),
        'miou': float(iou[present].mean()) if bool(present.any()) else 0.0,
        'per_class_iou': {
            name: (float(v) if bool(p) else None)
            for name, v, p in zip(names, iou, present, strict=True)
        },
    }
