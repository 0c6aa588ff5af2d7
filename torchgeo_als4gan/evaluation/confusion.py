"""Confusion matrices of a model over a split: the one builder every score uses."""

from typing import Any

import torch
from torch import Tensor, nn
from torchgeo.datamodules import BaseDataModule

__all__ = ('batch_confusion', 'confusion_on_split', 'item_confusions')


def _split_loader(datamodule: BaseDataModule, split: str) -> Any:
    datamodule.setup('validate' if split == 'val' else 'test')
    return (
        datamodule.val_dataloader() if split == 'val' else datamodule.test_dataloader()
    )


def item_confusions(
    prediction: Tensor, target: Tensor, num_classes: int, ignore_index: int | None
) -> Tensor:
    """One confusion matrix per item of a batch.

    Args:
        prediction: class indices [B, H, W].
        target: true classes [B, H, W]; ``ignore_index`` (and values outside the
            classes) left out.
        num_classes: classes.
        ignore_index: mask value left out.

    Returns:
        [B, C, C] counts (rows: truth), as torchmetrics counts them.
    """
    batch = target.shape[0]
    target = target.reshape(batch, -1).long()
    prediction = prediction.reshape(batch, -1).long()
    valid = (target >= 0) & (target < num_classes)
    if ignore_index is not None:
        valid &= target != ignore_index
    item = torch.arange(batch, device=target.device)[:, None].expand_as(target)
    index = (item * num_classes + target) * num_classes + prediction
    counts = torch.bincount(index[valid], minlength=batch * num_classes**2)
    return counts.reshape(batch, num_classes, num_classes)


def batch_confusion(
    prediction: Tensor, target: Tensor, num_classes: int, ignore_index: int | None
) -> Tensor:
    """The confusion matrix of a batch (the sum of :func:`item_confusions`).

    Args:
        prediction: class indices [B, H, W].
        target: true classes [B, H, W].
        num_classes: classes.
        ignore_index: mask value left out.

    Returns:
        [C, C] counts (rows: truth).
    """
    return item_confusions(prediction, target, num_classes, ignore_index).sum(0)


@torch.no_grad()
def confusion_on_split(
    model: nn.Module,
    datamodule: BaseDataModule,
    split: str,
    num_classes: int,
    ignore_index: int | None,
    device: torch.device,
    per_item: bool = False,
) -> Tensor:
    """Accumulate the confusion matrix of a model over a split.

    Batches go through the datamodule's device transfer and its evaluation
    normalization, exactly as in ``trainer.validate``/``trainer.test``.

    Args:
        model: the segmentation model (logits [B, C, H, W]).
        datamodule: the datamodule.
        split: ``val`` or ``test``.
        num_classes: classes.
        ignore_index: mask value left out.
        device: where to run.
        per_item: one matrix per item (image, patch) in loader order, for
            bootstrap intervals, instead of their sum.

    Returns:
        The [C, C] confusion matrix (rows: truth), or [N, C, C] per item.
    """
    model.eval().to(device)
    aug = getattr(datamodule, f'{split}_aug', None) or datamodule.aug
    total = torch.zeros(num_classes, num_classes, dtype=torch.long, device=device)
    items: list[Tensor] = []
    for batch in _split_loader(datamodule, split):
        batch = datamodule.transfer_batch_to_device(batch, device, 0)
        batch = aug(batch)
        # tasks whose evaluated network reads more than the image say how
        evaluation_logits = getattr(model, 'evaluation_logits', None)
        logits = (
            evaluation_logits(batch) if evaluation_logits else model(batch['image'])
        )
        if per_item:
            items.append(
                item_confusions(
                    logits.argmax(dim=1), batch['mask'], num_classes, ignore_index
                ).cpu()
            )
            continue
        total += batch_confusion(
            logits.argmax(dim=1), batch['mask'], num_classes, ignore_index
        )
    if per_item:
        empty = torch.zeros(0, num_classes, num_classes, dtype=torch.long)
        return torch.cat(items) if items else empty
    return total.cpu()
