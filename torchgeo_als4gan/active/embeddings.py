"""Per-patch embeddings of a segmenter for diverse batches (``feature``, ``badge``).

Both read the input of the segmenter's classifier, the last ``Conv2d`` whose
output channels are the classes (found by :class:`ClassifierInput`, so any
network of the package works: DeepLab, U-Net, the hypercolumn head):

- :func:`pooled_features`: the mean feature over a patch's valid pixels.
- :func:`badge_embedding`: BADGE's gradient embedding of that last layer with
  the predicted class as label, ``mean_pixels((p - onehot(argmax p)) h^T)``,
  whose norm grows with the uncertainty; reduced to a fixed width by a seeded
  random projection (:func:`projection`), which keeps distances
  (Johnson-Lindenstrauss) and the memory of a large pool small.
"""

import math
from types import TracebackType

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ('ClassifierInput', 'badge_embedding', 'pooled_features', 'projection')


def _valid_at(valid: Tensor | None, features: Tensor) -> Tensor:
    """The valid-pixel mask [B, h, w] at the features' resolution."""
    b, _, h, w = features.shape
    if valid is None:
        return torch.ones(b, h, w, dtype=torch.bool, device=features.device)
    if valid.shape[-2:] != (h, w):
        resized = F.interpolate(valid[:, None].float(), size=(h, w), mode='nearest')
        return resized[:, 0] > 0
    return valid.bool()


def pooled_features(features: Tensor, valid: Tensor | None = None) -> Tensor:
    """The mean feature vector of each patch over its valid pixels.

    Args:
        features: [B, D, h, w] classifier input.
        valid: [B, H, W] pixels that count (any resolution; default: all).

    Returns:
        [B, D] float32 (zeros for a patch without valid pixels).
    """
    mask = _valid_at(valid, features).unsqueeze(1).float()
    total = (features.float() * mask).flatten(2).sum(dim=2)
    return total / mask.flatten(2).sum(dim=2).clamp_min(1)


def badge_embedding(
    logits: Tensor,
    features: Tensor,
    valid: Tensor | None = None,
    project: Tensor | None = None,
) -> Tensor:
    """BADGE's gradient embedding of a 1x1 classifier, averaged over pixels.

    For cross-entropy with the predicted class ``y`` as label, the gradient of
    a pixel's loss with respect to the classifier weights is
    ``(p - onehot(y)) h^T``; its mean over the patch's valid pixels is the
    patch's embedding (``C * D`` values).

    Args:
        logits: [B, C, h, w] classifier output (at the features' resolution,
            already divided by any temperature).
        features: [B, D, h, w] classifier input.
        valid: [B, H, W] pixels that count (default: all).
        project: [C * D, E] projection (None: the full ``C * D``).

    Returns:
        [B, E] (or [B, C * D]) float32; zeros for a confident patch.
    """
    probs = logits.float().softmax(dim=1)
    hard = F.one_hot(probs.argmax(dim=1), probs.shape[1]).permute(0, 3, 1, 2)
    mask = _valid_at(valid, features).unsqueeze(1).float()
    grad = (probs - hard) * mask
    count = mask.flatten(1).sum(dim=1).clamp_min(1)
    outer = torch.einsum('bchw,bdhw->bcd', grad, features.float())
    flat = outer.flatten(1) / count[:, None]
    return flat if project is None else flat @ project.to(flat.device)


def projection(rows: int, width: int, seed: int = 0) -> Tensor:
    """A seeded Gaussian random projection ``[rows, width]`` (scaled by 1/sqrt(width)).

    Args:
        rows: input width (``C * D``).
        width: output width.
        seed: the projection's seed (fixed: every round embeds alike).

    Returns:
        The projection matrix (the identity when ``width >= rows``:
        nothing to reduce).
    """
    if width >= rows:
        return torch.eye(rows)
    generator = torch.Generator().manual_seed(seed)
    matrix: Tensor = torch.randn(rows, width, generator=generator)
    return matrix.div(math.sqrt(width))


class ClassifierInput:
    """Records the input and output of a network's classifier during a forward.

    Hooks every ``Conv2d`` of ``module`` whose output channels are the
    classes; after a forward, :attr:`features` and :attr:`logits` are those of
    the last one that ran (a task holding a student and a teacher runs one of
    them). Use as a context manager; the hooks are removed on exit.
    """

    def __init__(self, module: nn.Module, num_classes: int) -> None:
        """Initialize a new ClassifierInput.

        Args:
            module: the task or network.
            num_classes: the classifier's output channels.

        Raises:
            ValueError: If no such ``Conv2d`` exists.
        """
        self.layers = [
            m
            for m in module.modules()
            if isinstance(m, nn.Conv2d) and m.out_channels == num_classes
        ]
        if not self.layers:
            msg = (
                f'{type(module).__name__} has no Conv2d with {num_classes} output'
                ' channels: cannot find its classifier for the embeddings'
            )
            raise ValueError(msg)
        self.features: Tensor | None = None
        self.logits: Tensor | None = None
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def _record(
        self, layer: nn.Module, inputs: tuple[Tensor, ...], output: Tensor
    ) -> None:
        self.features, self.logits = inputs[0], output

    def __enter__(self) -> 'ClassifierInput':
        """Hook the classifiers.

        Returns:
            Itself.
        """
        self._handles = [m.register_forward_hook(self._record) for m in self.layers]
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Remove the hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
