"""Image records, patch windows, and choosing the records of a split."""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from .utils import read_id_list, stratified_split

__all__ = ('ImageRecord', 'NonGeoPatch', 'select_records')


class NonGeoPatch(NamedTuple):
    """A square window of one image of a NonGeo dataset.

    ``row`` and ``col`` may be negative or reach past the image: the outside part is
    padded (image with 0, mask with the ignore index).
    """

    #: Index of the image in ``dataset.records``.
    image: int
    #: Top row of the window in image pixels.
    row: int
    #: Left column of the window in image pixels.
    col: int
    #: Side of the window in pixels.
    size: int


@dataclass(frozen=True)
class ImageRecord:
    """One image file of a dataset, with its optional mask and scene label."""

    #: Stable id, e.g. ``agricultural05``.
    id: str
    #: Path of the image file.
    image: str
    #: Path of the index mask, or None when the image is unlabelled.
    mask: str | None = None
    #: Scene class index, or -1 when the image has none.
    label: int = -1


def select_records(
    records: list[ImageRecord],
    split: str,
    split_file: str | os.PathLike[str] | Sequence[str] | None,
    fractions: Sequence[float],
    seed: int,
    root: str | os.PathLike[str],
) -> list[ImageRecord]:
    """The records of one split: listed ids, or a seeded stratified split.

    Args:
        records: every record of the dataset.
        split: ``train``, ``val``, ``test`` or ``all``.
        split_file: a file of ids, or the ids themselves, or None.
        fractions: train/val/test fractions (without ``split_file``).
        seed: seed of the split (stratified by the records' scene label).
        root: the dataset folder, for the error.

    Returns:
        The records, in the listed order or the split's.

    Raises:
        ValueError: If listed ids are not in the dataset (a few are named).
    """
    if split_file is not None:
        if isinstance(split_file, list | tuple):
            wanted = [str(i) for i in split_file]
            where = f'the {split} id list'
        else:
            assert not isinstance(split_file, Sequence) or isinstance(split_file, str)
            wanted = read_id_list(split_file)
            where = f'split file {os.fspath(split_file)!r}'
        by_id = {record.id: record for record in records}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            msg = (
                f'{len(missing)} ids in {where} are'
                f' not in the dataset at {root!r}, e.g. {missing[:5]}'
            )
            raise ValueError(msg)
        return [by_id[i] for i in wanted]
    if split == 'all':
        return records
    chosen = stratified_split([r.label for r in records], fractions, seed)
    return [records[i] for i in chosen[split]]
