"""Loading pretrained weights from a local file, with a report of what matched."""

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from ..checks.checkpoints import read_torch_file

__all__ = (
    'REPORT_KIND',
    'WeightsReport',
    'load_local_weights',
    'load_torch_file',
    'pretrain_report',
    'read_state_dict',
    'report_path',
    'state_dict_of',
)

logger = logging.getLogger(__name__)

#: ``kind`` of the JSON report ``als4gan pretrain`` writes next to its weights.
REPORT_KIND = 'als4gan-pretrain'

#: Prefixes stripped from checkpoint keys until they match the model's keys.
PREFIXES = ('module.', 'model.', 'backbone.', 'encoder.', 'generator.')


@dataclass
class WeightsReport:
    """What happened when loading a state dict into a model."""

    #: File the weights came from.
    path: str
    #: Model keys that received a tensor.
    loaded: list[str] = field(default_factory=list)
    #: Model keys that the file does not provide (they keep their initialisation).
    missing: list[str] = field(default_factory=list)
    #: File keys that the model does not have.
    unexpected: list[str] = field(default_factory=list)
    #: Keys present in both with different shapes (not loaded), e.g. a new head.
    mismatched: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        """Summarize the report in a few lines.

        Returns:
            The summary.
        """
        lines = [
            f'Weights {self.path!r}: loaded {len(self.loaded)} tensors,'
            f' {len(self.missing)} missing, {len(self.unexpected)} unexpected,'
            f' {len(self.mismatched)} with another shape'
        ]
        for name in ('missing', 'unexpected', 'mismatched'):
            keys: list[str] = getattr(self, name)
            if keys:
                more = f' (+{len(keys) - 8} more)' if len(keys) > 8 else ''
                lines.append(f'  {name}: {", ".join(keys[:8])}{more}')
        return '\n'.join(lines)


def load_torch_file(path: str | os.PathLike[str]) -> Any:
    """Load a ``.pt``/``.pth``/``.ckpt`` file on the CPU, naming it on failure.

    Args:
        path: the file.

    Returns:
        Whatever the file holds.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not a PyTorch file (text, truncated, ...).
    """
    return read_torch_file(path, 'Weights file')


def state_dict_of(content: Any, path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """The tensors of a loaded file: a state dict, a checkpoint or a module.

    Args:
        content: what :func:`load_torch_file` returned.
        path: the file, for the message.

    Returns:
        The tensors by key.

    Raises:
        ValueError: If it holds no state dict.
    """
    if isinstance(content, Mapping) and 'state_dict' in content:
        content = content['state_dict']
    if isinstance(content, nn.Module):
        content = content.state_dict()
    if not isinstance(content, Mapping) or not all(
        isinstance(v, Tensor) for v in content.values()
    ):
        msg = f'Weights file {os.fspath(path)!r} holds no state dict of tensors'
        raise ValueError(msg)
    return dict(content)


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read a state dict from a ``.pt``/``.pth`` file or a Lightning checkpoint.

    Args:
        path: the file.

    Returns:
        The tensors by key.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file is not a PyTorch file (text, truncated, ...) or
            holds no state dict.
    """
    return state_dict_of(load_torch_file(path), path)


def report_path(weights: str | os.PathLike[str]) -> Path:
    """Where the report of a weights file lives: ``<name>.json`` next to it.

    Args:
        weights: the weights file.

    Returns:
        The report path.
    """
    return Path(weights).with_suffix('.json')


def pretrain_report(weights: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The report of weights written by ``als4gan pretrain``, if there is one.

    Args:
        weights: a weights file.

    Returns:
        The report, or None for other weights files.
    """
    path = report_path(weights)
    if not path.is_file():
        return None
    try:
        report = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    if not isinstance(report, dict) or report.get('kind') != REPORT_KIND:
        return None
    return report


def _check_pretrained(
    path: str | os.PathLike[str],
    state: dict[str, Tensor],
    target: dict[str, Tensor],
    usable: dict[str, Tensor],
) -> None:
    """Refuse pretrained weights for another band count or another backbone."""
    report = pretrain_report(path)
    if report is None:
        return
    first = next((k for k, v in state.items() if v.ndim == 4), None)
    if (
        first is not None
        and first in target
        and target[first].shape[1] != state[first].shape[1]
    ):
        msg = (
            f'Weights {os.fspath(path)!r} were pretrained on'
            f' {state[first].shape[1]} bands ({report.get("backbone")},'
            f' {report.get("in_channels")} in its report); this model takes'
            f' {target[first].shape[1]}: pretrain on the same bands'
        )
        raise ValueError(msg)
    if len(usable) < len(state) / 2:
        msg = (
            f'Weights {os.fspath(path)!r} hold a pretrained {report.get("backbone")!r}'
            f' encoder, but only {len(usable)} of its {len(state)} tensors fit this'
            ' model: pretrain the backbone this model uses'
        )
        raise ValueError(msg)


def _match_keys(state: dict[str, Tensor], model_keys: set[str]) -> dict[str, Tensor]:
    """Strip common wrapper prefixes until the keys overlap the model's most."""
    best = state
    best_hits = len(model_keys.intersection(state))
    frontier = [state]
    while frontier:
        current = frontier.pop()
        for prefix in PREFIXES:
            stripped = {
                k.removeprefix(prefix): v
                for k, v in current.items()
                if k.startswith(prefix)
            }
            if not stripped:
                continue
            hits = len(model_keys.intersection(stripped))
            if hits > best_hits:
                best, best_hits = stripped, hits
                frontier.append(stripped)
    return best


def load_local_weights(model: nn.Module, path: str | os.PathLike[str]) -> WeightsReport:
    """Load weights from a local file into ``model`` and report what matched.

    Keys are matched after stripping wrapper prefixes (``module.``, ``model.``,
    ``backbone.``, ...). Tensors whose shape differs from the model's (a head for
    another number of classes, another band count) are not loaded and are listed.
    The report is logged as a warning whenever anything did not match.

    Args:
        model: the model to load into.
        path: a ``.pt``/``.pth`` state dict or a Lightning ``.ckpt``.

    Returns:
        The report.

    Raises:
        ValueError: If no tensor of the file matches the model (the weights
            would otherwise be silently ignored).
    """
    target = model.state_dict()
    state = _match_keys(read_state_dict(path), set(target))
    report = WeightsReport(os.fspath(path))
    usable: dict[str, Tensor] = {}
    for key, value in state.items():
        if key not in target:
            report.unexpected.append(key)
        elif target[key].shape != value.shape:
            report.mismatched.append(key)
        else:
            usable[key] = value
    _check_pretrained(path, state, target, usable)
    report.loaded = sorted(usable)
    report.missing = sorted(set(target) - set(usable) - set(report.mismatched))
    if not usable:
        msg = (
            f'None of the {len(state)} tensors in weights file {report.path!r} match'
            f' the {type(model).__name__} model (e.g. file key'
            f' {next(iter(state), None)!r}, model key {next(iter(target), None)!r})'
        )
        raise ValueError(msg)
    model.load_state_dict(usable, strict=False)
    if report.missing or report.unexpected or report.mismatched:
        logger.warning('%s', report)
    else:
        logger.info('%s', report)
    return report
