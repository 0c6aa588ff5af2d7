"""Checks a datamodule runs in ``setup`` so that a wrong config fails at once."""

from collections.abc import Iterable, Sequence
from typing import Any

from torch import Tensor
from torchgeo.trainers import SemanticSegmentationTask

from .metadata import datamodule_classes

__all__ = ('MASKS_CHECKED', 'check_labelled_masks', 'check_model_classes')

#: Labelled masks read by :func:`check_labelled_masks` (the first ones).
MASKS_CHECKED = 64


def check_model_classes(datamodule: Any) -> None:
    """Refuse a segmentation model whose ``num_classes`` is not the data's.

    Only segmentation tasks attached to a trainer are checked (the datamodule
    may also feed other tasks, or be set up without a trainer).

    Args:
        datamodule: the datamodule being set up.

    Raises:
        ValueError: If the model predicts another number of classes.
    """
    trainer = getattr(datamodule, 'trainer', None)
    module = getattr(trainer, 'lightning_module', None) if trainer else None
    if not isinstance(module, SemanticSegmentationTask):
        return
    expected = module.hparams.get('num_classes')
    classes = datamodule_classes(datamodule)
    if expected is None or classes is None or int(expected) == len(classes):
        return
    msg = (
        f'model num_classes is {expected} but the data has {len(classes)} classes'
        f' {list(classes)}: set --model.init_args.num_classes={len(classes)}'
    )
    raise ValueError(msg)


def check_labelled_masks(
    masks: Iterable[Tensor],
    classes: Sequence[str],
    ignore_index: int,
    source: str,
    raw_values: Iterable[Any] = (),
) -> None:
    """Refuse a labelled set whose masks hold no labelled pixel at all.

    This happens when every mask value lies outside the classes (masks stored
    as 1..C for 0-based classes, a colour mask, the wrong ``ignore_value``):
    training would then see only ignored pixels and learn nothing, silently.

    Args:
        masks: decoded masks of (the first) labelled items.
        classes: class names.
        ignore_index: mask value of unlabelled pixels.
        source: what the masks are, for the message.
        raw_values: a few raw mask values, for the message.

    Raises:
        ValueError: If no mask holds a pixel of a class.
    """
    count = 0
    for mask in masks:
        count += 1
        valid = (mask != ignore_index) & (mask >= 0) & (mask < len(classes))
        if bool(valid.any()):
            return
    if count == 0:
        return
    seen = sorted({int(v) for v in raw_values})
    found = f' (values found: {seen[:10]})' if seen else ''
    msg = (
        f'The first {count} labelled masks of {source} hold no pixel of the'
        f' {len(classes)} classes {list(classes)}{found}: every pixel would be'
        ' ignored. Mask values must be class indices 0..'
        f'{len(classes) - 1} in the order of classes'
    )
    raise ValueError(msg)
