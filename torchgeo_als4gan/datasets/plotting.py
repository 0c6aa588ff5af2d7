"""Figures of segmentation samples shared by all datasets."""

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

__all__ = ('default_colors', 'plot_segmentation')


def default_colors(n: int) -> tuple[tuple[int, int, int], ...]:
    """Distinct RGB colours for ``n`` classes (matplotlib's tab20, repeated).

    Args:
        n: number of classes.

    Returns:
        One (r, g, b) tuple of 0-255 values per class.
    """
    cmap = plt.get_cmap('tab20')
    return tuple(
        tuple(int(255 * channel) for channel in cmap(i % 20)[:3])  # type: ignore[misc]
        for i in range(n)
    )


def plot_segmentation(
    sample: dict[str, Any],
    classes: Sequence[str],
    colors: Sequence[tuple[int, int, int]],
    show_titles: bool = True,
    suptitle: str | None = None,
    ignore_index: int = 255,
) -> Figure:
    """Plot the image, the mask and the prediction of a sample side by side.

    The first three bands are shown stretched to their min/max; ignored pixels are
    drawn black.

    Args:
        sample: dict with ``image`` and optionally ``mask`` and ``prediction``.
        classes: class names.
        colors: RGB colour (0..255) of each class.
        show_titles: whether to title each panel.
        suptitle: optional title of the figure.
        ignore_index: mask value drawn black.

    Returns:
        The figure.
    """
    image = torch.as_tensor(sample['image']).float()
    image = image[:3] if image.shape[0] >= 3 else image[:1].expand(3, -1, -1)
    lo, hi = image.amin(), image.amax()
    rgb = ((image - lo) / (hi - lo).clamp(min=1e-6)).permute(1, 2, 0).numpy()
    panels: list[tuple[str, Any]] = [('Image', rgb)]
    for key, title in (('mask', 'Mask'), ('prediction', 'Prediction')):
        if key in sample:
            panels.append((title, sample[key]))
    n = len(classes)
    cmap = ListedColormap([np.array(c) / 255 for c in colors] + [np.zeros(3)])
    fig, axs = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4), squeeze=False)
    for ax, (title, data) in zip(axs[0], panels, strict=False):
        if title == 'Image':
            ax.imshow(data)
        else:
            values = torch.as_tensor(data).clone().long().squeeze()
            values[(values < 0) | (values >= n) | (values == ignore_index)] = n
            ax.imshow(values.numpy(), cmap=cmap, vmin=0, vmax=n, interpolation='none')
        ax.axis('off')
        if show_titles:
            ax.set_title(title)
    if suptitle is not None:
        fig.suptitle(suptitle)
    return fig
