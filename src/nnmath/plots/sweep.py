"""Figures of a sweep's summary: speed of learning of the first hidden layer and accuracy,
each against depth, one line per combination of the other swept parameters."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._mpl import pyplot, save_figure

__all__ = ["plot_accuracy_vs_depth", "plot_speed_vs_depth", "plot_sweep"]


def _lines(
    summary: Sequence[Mapping[str, Any]], metric: str
) -> dict[str, list[tuple[int, float, float]]]:
    """label -> [(depth, mean, std)], sorted by depth; the label names the other parameters."""
    if not summary:
        raise ValueError("the sweep summary is empty: nothing to plot")
    if "depth" not in summary[0]:
        raise ValueError(
            "the plots need depth as a swept parameter (give more than one depth)"
        )
    others = [k for k in summary[0] if k not in ("depth", "n", "diverged")
              and not k.endswith(("_mean", "_std"))]
    lines: dict[str, list[tuple[int, float, float]]] = {}
    for g in summary:
        mean = g.get(f"{metric}_mean")
        if mean is None:
            continue
        label = ", ".join(str(g[k]) for k in others) or metric
        lines.setdefault(label, []).append((int(g["depth"]), float(mean),
                                            float(g.get(f"{metric}_std") or 0.0)))
    return {k: sorted(v) for k, v in lines.items()}


def _plot(lines: dict[str, list[tuple[int, float, float]]], ylabel: str, title: str,
          log: bool, path: str | os.PathLike[str]) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, pts in lines.items():
        d = [p[0] for p in pts]
        m = [p[1] for p in pts]
        s = [p[2] for p in pts]
        (line,) = ax.plot(d, m, marker="o", label=label)
        pairs = list(zip(m, s, strict=True))
        lo = [max(mi - si, mi * 1e-3) if log else mi - si for mi, si in pairs]
        hi = [mi + si for mi, si in pairs]
        ax.fill_between(d, lo, hi, color=line.get_color(), alpha=0.15, linewidth=0)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("depth (hidden layers)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    depths = sorted({p[0] for pts in lines.values() for p in pts})
    ax.set_xticks(depths)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small", ncol=2 if len(lines) > 6 else 1)
    return save_figure(fig, path)


def plot_speed_vs_depth(summary: Sequence[Mapping[str, Any]],
                        path: str | os.PathLike[str], layer: int = 1) -> Path:
    """Mean ‖∂C/∂b^l‖ of hidden layer ``layer`` at initialisation against depth (log scale),
    shaded ± one standard deviation over seeds.

    Parameters
    ----------
    summary : rows of :func:`nnmath.sweep.summarize` (needs ``depth`` and ``speed_l<layer>``)
    path : output file (.png, .svg, .pdf)
    """
    lines = _lines(summary, f"speed_l{layer}")
    if not lines:
        raise ValueError(f"no speed_l{layer} in the summary: run a 'vanishing' sweep")
    return _plot(lines, f"speed of learning of hidden layer {layer}, ‖∂C/∂b‖ at init",
                 f"Vanishing gradients: hidden layer {layer} against depth", True, path)


def plot_accuracy_vs_depth(summary: Sequence[Mapping[str, Any]],
                           path: str | os.PathLike[str]) -> Path:
    """Mean validation accuracy after training against depth, ± one standard deviation."""
    lines = _lines(summary, "validation_accuracy")
    return _plot(lines, "validation accuracy after training", "Accuracy against depth", False,
                 path)


def plot_sweep(summary: Sequence[Mapping[str, Any]], directory: str | os.PathLike[str]
               ) -> list[Path]:
    """Write ``sweep_speed.png`` (vanishing sweeps) and ``sweep_accuracy.png`` into
    ``directory``; returns the paths written."""
    directory = Path(directory)
    paths = []
    if summary and "speed_l1_mean" in summary[0]:
        paths.append(plot_speed_vs_depth(summary, directory / "sweep_speed.png"))
    paths.append(plot_accuracy_vs_depth(summary, directory / "sweep_accuracy.png"))
    return paths
