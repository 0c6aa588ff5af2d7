"""The images a self-supervised task pretrains on, and the labelled val items it is checked on."""

from typing import Any

import torch
from lightning import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader

from ..datamodules.loaders import infinite_batches_loader
from ..datamodules.pool import PoolItems, QueryPool
from ..transforms import SegmentationAugmentation

__all__ = ('PretrainDataModule', 'labeled_val_items', 'pretraining_pool')


def pretraining_pool(data: Any) -> QueryPool:
    """Every training item of a datamodule, labelled or not.

    Rasters: every patch outside val and test (``labelling_pool``); tile
    folders, UC Merced, DeepGlobe: the whole train split (``query_pool``).

    Args:
        data: one of our datamodules.

    Returns:
        The pool.

    Raises:
        TypeError: If the datamodule cannot list its training items.
    """
    if hasattr(data, 'labelling_pool'):
        pool: QueryPool = data.labelling_pool()[0]
        return pool
    if hasattr(data, 'query_pool'):
        pool = data.query_pool()
        return pool
    msg = f'data class {type(data).__name__} cannot list its training items for pretraining'
    raise TypeError(msg)


class PretrainDataModule(LightningDataModule):
    """Batches of pool images, normalized with the segmentation data's statistics.

    The self-supervised task draws its own two views of each image.
    """

    def __init__(
        self, pool: QueryPool, batch_size: int, num_workers: int = 0, seed: int = 0
    ) -> None:
        """Initialize a new PretrainDataModule.

        Args:
            pool: the items.
            batch_size: images per batch.
            num_workers: data loading workers.
            seed: seed of the batch order.

        Raises:
            ValueError: If the pool is smaller than one batch (contrastive
                losses need the batch's other images as negatives).
        """
        super().__init__()
        if len(pool) < batch_size:
            msg = (
                f'the pretraining pool has {len(pool)} items, fewer than one batch of'
                f' {batch_size}: lower batch_size or add imagery'
            )
            raise ValueError(msg)
        self.pool, self.batch_size = pool, batch_size
        self.num_workers, self.seed = num_workers, seed
        self.items = PoolItems(pool.dataset, 'label')
        self.aug = SegmentationAugmentation(pool.mean, pool.std, None, False)

    def train_dataloader(self) -> DataLoader[dict[str, Any]]:
        """One pass over the pool per epoch, full batches.

        Returns:
            The loader.
        """
        return infinite_batches_loader(
            self.items, len(self.pool), self.batch_size,
            len(self.pool) // self.batch_size, self.seed, self.num_workers,
        )  # fmt: skip

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Normalize the images (the task augments them).

        Args:
            batch: the batch.
            dataloader_idx: loader index.

        Returns:
            ``image`` only.
        """
        return {'image': self.aug({'image': batch['image']})['image']}


@torch.no_grad()
def labeled_val_items(data: Any, limit: int = 512) -> tuple[Tensor, Tensor] | None:
    """Normalized val images and their image-level label, for the k-NN check.

    The label is the scene class when the dataset has one, else the dominant
    class of the mask.

    Args:
        data: one of our segmentation datamodules.
        limit: most items kept.

    Returns:
        ``[N, C, H, W]`` images and ``[N]`` labels, or None without labels.
    """
    try:
        data.setup('validate')
        loader = data.val_dataloader()
    except (ValueError, AttributeError, TypeError):
        return None
    ignore = int(getattr(data, 'ignore_index', 255))
    images, labels = [], []
    aug = getattr(data, 'val_aug', None) or data.aug
    for batch in loader:
        batch = aug(data.transfer_batch_to_device(batch, torch.device('cpu'), 0))
        if 'label' in batch:
            label = batch['label'].long().reshape(len(batch['image']), -1)[:, 0]
        elif 'mask' in batch:
            mask = batch['mask'].long().reshape(len(batch['image']), -1)
            label = torch.stack([
                torch.bincount(m[(m != ignore) & (m >= 0)], minlength=1).argmax()
                if bool(((m != ignore) & (m >= 0)).any()) else torch.tensor(-1)
                for m in mask
            ])  # fmt: skip
        else:
            return None
        keep = label >= 0
        images.append(batch['image'][keep].float())
        labels.append(label[keep])
        if sum(len(x) for x in labels) >= limit:
            break
    if not labels or sum(len(x) for x in labels) < 2:
        return None
    return torch.cat(images)[:limit], torch.cat(labels)[:limit]
