"""What a trained model needs from its datamodule at prediction time."""

from typing import Any

from torch.utils.data import Subset

__all__ = (
    'CONTEXT_ENCODING',
    'INFERENCE_KEY',
    'checkpoint_metadata',
    'datamodule_classes',
    'inference_metadata',
)

#: Key of the prediction metadata inside the datamodule's checkpoint state.
INFERENCE_KEY = 'inference'

#: The context normalization recorded in checkpoints of context datamodules.
CONTEXT_ENCODING = {
    'vector': ['lat / 90', 'lon / 180', 'sin(2 pi doy / 365)', 'cos(2 pi doy / 365)'],
    'location': 'patch centre, EPSG:4326',
}


def _datasets(datamodule: Any) -> list[Any]:
    found = []
    for name in ('train_dataset', 'val_dataset', 'test_dataset', 'scene'):
        dataset = getattr(datamodule, name, None)
        while isinstance(dataset, Subset):
            dataset = dataset.dataset
        if dataset is not None:
            found.append(dataset)
    return found


def datamodule_classes(datamodule: Any) -> tuple[str, ...] | None:
    """Segmentation class names of a datamodule, when it knows them.

    Args:
        datamodule: a datamodule (ours, or any with ``classes`` on it or its
            datasets).

    Returns:
        The class names, or None.
    """
    classes = getattr(datamodule, 'classes', None)
    if classes:
        return tuple(classes)
    for dataset in _datasets(datamodule):
        classes = getattr(dataset, 'classes', None)
        if classes:
            return tuple(classes)
    return None


def _as_list(value: Any) -> list[float] | float:
    if isinstance(value, int | float):
        return float(value)
    return [float(v) for v in value]


def inference_metadata(datamodule: Any) -> dict[str, Any]:
    """Normalization, classes and colours used in training, for the checkpoint.

    Stored in every checkpoint (through the datamodule's ``state_dict``) so that
    applying a model to new rasters needs no other argument.

    Args:
        datamodule: one of this package's datamodules.

    Returns:
        ``mean``, ``std`` (float or per band), ``classes`` (or None),
        ``colors`` (RGB per class, or None), ``ignore_index`` and ``bands``
        (the band selection as given, 1-based indexes or descriptions; None:
        all bands) and ``context`` (how batch metadata was encoded, when the
        datamodule gave it; None otherwise).
    """
    colors = None
    for dataset in _datasets(datamodule):
        found = getattr(dataset, 'colors', None)
        if found:
            colors = [[int(c) for c in color] for color in found]
            break
    classes = datamodule_classes(datamodule)
    return {
        'mean': _as_list(getattr(datamodule, 'norm_mean', 0.0)),
        'std': _as_list(getattr(datamodule, 'norm_std', 1.0)),
        'classes': list(classes) if classes else None,
        'colors': colors,
        'ignore_index': int(getattr(datamodule, 'ignore_index', 255)),
        'bands': _bands(getattr(datamodule, 'bands', None)),
        'context': CONTEXT_ENCODING if getattr(datamodule, 'context', False) else None,
    }


def _bands(value: Any) -> list[int | str] | None:
    if value is None:
        return None
    if isinstance(value, int | str):
        value = [value]
    return [v if isinstance(v, str) else int(v) for v in value]


def checkpoint_metadata(checkpoint: dict[str, Any]) -> dict[str, Any] | None:
    """The :func:`inference_metadata` stored in a loaded Lightning checkpoint.

    Args:
        checkpoint: the loaded checkpoint dict.

    Returns:
        The metadata, or None for checkpoints of other datamodules.
    """
    for value in checkpoint.values():
        if isinstance(value, dict) and isinstance(value.get(INFERENCE_KEY), dict):
            found: dict[str, Any] = value[INFERENCE_KEY]
            return found
    return None
