"""Self-supervised pretraining on the unlabelled pool: ``als4gan pretrain``."""

from ..models.weights import pretrain_report
from .data import PretrainDataModule, labeled_val_items
from .export import export_encoder
from .guard import CollapseGuard, PretrainingCollapsedError, embedding_std, knn_accuracy

__all__ = (
    'CollapseGuard',
    'PretrainDataModule',
    'PretrainingCollapsedError',
    'embedding_std',
    'export_encoder',
    'knn_accuracy',
    'labeled_val_items',
    'pretrain_report',
)
