"""The active learner's pools of a georeferenced datamodule (a mixin)."""

from collections.abc import Sequence
from typing import cast

import geopandas as gpd
from torch import Tensor

from ..datasets import GeoImagery, GeoSegmentationScene
from .pool import FootprintPatches, QueryPool

__all__ = ('FootprintPoolsMixin',)


class FootprintPoolsMixin:
    """``query_pool`` and ``labelling_pool`` over a footprint table.

    The datamodule provides ``_build`` (the footprint table with ``split``), the
    imagery and its labelled scene, and the class and normalization settings.
    """

    scene: GeoSegmentationScene | None
    imagery: GeoImagery | None
    classes: tuple[str, ...]
    ignore_index: int
    context: bool
    context_by_corner: dict[tuple[float, float], Tensor]
    norm_mean: Sequence[float] | float
    norm_std: Sequence[float] | float
    patch_size: int | tuple[int, int]

    def _build(self) -> gpd.GeoDataFrame:
        raise NotImplementedError  # the datamodule's

    def query_pool(
        self, presence_threshold: float = 0.05, split: str = 'train'
    ) -> QueryPool:
        """The train footprints as the active learner's pool.

        Each item's ``label`` is the dominant class of its mask and ``label_multi``
        the classes covering at least ``presence_threshold`` of it; the pool
        carries the footprints so selections can be written as a GeoPackage.

        Args:
            presence_threshold: fraction of labelled pixels for ``label_multi``.
            split: ``train`` (the pool), or ``val`` (held-out labelled patches,
                e.g. to calibrate the classifier on).

        Returns:
            The pool.

        Raises:
            ValueError: If there are no labels (the classifier learns from them).
        """
        footprints = self._build()
        if self.scene is None:
            msg = (
                'The query pool needs label_paths: the classifier learns from the'
                ' labels of the selected patches'
            )
            raise ValueError(msg)
        train = footprints[footprints['split'] == split].reset_index(drop=True)
        dataset = FootprintPatches(
            self.scene, train, cast(int, self.patch_size), len(self.classes),
            self.ignore_index, presence_threshold,
            self.context_by_corner if self.context else None,
        )  # fmt: skip
        return QueryPool(
            dataset, list(train['id']), self.classes, self.norm_mean, self.norm_std,
            footprints=train, multi_classes=self.classes,
        )  # fmt: skip

    def labelling_pool(self) -> tuple[QueryPool, set[str]]:
        """Every patch outside val and test as a pool, with or without a mask.

        For labelling in rounds (``als4gan loop`` in labelling mode): the
        items are the train patches and every patch of the imagery the labels do
        not cover, read from the imagery alone, in grid order (stable while
        masks are added: the split comes from ``label_paths``).

        Returns:
            The pool (no image-level labels) and the ids that have a mask
            (``label_paths`` or ``added_label_paths``).

        Raises:
            ValueError: If there are no ``label_paths`` (val and test come from
                them).
        """
        footprints = self._build()
        if self.scene is None:
            msg = (
                'Labelling in rounds needs label_paths for the val and test patches'
                ' (the pool is everything else)'
            )
            raise ValueError(msg)
        assert self.imagery is not None
        inside = footprints['split'].isin(['train', 'unlabeled'])
        pool = footprints[inside].reset_index(drop=True)
        dataset = FootprintPatches(
            self.imagery, pool, cast(int, self.patch_size), len(self.classes),
            self.ignore_index,
            context=self.context_by_corner if self.context else None,
        )  # fmt: skip
        labelled = set(pool.loc[pool['split'] == 'train', 'id'])
        query_pool = QueryPool(
            dataset, list(pool['id']), (), self.norm_mean, self.norm_std,
            footprints=pool,
        )  # fmt: skip
        return query_pool, labelled
