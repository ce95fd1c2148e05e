"""Nielsen's chapter-6 figures: a convolutional layer's learned filters, and the feature maps
one example gives.

* :func:`plot_filters` — every kernel ``w^l[o, c]`` of a Conv2D layer as a small image, on
  one shared grey scale (darker is a larger weight, as in the book), one row per input
  channel when there are several;
* :func:`plot_feature_maps` — one example ``x`` and the maps ``a^l[o]`` of a Conv2D or
  pooling layer (``a^l = σ(z^l)``: what the next layer sees), each on its own scale.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..backend import to_numpy
from ._mpl import pyplot, save_figure

__all__ = ["feature_maps", "filters", "plot_feature_maps", "plot_filters"]

PathLike = str | os.PathLike[str]


def _image_layer(net: Any, layer: int | None, kinds: tuple[str, ...]) -> tuple[int, Any]:
    """``(l, layer)``: layer ``l`` of ``net.layers`` (the Input is 1), or the first one of
    ``kinds`` when ``layer`` is None. Raises ValueError naming what was wrong."""
    layers = getattr(net, "layers", None) if getattr(net, "layered", False) else None
    if layers is None:
        raise ValueError(
            "this figure needs a network of layers with a convolution, e.g. "
            "nm.Network([Input((1, 28, 28)), Conv2D(20, 5), ...]); a dense Network has none"
        )
    if layer is None:
        found = [j + 1 for j, lay in enumerate(layers) if lay.name in kinds]
        if not found:
            raise ValueError(f"the network has no {' or '.join(kinds)} layer: {net.layers!r}")
        layer = found[0]
    if not 2 <= layer <= len(layers) or layers[layer - 1].name not in kinds:
        choices = [j + 1 for j, lay in enumerate(layers) if lay.name in kinds]
        raise ValueError(f"layer={layer} is not a {' or '.join(kinds)} layer; choose {choices}")
    return layer, layers[layer - 1]


def _framed(ax: Any) -> None:
    """No ticks, a thin grey frame: a white map stays visible as a square."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#999999")
        spine.set_linewidth(0.6)


def _grid(n: int, ncols: int) -> tuple[int, int]:
    cols = max(1, min(ncols, n))
    return -(-n // cols), cols


def plot_filters(
    net: Any,
    layer: int | None = None,
    *,
    ncols: int = 10,
    panel_size: float = 0.9,
    path: PathLike | None = None,
    dpi: int = 100,
) -> Any:
    """The kernels of a Conv2D layer (Nielsen, chapter 6: "the 20 images correspond to 20
    different weights, or filters"): ``w^l[o, c]`` (``k × k``) for every feature map ``o`` and
    input channel ``c``, on one shared scale, darker for larger weights.

    Parameters
    ----------
    net : Network of layers
    layer : int, optional
        ``l`` of the Conv2D layer (its position in ``net.layers``, the Input is 1); default
        the first convolution.
    ncols : int
        Kernels per row (one channel's kernels start a new row).
    panel_size : float
        Inches per kernel.
    path, dpi
        Save the figure (format from the suffix) when ``path`` is given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    l, conv = _image_layer(net, layer, ("conv2d",))
    W = np.asarray(to_numpy(conv.W), dtype=np.float64)  # (out, in, k, k)
    out, channels = W.shape[:2]
    rows_per, cols = _grid(out, ncols)
    limit = float(np.max(np.abs(W))) or 1.0
    plt = pyplot()
    fig, axes = plt.subplots(
        rows_per * channels,
        cols,
        figsize=(cols * panel_size + 1.0, rows_per * channels * panel_size + 0.6),
        layout="constrained",
        squeeze=False,
    )
    image = None
    for c in range(channels):
        for o in range(rows_per * cols):
            ax = axes[c * rows_per + o // cols, o % cols]
            ax.set_axis_off()
            if o < out:
                _framed(ax)
                ax.set_axis_on()
                image = ax.imshow(W[o, c], cmap="binary", vmin=-limit, vmax=limit)
                ax.set_title(f"{o}" if channels == 1 else f"{o}, c{c}", fontsize=7, pad=2)
    fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
    inputs = f"{channels} input channel" + ("s" if channels > 1 else "")
    fig.suptitle(f"layer {l}: {conv!r}, {out} kernels of {W.shape[2]}×{W.shape[3]} ({inputs})")
    if path is not None:
        save_figure(fig, path, dpi=dpi)
    return fig


def plot_feature_maps(
    net: Any,
    x: Any,
    layer: int | None = None,
    *,
    max_maps: int = 40,
    ncols: int = 10,
    panel_size: float = 0.9,
    path: PathLike | None = None,
    dpi: int = 100,
) -> Any:
    """One example and the feature maps ``a^l[o]`` it gives at a Conv2D or pooling layer.

    Parameters
    ----------
    net : Network of layers
    x : array-like, one example: ``(C·H·W,)``, ``(C, H, W)`` or ``(1, …)``
    layer : int, optional
        ``l`` of a Conv2D, MaxPool2D or AvgPool2D layer; default the first convolution.
    max_maps : int
        At most this many maps (the first ones).
    ncols, panel_size, path, dpi
        As :func:`plot_filters`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    l, chosen = _image_layer(net, layer, ("conv2d", "maxpool2d", "avgpool2d"))
    rows = net.check_inputs(np.asarray(x).reshape(1, -1))
    a = to_numpy(rows).T  # one column: (C·H·W, 1)
    for lay in net.layers[:l]:
        a = lay.forward(a).a
    maps = np.asarray(to_numpy(a), dtype=np.float64)[..., 0][:max_maps]  # (out, Ho, Wo)
    image = np.asarray(to_numpy(rows), dtype=np.float64).reshape(net.layers[0].shape)
    n_rows, cols = _grid(len(maps), ncols)
    plt = pyplot()
    fig = plt.figure(
        figsize=(cols * panel_size + 2.2, max(n_rows * panel_size, 1.8) + 0.6),
        layout="constrained",
    )
    left, right = fig.subfigures(1, 2, width_ratios=[2.0, cols * panel_size])
    ax = left.subplots()
    ax.imshow(image[0], cmap="binary")
    _framed(ax)
    ax.set_title("x" if image.shape[0] == 1 else "x, channel 0", fontsize=9)
    axes = right.subplots(n_rows, cols, squeeze=False)
    for o in range(n_rows * cols):
        ax = axes[o // cols, o % cols]
        ax.set_axis_off()
        if o < len(maps):
            _framed(ax)
            ax.set_axis_on()
            ax.imshow(maps[o], cmap="binary")
            ax.set_title(str(o), fontsize=7, pad=2)
    more = f" (first {len(maps)})" if len(maps) < chosen.output_shape[0] else ""
    right.suptitle(f"layer {l}: {chosen!r}, $a^{{{l}}}$: {len(maps)} maps{more}", fontsize=9)
    if path is not None:
        save_figure(fig, path, dpi=dpi)
    return fig


#: the short names: ``nm.plots.filters(net)``, ``nm.plots.feature_maps(net, x)``
filters = plot_filters
feature_maps = plot_feature_maps
