"""How the distributions of every layer move during training, and how big each step is.

:func:`plot_histograms` (also ``histograms``) draws, one row per layer with parameters, the
histograms of ``a^l`` (or ``z^l``, ``δ^l``) at a few epochs, the 15th–85th percentile band
and the median of ``z^l`` over the epochs, and beside them the update-to-data ratio
‖Δw^l‖/‖w^l‖ of every layer with Karpathy's healthy 10⁻³ (what
:class:`nnmath.callbacks.Histograms`, ``fit(track_histograms=True)``, records).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..diagnostics import layer_statistics
from ..diagnostics.histograms import BINS, HISTOGRAMS, add_entry, new_record
from ..diagnostics.updates import HEALTHY_RATIO
from ._mpl import pyplot, save_figure

__all__ = ["histograms", "plot_histograms"]

#: how each quantity is written on the figure
SYMBOLS = {"z": "$z^l$", "a": "$a^l$", "delta": r"$\delta^l$"}
#: the most epochs whose histograms are drawn over each other
MAX_SHOWN = 5


def _records(source: Any, X: Any, Y: Any, rows: int) -> tuple[dict[str, Any], Any]:
    """The histograms' record and the update ratios' (``None`` for a network measured once)."""
    if hasattr(source, "weights") and hasattr(source, "backprop_columns"):  # a network
        if X is None or Y is None:
            raise ValueError("to measure a network give its data too: histograms(net, X, Y)")
        stats = layer_statistics(source, X[:rows], Y[:rows], arrays=True)
        rec = new_record(stats, BINS)
        add_entry(rec, stats, 0)
        rec["epoch"] = [None]  # measured once, at no known epoch
        return rec, None
    extra = source if isinstance(source, dict) else getattr(source, "extra", {})
    rec = extra.get("histograms")
    if not rec or not rec.get("epoch"):
        raise ValueError(
            "the history has no histograms: train with fit(..., track_histograms=True) or the "
            "callback nnmath.callbacks.Histograms(), or give a network and its data"
        )
    return rec, extra.get("update_ratio")


def _shown(n: int, epochs: Any) -> list[int]:
    """Indices of the entries whose histograms are drawn: ``epochs`` (epochs done), or up to
    :data:`MAX_SHOWN` evenly spread, the first and the last among them."""
    if epochs is not None:
        return list(epochs)
    return sorted(set(np.linspace(0, n - 1, min(n, MAX_SHOWN)).round().astype(int).tolist()))


def plot_histograms(
    source: Any,
    X: Any = None,
    Y: Any = None,
    *,
    quantity: str = "a",
    epochs: list[int] | None = None,
    log: bool | None = None,
    rows: int = 1000,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
    dpi: int = 100,
) -> Any:
    """Per layer: the distribution of ``quantity`` at a few epochs, the percentiles of
    ``z^l`` over the epochs, and the update-to-data ratio of every layer.

    Parameters
    ----------
    source : History, dict, or Network
        A history with the records of :class:`~nnmath.callbacks.Histograms` (or its
        ``extra``); or a network, measured once on the first ``rows`` rows of ``X``, ``Y``
        (then only the histograms are drawn).
    X, Y : arrays, optional
        The network's data (examples as rows; labels or one-hot).
    quantity : {"a", "z", "delta"}
        Whose histograms are drawn.
    epochs : list of int, optional
        Which entries' histograms (indices into ``history.extra["histograms"]["epoch"]``; the
        first is before training); default up to five, evenly spread.
    log : bool, optional
        A log scale for the fractions; default for ``δ^l`` only, whose entries crowd near 0
        with long tails.
    title : str, optional
    path : path-like, optional
        Also save the figure there (``.png``, ``.svg``, ``.pdf``), atomically.
    dpi : int

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When the history holds no histograms, or ``quantity`` is not one of the three.
    """
    if quantity not in HISTOGRAMS:
        raise ValueError(f"quantity must be one of {', '.join(HISTOGRAMS)}, got {quantity!r}")
    rec, ratio = _records(source, X, Y, rows)
    over_time = len(rec["epoch"]) > 1
    n_layers, n_cols = len(rec["layers"]), 1 + over_time + (ratio is not None)
    width = max(4.6 * n_cols, 6.4)
    fig = pyplot().figure(figsize=(width, 0.6 + 2.4 * n_layers), layout="constrained", dpi=dpi)
    grid = fig.add_gridspec(n_layers, n_cols)
    shown = _shown(len(rec["epoch"]), epochs)
    for i in range(n_layers):
        ax = fig.add_subplot(grid[i, 0])
        _histogram_panel(ax, rec, i, quantity, shown)
        if quantity == "delta" if log is None else log:
            ax.set_yscale("log")
        if over_time:
            _percentile_panel(fig.add_subplot(grid[i, 1]), rec, i)
    if ratio is not None:
        _ratio_panel(fig.add_subplot(grid[:, n_cols - 1]), ratio)
    for ax in fig.axes:  # the epochs are the same in every row: one legend per column
        if ax.get_subplotspec().rowspan.start == 0:
            ax.legend(fontsize="x-small", loc="best")
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path, dpi=dpi)
    return fig


histograms = plot_histograms


def _layer_name(rec: dict[str, Any], i: int) -> str:
    acts = rec.get("activations")
    last = i == len(rec["layers"]) - 1
    return f"l = {rec['layers'][i]}" + (f" ({acts[i]})" if acts else "") + (", output" * last)


def _histogram_panel(ax: Any, rec: dict[str, Any], i: int, quantity: str, shown: list[int]) -> None:
    """Step histograms of ``quantity`` at the ``shown`` entries, as fractions of the entries."""
    edges = np.asarray(rec["edges"][quantity][i])
    seen = np.zeros(len(edges) - 1, dtype=bool)
    colors = pyplot().get_cmap("viridis")(np.linspace(0.0, 0.85, max(len(shown), 1)))
    for color, k in zip(colors, shown):
        counts = np.asarray(rec["counts"][quantity][k][i], dtype=float)
        total = counts.sum() + rec["under"][quantity][k][i] + rec["over"][quantity][k][i]
        epoch = rec["epoch"][k]
        label = "measured" if epoch is None else f"epoch {epoch}"
        ax.stairs(counts / max(total, 1), edges, color=color, lw=1.5, label=label)
        seen |= counts > 0
    if seen.any():  # the fixed bins leave room to widen into: show the bins in use
        used = np.flatnonzero(seen)
        ax.set_xlim(edges[max(used[0] - 1, 0)], edges[min(used[-1] + 2, len(edges) - 1)])
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.set_title(f"{_layer_name(rec, i)}: {SYMBOLS[quantity]}", fontsize="medium")
    ax.set_ylabel("fraction of entries")


def _percentile_panel(ax: Any, rec: dict[str, Any], i: int) -> None:
    """The 15th–85th percentile band and the median of ``z^l`` against the epoch."""
    epochs = np.asarray(rec["epoch"], dtype=float)
    p = np.asarray([entry[i] for entry in rec["z_percentiles"]])
    lo, mid, hi = (f"{q:g}" for q in rec["percentiles"])
    ax.fill_between(epochs, p[:, 0], p[:, 2], color="C0", alpha=0.25, label=f"{lo}–{hi}th")
    ax.plot(epochs, p[:, 1], "C0", marker=".", label=f"{mid}th (median)")
    ax.set_title(f"{_layer_name(rec, i)}: percentiles of $z^l$", fontsize="medium")
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)


def _ratio_panel(ax: Any, ratio: dict[str, Any]) -> None:
    """‖Δw^l‖/‖w^l‖ of one step (on copies) per layer against the epoch, log scale."""
    epochs = np.asarray(ratio["epoch"], dtype=float)
    values = np.asarray(ratio["step"], dtype=float)
    for j, layer in enumerate(ratio["layers"]):
        ax.plot(epochs, np.maximum(values[:, j], 1e-30), marker=".", label=f"l = {layer}")
    ax.axhline(HEALTHY_RATIO, color="0.4", ls="--", lw=1, label="1e-3 (healthy)")
    ax.set_yscale("log")
    ax.set_title(r"update ratio $\|\Delta w^l\|/\|w^l\|$ (one step)", fontsize="medium")
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
