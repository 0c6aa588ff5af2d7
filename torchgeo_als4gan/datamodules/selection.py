"""The labelled subset: random baseline by ratio, or a selection file."""

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..datasets.utils import read_id_list, strip_image_extension

__all__ = (
    'check_labeled_ratio',
    'labeled_count',
    'random_selection',
    'read_selection',
    'resolve_selection',
)


def check_labeled_ratio(ratio: float) -> float:
    """Check that a labelled ratio is in (0, 1].

    Args:
        ratio: fraction of the pool to label.

    Returns:
        The ratio.

    Raises:
        ValueError: If it is outside (0, 1].
    """
    if not (isinstance(ratio, int | float) and 0 < ratio <= 1):
        msg = f'labeled_ratio must be in (0, 1], got {ratio!r}'
        raise ValueError(msg)
    return float(ratio)


def labeled_count(ratio: float, pool_size: int) -> int:
    """Number of items to label: ``ceil(ratio * pool_size)``.

    The active learner uses the same rule, so random and active selections of one
    ratio always have the same size (ALS4GAN used ceil for one and floor for the
    other).

    Args:
        ratio: fraction in (0, 1].
        pool_size: number of items in the pool.

    Returns:
        The count, at most ``pool_size``.
    """
    check_labeled_ratio(ratio)
    # round() first so that 0.05 * 1679 = 83.95000000000002 is not pushed up by noise
    return min(math.ceil(round(ratio * pool_size, 9)), pool_size)


def random_selection(ids: Sequence[str], ratio: float, seed: int) -> list[str]:
    """Pick ``labeled_count(ratio, len(ids))`` ids uniformly at random.

    Args:
        ids: the pool.
        ratio: fraction in (0, 1].
        seed: seed of the draw.

    Returns:
        The chosen ids, in pool order.
    """
    k = labeled_count(ratio, len(ids))
    chosen = np.random.default_rng(seed).permutation(len(ids))[:k]
    return [ids[i] for i in sorted(chosen.tolist())]


#: What each kind of selection file must hold, for error messages.
_FORMATS = {
    '.npy': 'a NumPy array of ids (np.save)',
    '.csv': 'a CSV table with an "id" column',
}


def _read_ids(file: Path, suffix: str) -> list[str]:
    if suffix == '.npy':
        try:
            array = np.load(file, allow_pickle=False)
        except ValueError:
            # ALS4GAN saved Python lists, which numpy stores as object arrays.
            array = np.load(file, allow_pickle=True)
        return [strip_image_extension(str(v).strip()) for v in np.ravel(array)]
    if suffix == '.csv':
        import pandas as pd

        frame = pd.read_csv(file, dtype={'id': str})
    else:
        import geopandas as gpd

        frame = gpd.read_file(file)
    if 'id' not in frame.columns:
        msg = f'Selection file {os.fspath(file)!r} has no "id" column: {list(frame.columns)}'
        raise ValueError(msg)
    return [str(v) for v in frame['id']]


def read_selection(path: str | os.PathLike[str]) -> list[str]:
    """Read the ids of a selection file.

    Accepted formats: the ALS4GAN ``.npy`` array of ids (a trailing image
    extension such as ``.tif`` is stripped; folders and other dots are kept),
    our CSV with an ``id`` column, a GeoPackage / GeoJSON / Shapefile of
    footprints with an ``id`` column, or a text file with one id per line.

    Args:
        path: the file.

    Returns:
        The ids in file order.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it cannot be read as its format, has no ``id`` column or
            no ids (the message names the file).
    """
    file = Path(path)
    if not file.is_file():
        msg = f'Selection file {os.fspath(path)!r} does not exist'
        raise FileNotFoundError(msg)
    suffix = file.suffix.lower()
    if suffix in {'.npy', '.csv', '.gpkg', '.geojson', '.json', '.shp', '.parquet'}:
        try:
            ids = _read_ids(file, suffix)
        except ValueError as error:
            if 'no "id" column' in str(error):
                raise
            kind = _FORMATS.get(suffix, f'a vector file ({suffix}) with an "id" column')
            msg = f'Selection file {os.fspath(path)!r} is not {kind}: {error}'
            raise ValueError(msg) from error
        except Exception as error:
            kind = _FORMATS.get(suffix, f'a vector file ({suffix}) with an "id" column')
            msg = (
                f'Selection file {os.fspath(path)!r} is not {kind}:'
                f' {type(error).__name__}: {error}'
            )
            raise ValueError(msg) from error
    else:
        try:
            ids = read_id_list(file)
        except UnicodeDecodeError as error:
            msg = (
                f'Selection file {os.fspath(path)!r} is not a text list of ids'
                f' (one per line): {error}'
            )
            raise ValueError(msg) from error
    ids = [i for i in ids if i]
    if not ids:
        msg = f'Selection file {os.fspath(path)!r} contains no ids'
        raise ValueError(msg)
    return list(dict.fromkeys(ids))


def resolve_selection(
    selected: Sequence[str],
    patch_ids: Sequence[str],
    image_ids: Sequence[str] | None = None,
    source: str = 'selection',
) -> list[int]:
    """Turn selected ids into pool indices.

    An id may name a patch, or a whole image, which then selects all its patches.
    An id that matches neither but whose last path component is the id of
    exactly one item (ALS4GAN stored ``folder/name`` paths) selects that item.

    Args:
        selected: ids from the selection.
        patch_ids: id of every pool item.
        image_ids: image id of every pool item (None when items are images).
        source: name of the selection, used in the error message.

    Returns:
        Sorted pool indices.

    Raises:
        ValueError: If ids are not in the pool (a few are listed).
    """
    by_patch = {pid: i for i, pid in enumerate(patch_ids)}
    by_image: dict[str, list[int]] = {}
    for i, image_id in enumerate(image_ids or []):
        by_image.setdefault(image_id, []).append(i)
    by_name: dict[str, list[int]] = {}
    for i, pid in enumerate(patch_ids):
        by_name.setdefault(pid.rsplit('/', 1)[-1], []).append(i)
    indices: set[int] = set()
    missing: list[str] = []
    for sid in selected:
        name = sid.rsplit('/', 1)[-1]
        if sid in by_patch:
            indices.add(by_patch[sid])
        elif sid in by_image:
            indices.update(by_image[sid])
        elif name != sid and len(by_name.get(name, [])) == 1:
            indices.add(by_name[name][0])
        else:
            missing.append(sid)
    if missing:
        msg = (
            f'{len(missing)} of {len(selected)} ids in {source} are not in the'
            f' training pool, e.g. {missing[:5]}'
        )
        raise ValueError(msg)
    return sorted(indices)
