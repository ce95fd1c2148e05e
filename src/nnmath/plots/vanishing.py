"""Figures of the vanishing gradient problem: the speed of learning ‖∂C/∂b^l‖ per layer.

Two shapes, chosen from the data:

* during training (more than one recorded epoch): one panel per network, log-scale speed
  against epoch, one line per hidden layer (as in Nielsen's chapter 5 figures), with the
  min–max band over seeds;
* at initialisation only: one panel per architecture, log-scale speed against the hidden
  layer, one line per activation / initialisation, with min–max error bars over seeds.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._mpl import pyplot, save_figure

__all__ = ["plot_speeds"]


def plot_speeds(
    results: Sequence[dict[str, Any]],
    path: str | os.PathLike[str],
    title: str | None = None,
) -> Path:
    """Draw the speed of learning of every hidden layer and save it (PNG, SVG or PDF).

    Parameters
    ----------
    results : sequence of dict
        One per network, as produced by ``nnmath vanishing --json``: keys ``label``,
        ``sizes``, ``layers`` (lecture numbers of the hidden layers), ``epoch`` (list, length
        E), ``mean``, ``min`` and ``max`` (lists of E lists, one float per hidden layer).
    path : path-like
        Output file; the suffix picks the format.
    title : str, optional

    Returns
    -------
    Path
    """
    if not results:
        raise ValueError("nothing to plot: results is empty")
    plt = pyplot()
    over_epochs = any(len(r["epoch"]) > 1 for r in results)
    if over_epochs:
        panels = [[r] for r in results]
    else:
        by_sizes: dict[tuple[int, ...], list[dict[str, Any]]] = {}
        for r in results:
            by_sizes.setdefault(tuple(r["sizes"]), []).append(r)
        panels = list(by_sizes.values())
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        if over_epochs:
            _epochs_panel(ax, panel[0])
        else:
            _init_panel(ax, panel)
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def _epochs_panel(ax: Any, r: dict[str, Any]) -> None:
    epochs = r["epoch"]
    for j, l in enumerate(r["layers"]):
        mean = [row[j] for row in r["mean"]]
        (line,) = ax.plot(epochs, mean, label=f"hidden layer {l - 1} (l = {l})")
        if len(r.get("seeds", [0])) > 1:
            lo = [row[j] for row in r["min"]]
            hi = [row[j] for row in r["max"]]
            ax.fill_between(epochs, lo, hi, color=line.get_color(), alpha=0.15, linewidth=0)
    if len(r.get("seeds", [0])) > 1:  # the bands say what they are
        ax.fill_between([], [], [], color="0.5", alpha=0.3, label="shaded: min–max over seeds")
    ax.set_title(r["label"], fontsize=9)
    ax.set_xlabel("epoch")
    ax.set_ylabel("speed of learning ‖∂C/∂b$^l$‖")


def _init_panel(ax: Any, panel: list[dict[str, Any]]) -> None:
    for r in panel:
        layers = [l - 1 for l in r["layers"]]  # hidden layer 1, 2, ...
        mean, lo, hi = r["mean"][0], r["min"][0], r["max"][0]
        err = [[m - a for m, a in zip(mean, lo)], [b - m for m, b in zip(mean, hi)]]
        ax.errorbar(
            layers, mean, yerr=err, marker="o", capsize=3, label=f"{r['activation']}, {r['init']}"
        )
        if r.get("book"):
            ax.plot(layers, r["book"], "kx", markersize=8, label="Nielsen ch. 5 (one draw)")
    ax.set_title("network " + ",".join(map(str, panel[0]["sizes"])), fontsize=9)
    ax.set_xlabel("hidden layer")
    ax.set_xticks(sorted({l - 1 for r in panel for l in r["layers"]}))
    ax.set_ylabel("speed at initialisation ‖∂C/∂b$^l$‖")
