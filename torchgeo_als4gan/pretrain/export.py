"""The pretrained encoder as a weights file every ``weights:`` argument reads, plus its report."""

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..files import atomic_write
from ..models.weights import REPORT_KIND, report_path

__all__ = ('export_encoder',)


def export_encoder(
    state_dict: dict[str, Tensor], path: str | os.PathLike[str], report: dict[str, Any]
) -> Path:
    """Write the timm backbone's weights and a JSON report, atomically.

    The file is ``{'state_dict': {'model.<timm key>': tensor},
    'hyper_parameters': {'model': <timm name>}}``: what TorchGeo's own tasks
    read as local weights (``torchgeo.trainers.utils.extract_backbone``:
    ``SemanticSegmentationTask``, ``ClassificationTask``, SimCLR / MoCo) and
    what ours read (the ``model.`` prefix is stripped when matching keys).

    Args:
        state_dict: the task's state dict (``backbone.*`` keys are kept,
            without the prefix; the projection head and momentum copies are
            left out).
        path: the ``.pt`` file.
        report: what the report says (backbone, bands, normalization, pool,
            epochs, final loss, embedding std, ...).

    Returns:
        The weights file.

    Raises:
        ValueError: If the state dict has no ``backbone.`` tensors.
    """
    encoder = {
        'model.' + k.removeprefix('backbone.'): v.detach().cpu()
        for k, v in state_dict.items()
        if k.startswith('backbone.')
    }
    if not encoder:
        msg = 'the pretraining checkpoint has no backbone.* tensors to export'
        raise ValueError(msg)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    content = {'state_dict': encoder, 'hyper_parameters': {'model': report['backbone']}}
    with atomic_write(out) as tmp:
        torch.save(content, tmp)
    with atomic_write(report_path(out)) as tmp:
        tmp.write_text(json.dumps({'kind': REPORT_KIND, **report}, indent=2) + '\n')
    return out
