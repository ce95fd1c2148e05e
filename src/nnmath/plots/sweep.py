"""Figures of a sweep's summary: speed of learning of the first hidden layer and accuracy,
each against depth, one line per combination of the other swept parameters."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._mpl import pyplot, save_figure

__all__ = ["plot_accuracy_vs_depth", "plot_speed_vs_depth", "plot_sweep"]


Line = list[tuple[int, float, float]]


def _panel_key(summary: Sequence[Mapping[str, Any]]) -> str | None:
    """``init`` gets one panel per value when it varies together with something else."""
    keys = _others(summary)
    if "init" in keys and len(keys) > 1 and len({g["init"] for g in summary}) > 1:
        return "init"
    return None


def _others(summary: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        k
        for k in summary[0]
        if k not in ("depth", "n", "diverged") and not k.endswith(("_mean", "_std"))
    ]


def _lines(
    summary: Sequence[Mapping[str, Any]], metric: str, panel: str | None
) -> dict[Any, dict[str, Line]]:
    """panel value -> label -> [(depth, mean, std)] sorted by depth; the label names the other
    grouping parameters."""
    if not summary:
        raise ValueError("the sweep summary is empty: nothing to plot")
    if "depth" not in summary[0]:
        raise ValueError("the plots need depth in the summary (group by depth)")
    others = [k for k in _others(summary) if k != panel]
    panels: dict[Any, dict[str, Line]] = {}
    for g in summary:
        mean = g.get(f"{metric}_mean")
        if mean is None:
            continue
        label = ", ".join(str(g[k]) for k in others) or metric
        panels.setdefault(g[panel] if panel else None, {}).setdefault(label, []).append(
            (int(g["depth"]), float(mean), float(g.get(f"{metric}_std") or 0.0))
        )
    return {p: {k: sorted(v) for k, v in lines.items()} for p, lines in panels.items()}


def _plot(
    panels: dict[Any, dict[str, Line]],
    ylabel: str,
    title: str,
    log: bool,
    path: str | os.PathLike[str],
    panel: str | None,
    marks: dict[Any, list[tuple[int, float, str]]] | None = None,
) -> Path:
    """One panel per value of ``panel``; each line its mean against depth with a shaded band
    of ± one standard deviation (named in the legend); ``marks``: per panel, red crosses at
    (depth, y) with their annotation (diverged runs)."""
    from matplotlib.patches import Patch

    plt = pyplot()
    n = len(panels)
    fig, axes = plt.subplots(
        1,
        n,
        figsize=(4.2 * n if n > 1 else 6.4, 4.6),
        sharey=True,
        squeeze=False,
        layout="constrained",  # titles and labels are never clipped
    )
    for ax, (value, lines) in zip(axes[0], panels.items(), strict=True):
        for label, pts in lines.items():
            d = [p[0] for p in pts]
            m = [p[1] for p in pts]
            pairs = [(p[1], p[2]) for p in pts]
            (line,) = ax.plot(d, m, marker="o", label=label)
            lo = [max(mi - si, mi * 1e-3) if log else mi - si for mi, si in pairs]
            hi = [mi + si for mi, si in pairs]
            ax.fill_between(d, lo, hi, color=line.get_color(), alpha=0.15, linewidth=0)
        for depth, y, note in (marks or {}).get(value, []):
            ax.plot([depth], [y], "x", color="firebrick", ms=9, mew=2)
            ax.annotate(
                note,
                (depth, y),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize=7,
                color="firebrick",
            )
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("depth (hidden layers)")
        ax.set_xticks(sorted({p[0] for pts in lines.values() for p in pts}))
        ax.grid(True, which="major", alpha=0.3)
        if panel:
            ax.set_title(f"{panel} = {value}")
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Patch(color="0.5", alpha=0.3, linewidth=0))
        labels.append("shaded: ± 1 standard deviation over seeds")
        if marks and any(marks.values()):
            handles.append(ax.plot([], [], "x", color="firebrick", mew=2)[0])
            labels.append("runs that diverged (left out of the mean)")
        ax.legend(handles, labels, fontsize="small", ncol=2 if len(lines) > 6 else 1)
    axes[0][0].set_ylabel(ylabel)
    fig.suptitle(title)
    return save_figure(fig, path, tight=False)


def plot_speed_vs_depth(
    summary: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], layer: int = 1
) -> Path:
    """Mean ‖∂C/∂b^l‖ of hidden layer ``layer`` at initialisation against depth (log scale),
    shaded ± one standard deviation over seeds; one line per combination of the other swept
    parameters, one panel per ``init`` when the initialisation was swept too.

    Parameters
    ----------
    summary : rows of :func:`nnmath.sweep.summarize` (needs ``depth`` and ``speed_l<layer>``)
    path : output file (.png, .svg, .pdf)
    """
    panel = _panel_key(summary)
    panels = _lines(summary, f"speed_l{layer}", panel)
    if not panels:
        raise ValueError(f"no speed_l{layer} in the summary: run a 'vanishing' sweep")
    return _plot(
        panels,
        f"‖∂C/∂b$^{{{layer + 1}}}$‖ of hidden layer {layer} (l = {layer + 1}) at initialisation",
        f"Speed of learning of hidden layer {layer} against depth",
        True,
        path,
        panel,
    )


def plot_accuracy_vs_depth(
    summary: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    rows: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Mean validation accuracy (%) after training against depth, ± one standard deviation.

    Runs that diverged end at chance accuracy and would pull the means down unseen: with the
    results table's ``rows`` they are left out of the means (a red × where every run of a
    point diverged); without them, the points holding diverged runs are marked. The title
    says how many of the runs diverged.

    Parameters
    ----------
    summary : rows of :func:`nnmath.sweep.summarize` (needs ``depth``)
    path : output file (.png, .svg, .pdf)
    rows : the results table's rows, optional (``diverged`` column)
    """
    panel = _panel_key(summary)
    total = sum(int(g.get("n", 0)) for g in summary)
    diverged = sum(int(g.get("diverged") or 0) for g in summary)
    if rows is not None and diverged:
        summary = _without_diverged(summary, rows)
    panels = {
        p: {k: [(d, 100 * m, 100 * s) for d, m, s in pts] for k, pts in lines.items()}
        for p, lines in _lines(summary, "validation_accuracy", panel).items()
    }
    marks: dict[Any, list[tuple[int, float, str]]] = {}
    for g in summary:
        k = int(g.get("diverged") or 0)
        if k:
            mean = g.get("validation_accuracy_mean")
            y = 0.0 if mean is None else 100 * float(mean)
            note = f"{k}/{g['n']} diverged" + ("" if rows is not None else " (in the mean)")
            marks.setdefault(g[panel] if panel else None, []).append((int(g["depth"]), y, note))
    for value in marks:
        panels.setdefault(value, {})
    title = "Accuracy against depth"
    if diverged:
        title += f" ({diverged} of {total} runs diverged)"
    return _plot(panels, "validation accuracy after training (%)", title, False, path, panel, marks)


