"""Masks whose values are not the class indices a model is trained on."""

from torch import Tensor

__all__ = ('check_class_indices',)


def check_class_indices(
    mask: Tensor, num_classes: int, ignore_index: int | None
) -> None:
    """Check that a mask holds only class indices or the ignore index.

    Args:
        mask: class indices [B, H, W].
        num_classes: number of classes.
        ignore_index: value of unlabelled pixels.

    Raises:
        ValueError: If a value is outside ``[0, num_classes)`` and not ignored.
    """
    values = mask.long()
    if ignore_index is not None:
        values = values[values != ignore_index]
    if values.numel() and (int(values.min()) < 0 or int(values.max()) >= num_classes):
        msg = (
            f'mask values must be in [0, {num_classes}) or the ignore index'
            f' {ignore_index}, got values {int(values.min())}..{int(values.max())}:'
            ' does num_classes match the dataset?'
        )
        raise ValueError(msg)
