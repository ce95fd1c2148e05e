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

#: the y axis: Nielsen's speed of learning, with a real superscript
SPEED = r"speed of learning $\|\partial C/\partial b^l\|$"
#: lines of different activations often coincide (ReLU and leaky ReLU at initialisation):
#: each gets its own marker and dash, and a small sideways shift
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
DASHES = ("-", "--", "-.", ":")


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
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(4.2 * ncols + (0 if over_epochs else 2.6), 3.4 * nrows + 0.8),
        squeeze=False,
        layout="constrained",  # titles, labels and the legends are never clipped
    )
    for ax, panel in zip(axes.flat, panels, strict=False):
        if over_epochs:
            _epochs_panel(ax, panel[0])
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
        else:
            _init_panel(ax, panel)
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    for row in axes:
        row[0].set_ylabel(SPEED if over_epochs else SPEED + " at initialisation")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    if not over_epochs:  # the same lines in every panel: one legend, right of the panels
        axes.flat[ncols - 1].legend(
            fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0
        )
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, tight=False)


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
    from matplotlib.ticker import MaxNLocator

    ax.set_title(r["label"], fontsize=9)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _remedy(r: dict[str, Any], compared: bool) -> str:
    """The remedy of a network in its label, when the panel compares remedies (a
    batch-normalised layer's speed is its β's)."""
    remedy = r.get("remedy", "plain")
    if not compared:
        return ""
    if remedy == "batch_norm":
        return r", batch norm ($\|\partial C/\partial \beta^l\|$)"
    return f", {remedy.replace('_', ' ')}"


def _init_panel(ax: Any, panel: list[dict[str, Any]]) -> None:
    """One line per activation / initialisation against the hidden layer, each with its own
    marker and dash and shifted sideways, so that coinciding lines stay visible."""
    shift = 0.06
    compared = len({r.get("remedy", "plain") for r in panel}) > 1
    for i, r in enumerate(panel):
        dx = (i - (len(panel) - 1) / 2) * shift
        layers = [l - 1 + dx for l in r["layers"]]  # hidden layer 1, 2, ...
        mean, lo, hi = r["mean"][0], r["min"][0], r["max"][0]
        err = [[m - a for m, a in zip(mean, lo)], [b - m for m, b in zip(mean, hi)]]
        ax.errorbar(
            layers,
            mean,
            yerr=err,
            marker=MARKERS[i % len(MARKERS)],
            capsize=3,
            ls=DASHES[i % len(DASHES)],
            ms=5,
            label=f"{r['activation']}, {r['init']}{_remedy(r, compared)}",
        )
    for r in panel:
        if r.get("book"):
            layers = [l - 1 for l in r["layers"]]
            ax.plot(
                layers, r["book"], "kx", markersize=8, zorder=5, label="Nielsen ch. 5 (one draw)"
            )
            break
    ax.set_title("network " + ",".join(map(str, panel[0]["sizes"])), fontsize=9)
    ax.set_xlabel("hidden layer (min–max over seeds; lines shifted apart)")
    ax.set_xticks(sorted({l - 1 for r in panel for l in r["layers"]}))