def _without_diverged(
    summary: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``summary`` with each group's accuracy mean and standard deviation over the runs that
    did not diverge (``None`` where all did); ``n`` and ``diverged`` as they were."""
    keys = [
        k for k in summary[0] if k not in ("n", "diverged") and not k.endswith(("_mean", "_std"))
    ]
    out = []
    for g in summary:
        accs = [
            float(r["validation_accuracy"])
            for r in rows
            if all(r.get(k) == g[k] for k in keys)
            and not r.get("diverged")
            and isinstance(r.get("validation_accuracy"), (int, float))
        ]
        h = dict(g)
        h["validation_accuracy_mean"] = float(np.mean(accs)) if accs else None
        h["validation_accuracy_std"] = float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0
        out.append(h)
    return out


def plot_sweep(
    summary: Sequence[Mapping[str, Any]],
    directory: str | os.PathLike[str],
    rows: Sequence[Mapping[str, Any]] | None = None,
) -> list[Path]:
    """Write ``sweep_speed.png`` (vanishing sweeps) and ``sweep_accuracy.png`` into
    ``directory``; returns the paths written. ``rows`` (the results table) lets the accuracy
    figure leave diverged runs out of its means (:func:`plot_accuracy_vs_depth`)."""
    directory = Path(directory)
    paths = []
    if summary and "speed_l1_mean" in summary[0]:
        paths.append(plot_speed_vs_depth(summary, directory / "sweep_speed.png"))
    paths.append(plot_accuracy_vs_depth(summary, directory / "sweep_accuracy.png", rows))
    return paths
