"""What a trained model needs from its datamodule at prediction time."""

from typing import Any

from torch.utils.data import Subset

from ..checks import file_pixel_statistics

__all__ = (
    'CONTEXT_ENCODING',
    'INFERENCE_KEY',
    'checkpoint_metadata',
    'datamodule_bands',
    'datamodule_classes',
    'image_files',
    'inference_metadata',
    'training_pixel_range',
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


def image_files(datamodule: Any) -> tuple[list[str], list[int] | None]:
    """The image files a datamodule reads, and the 1-based bands it reads from them.

    Args:
        datamodule: one of this package's datamodules.

    Returns:
        The files (empty when the datamodule has none set up) and the bands
        (None: all).
    """
    imagery = getattr(datamodule, 'imagery', None)
    if imagery is not None and hasattr(imagery, 'index'):
        return [str(p) for p in imagery.index.filepath], imagery.band_indexes
    for dataset in _datasets(datamodule):
        records = getattr(dataset, 'records', None)
        if records:
            indexes = getattr(dataset, 'band_indexes', None) or [None]
            return [r.image for r in records], indexes[0]
    return [], None


def datamodule_bands(datamodule: Any) -> int | None:
    """Bands per pixel of a datamodule's images, when it knows them.

    Args:
        datamodule: a datamodule (set up).

    Returns:
        The band count, or None.
    """
    imagery = getattr(datamodule, 'imagery', None)
    count = getattr(imagery, 'band_count', None)
    if count:
        return int(count)
    for dataset in _datasets(datamodule):
        count = getattr(dataset, 'band_count', None)
        if count:
            return int(count)
    return None


def training_pixel_range(datamodule: Any) -> dict[str, Any] | None:
    """Data type and per-band 1st/99th percentiles of the training imagery.

    Computed once per datamodule from up to 8 image files read at reduced
    resolution (:func:`~torchgeo_als4gan.checks.file_pixel_statistics`).

    Args:
        datamodule: one of this package's datamodules (set up).

    Returns:
        The statistics, or None when the datamodule has no image files.
    """
    cached = getattr(datamodule, '_pixel_range', None)
    if cached is not None:
        return dict(cached)
    files, bands = image_files(datamodule)
    stats = file_pixel_statistics(files, bands) if files else None
    if stats is not None:
        datamodule._pixel_range = stats
    return stats


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
        all bands), ``context`` (how batch metadata was encoded, when the
        datamodule gave it; None otherwise) and ``pixel_range`` (data type and
        per-band 1st/99th percentiles of the training imagery, compared with
        new data by ``predict-raster`` and ``evaluate``).
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
        'pixel_range': training_pixel_range(datamodule),
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
