"""Figures of a sweep's summary, for any grid: the speed of learning of the first hidden layer
and the accuracy, each against the swept parameter (depth when it varies, else η, λ, width, …).

The other swept parameters become line styles (the first the colour, the second the dash, the
third the marker) and panels (``init`` when it varies with something else, or the parameter
with the fewest values when there would be more than 8 lines). A parameter that cannot change
the measure (η for the speed at initialisation: its runs are pooled) or leaves it unchanged
draws no second line; the legend, outside the panels, names every parameter of a line
(``σ = relu, η = 0.5``) and says which were collapsed.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._mpl import pyplot, save_figure

__all__ = ["plot_accuracy_vs_depth", "plot_speed_vs_depth", "plot_sweep"]

#: how a grid parameter is named in a legend or a panel title
NAMES = {
    "activation": "σ",
    "output_activation": "output σ",
    "eta": "η",
    "lmbda": "λ",
    "momentum": "μ",
    "mini_batch_size": "mini-batch",
}
#: the x axis: the first of these that varies, else the first numeric parameter that does
X_ORDER = ("depth", "eta", "lmbda", "width", "momentum", "mini_batch_size", "epochs")
X_LABELS = {
    "depth": "depth (hidden layers)",
    "eta": "learning rate η",
    "lmbda": "L2 regularisation λ",
    "width": "units per hidden layer",
    "momentum": "momentum μ",
    "mini_batch_size": "mini-batch size",
    "epochs": "training epochs",
}
DASHES = ("-", "--", ":", "-.")
#: parameters that act only once training starts: a measure at initialisation does not depend
#: on them, so their runs are pooled into one line (more draws of the same point)
TRAINING_ONLY = ("eta", "lmbda", "optimizer", "momentum", "mini_batch_size", "epochs")
MARKERS = ("o", "s", "^", "D", "v", "P")

Point = tuple[float, float, float]  # x, mean, std


@dataclass
class _Layout:
    """Which parameter is the x axis, which the panels, which tell the lines apart, and
    which were collapsed because the measure does not depend on them."""

    x: str | None
    panel: str | None
    lines: list[str]
    same: dict[str, list[Any]] = field(default_factory=dict)
    categories: list[Any] = field(default_factory=list)
    pooled: tuple[str, ...] = ()


def _params(summary: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        k for k in summary[0] if k not in ("n", "diverged") and not k.endswith(("_mean", "_std"))
    ]


def _values(summary: Sequence[Mapping[str, Any]], key: str) -> list[Any]:
    """The distinct values of ``key``, numbers in order, others in first-seen order."""
    seen = list(dict.fromkeys(g[key] for g in summary))
    return sorted(seen) if all(_is_number(v) for v in seen) else seen


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _text(key: str, value: Any) -> str:
    """``σ = relu``, ``η = 0.5``: a parameter and its value as a legend names it."""
    shown = f"{value:g}" if _is_number(value) else str(value)
    return f"{NAMES.get(key, key)} = {shown}"


def _no_effect(summary: Sequence[Mapping[str, Any]], metric: str, key: str) -> bool:
    """Whether every group that differs only in ``key`` has the same mean ``metric``."""
    others = [k for k in _params(summary) if k != key]
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for g in summary:
        groups.setdefault(tuple(g[k] for k in others), []).append(g.get(f"{metric}_mean"))
    sizes = [len(v) for v in groups.values()]
    if max(sizes, default=0) < 2:
        return False
    return all(
        None not in means and np.allclose(means, means[0], rtol=1e-12, atol=0)
        for means in groups.values()
    )


def _layout(summary: Sequence[Mapping[str, Any]], metric: str, at_init: bool = False) -> _Layout:
    """``at_init``: the measure is taken before training, so the training-only parameters
    are pooled rather than drawn as lines."""
    keys = _params(summary)
    varying = [k for k in keys if len(_values(summary, k)) > 1]
    numeric = [k for k in varying if all(_is_number(v) for v in _values(summary, k))]
    x = next((k for k in X_ORDER if k in varying), numeric[0] if numeric else None)
    if x is None and varying:
        x = varying[0]
    rest = [k for k in varying if k != x]
    pooled = tuple(k for k in rest if at_init and k in TRAINING_ONLY)
    same = {k: _values(summary, k) for k in rest if k in pooled or _no_effect(summary, metric, k)}
    rest = [k for k in rest if k not in same]
    panel = None
    if len(rest) > 1 and "init" in rest:
        panel = "init"
    elif math.prod(len(_values(summary, k)) for k in rest) > 8:  # too many lines for a panel
        panel = min(rest, key=lambda k: len(_values(summary, k)))
    lines = [k for k in rest if k != panel]
    categories = [] if x is None or x in numeric else _values(summary, x)
    return _Layout(x, panel, lines, same, categories, pooled)


def _series(
    summary: Sequence[Mapping[str, Any]], metric: str, layout: _Layout, scale: float
) -> dict[Any, dict[tuple[Any, ...], list[Point]]]:
    """panel value -> the line's values (of ``layout.lines``) -> points sorted by x; the
    groups a collapsed parameter held are pooled (their runs' mean and standard deviation)."""
    parts: dict[Any, dict[tuple[Any, ...], dict[float, list[tuple[int, float, float]]]]] = {}
    for g in summary:
        mean = g.get(f"{metric}_mean")
        if mean is None:
            continue
        line = tuple(g[k] for k in layout.lines)
        pts = parts.setdefault(g[layout.panel] if layout.panel else None, {}).setdefault(line, {})
        std = float(g.get(f"{metric}_std") or 0.0)
        pts.setdefault(_x_of(g, layout), []).append((int(g.get("n") or 1), float(mean), std))
    return {
        p: {k: sorted((x, *_pool(v, scale)) for x, v in pts.items()) for k, pts in lines.items()}
        for p, lines in parts.items()
    }


def _pool(groups: list[tuple[int, float, float]], scale: float) -> tuple[float, float]:
    """Mean and sample standard deviation of the runs of several groups, from each group's
    (runs, mean, standard deviation)."""
    n = sum(k for k, _, _ in groups)
    mean = sum(k * m for k, m, _ in groups) / n
    spread = sum((k - 1) * s**2 + k * (m - mean) ** 2 for k, m, s in groups)
    return scale * mean, scale * (math.sqrt(spread / (n - 1)) if n > 1 else 0.0)


def _x_of(g: Mapping[str, Any], layout: _Layout) -> float:
    if layout.x is None:
        return 0.0
    if layout.categories:
        return float(layout.categories.index(g[layout.x]))
    return float(g[layout.x])


def _styles(
    summary: Sequence[Mapping[str, Any]], layout: _Layout
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Each line's colour (first parameter), dash (second) and marker (third, and the rest)."""
    values = [_values(summary, k) for k in layout.lines]
    out = {}
    for combo in itertools.product(*values):
        style = {"color": "C0", "linestyle": "-", "marker": "o"}
        for i, (key_values, v) in enumerate(zip(values, combo, strict=True)):
            j = key_values.index(v)
            if i == 0:
                style["color"] = f"C{j % 10}"
            elif i == 1:
                style["linestyle"] = DASHES[j % len(DASHES)]
            else:
                style["marker"] = MARKERS[j % len(MARKERS)]
        out[combo] = style
    return out


def _label(layout: _Layout, combo: tuple[Any, ...], metric_name: str) -> str:
    return ", ".join(_text(k, v) for k, v in zip(layout.lines, combo, strict=True)) or metric_name


@dataclass
class _Figure:
    """What one sweep figure shows, besides its series."""

    ylabel: str
    title: str
    log: bool
    metric_name: str
    marks: dict[Any, dict[float, tuple[float, int, int]]] = field(default_factory=dict)
    marks_label: str = ""


def _plot(
    summary: Sequence[Mapping[str, Any]],
    panels: dict[Any, dict[tuple[Any, ...], list[Point]]],
    layout: _Layout,
    spec: _Figure,
    path: str | os.PathLike[str],
) -> Path:
    """One panel per value of ``layout.panel``; each line its mean against x with a band of
    ± one standard deviation; one legend for all panels, outside them, on the right."""
    plt = pyplot()
    names = list(panels) or [None]
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    styles = _styles(summary, layout)
    labels = {c: _label(layout, c, spec.metric_name) for c in styles} or {(): spec.metric_name}
    legend_w = 1.0 + 0.075 * max(len(s) for s in [*labels.values(), spec.marks_label, "x" * 34])
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(3.8 * ncols + legend_w, 3.3 * nrows + 0.7),
        sharey=True,
        squeeze=False,
        layout="constrained",  # titles, labels and the legend are never clipped
    )
    handles: dict[str, Any] = {}
    for ax, value in zip(axes.flat, names, strict=False):
        for combo, pts in panels.get(value, {}).items():
            style = styles.get(combo, {"color": "C0", "linestyle": "-", "marker": "o"})
            xs, m, s = (np.array(c, dtype=float) for c in zip(*pts, strict=True))
            lo = np.maximum(m - s, m * 1e-3) if spec.log else m - s
            (line,) = ax.plot(xs, m, ms=5, label=labels.get(combo, ""), **style)
            ax.fill_between(xs, lo, m + s, color=style["color"], alpha=0.12, linewidth=0)
            handles.setdefault(line.get_label(), line)
        marks = spec.marks.get(value, {})
        xs_all = [p[0] for pts in panels.get(value, {}).values() for p in pts] + list(marks)
        _mark_diverged(ax, marks, handles, spec.marks_label, max(xs_all, default=0.0))
        _axes(ax, summary, layout, spec, value)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel(spec.ylabel)
    order = [labels[c] for c in styles]  # the legend in the order of the grid's values
    rank = {k: order.index(k) if k in order else len(order) for k in handles}
    _legend(axes[0][-1], dict(sorted(handles.items(), key=lambda kv: rank[kv[0]])), layout)
    fig.suptitle(spec.title)
    return save_figure(fig, path, tight=False)


def _axes(
    ax: Any, summary: Sequence[Mapping[str, Any]], layout: _Layout, spec: _Figure, value: Any
) -> None:
    """Scales, the x ticks at the swept values, the x label and the panel's title."""
    from matplotlib.ticker import NullLocator

    if spec.log:
        ax.set_yscale("log")
    if layout.x is None:
        ax.set_xticks([0.0], ["every run"])
    elif layout.categories:
        ax.set_xticks(range(len(layout.categories)), [str(c) for c in layout.categories])
        ax.set_xlim(-0.5, len(layout.categories) - 0.5)
    else:
        xs = _values(summary, layout.x)
        if min(xs) > 0 and max(xs) / min(xs) >= 20:
            ax.set_xscale("log")
        ax.set_xticks(xs, [f"{v:g}" for v in xs])
        ax.xaxis.set_minor_locator(NullLocator())
    if layout.x is not None:
        ax.set_xlabel(X_LABELS.get(layout.x, NAMES.get(layout.x, layout.x)))
    ax.grid(True, which="major", alpha=0.3)
    if layout.panel:
        ax.set_title(_text(layout.panel, value))


def _mark_diverged(
    ax: Any,
    marks: dict[float, tuple[float, int, int]],
    handles: dict[str, Any],
    label: str,
    last: float,
) -> None:
    """A red × at each x where runs diverged, with one ``k/n`` for the whole column (so two
    lines' counts never print over each other); at the ``last`` x it is written leftwards."""
    for x, (y, k, n) in marks.items():
        (cross,) = ax.plot([x], [y], "x", color="firebrick", ms=9, mew=2, label=label)
        handles.setdefault(label, cross)
        left = x == last  # the last column's count stays inside the panel
        ax.annotate(
            f"{k}/{n}",
            (x, y),
            xytext=(-5 if left else 5, 3),
            textcoords="offset points",
            ha="right" if left else "left",
            fontsize=7,
            color="firebrick",
        )


def _legend(ax: Any, handles: dict[str, Any], layout: _Layout) -> None:
    """One legend, right of the top right panel (below the title): the lines, the bands,
    the parameters collapsed into one line."""
    from matplotlib.patches import Patch

    entries = dict(handles)
    entries["shaded: ± 1 standard deviation over seeds"] = Patch(
        color="0.5", alpha=0.3, linewidth=0
    )
    title = None
    if layout.same:  # the measure does not depend on them: one line stands for all
        title = "\n".join(_collapsed(k, vs, k in layout.pooled) for k, vs in layout.same.items())
    ax.legend(
        list(entries.values()),
        list(entries),
        loc="upper left",
        bbox_to_anchor=(1.03, 1.0),
        borderaxespad=0.0,
        fontsize="small",
        title=title,
        title_fontsize="small",
        alignment="left",
    )


def _collapsed(key: str, values: list[Any], pooled: bool) -> str:
    """The legend's note on a parameter drawn as one line for all its values."""
    shown = ", ".join(_text(key, v).split(" = ")[1] for v in values)
    why = "acts only in training: runs pooled" if pooled else "the same values"
    return f"{NAMES.get(key, key)} = {shown}:\n{why}, one line for all"


def _check(summary: Sequence[Mapping[str, Any]]) -> None:
    if not summary:
        raise ValueError("the sweep summary is empty: nothing to plot")


def _x_name(layout: _Layout) -> str:
    return NAMES.get(layout.x, layout.x) if layout.x else "the grid point"


def plot_speed_vs_depth(
    summary: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], layer: int = 1
) -> Path:
    """Mean ‖∂C/∂b^l‖ of hidden layer ``layer`` at initialisation (log scale) against the
    swept parameter (depth when it varies), shaded ± one standard deviation over seeds.

    Parameters
    ----------
    summary : rows of :func:`nnmath.sweep.summarize` (needs ``speed_l<layer>``)
    path : output file (.png, .svg, .pdf)
    layer : the hidden layer (1 is the first)
    """
    _check(summary)
    metric = f"speed_l{layer}"
    if f"{metric}_mean" not in summary[0]:
        raise ValueError(f"no {metric} in the summary: run a 'vanishing' sweep")
    layout = _layout(summary, metric, at_init=True)
    spec = _Figure(
        rf"$\|\partial C/\partial b^{{{layer + 1}}}\|$ of hidden layer {layer} at initialisation",
        f"Speed of learning of hidden layer {layer} (l = {layer + 1}) against {_x_name(layout)}",
        True,
        "speed",
    )
    return _plot(summary, _series(summary, metric, layout, 1.0), layout, spec, path)


def plot_accuracy_vs_depth(
    summary: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    rows: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Mean validation accuracy (%) after training against the swept parameter (depth when
    it varies), ± one standard deviation.

    Runs that diverged end at chance accuracy and would pull the means down unseen: with the
    results table's ``rows`` they are left out of the means (a red × where every run of a
    point diverged); without them, the points holding diverged runs are marked. The title
    says how many of the runs diverged.

    Parameters
    ----------
    summary : rows of :func:`nnmath.sweep.summarize`
    path : output file (.png, .svg, .pdf)
    rows : the results table's rows, optional (``diverged`` column)
    """
    _check(summary)
    total = sum(int(g.get("n", 0)) for g in summary)
    diverged = sum(int(g.get("diverged") or 0) for g in summary)
    if rows is not None and diverged:
        summary = _without_diverged(summary, rows)
    layout = _layout(summary, "validation_accuracy")
    title = f"Accuracy against {_x_name(layout)}"
    if diverged:
        title += f" ({diverged} of {total} runs diverged)"
    spec = _Figure(
        "validation accuracy after training (%)",
        title,
        False,
        "accuracy",
        _marks(summary, layout),
        f"runs that diverged (k/n at that {_x_name(layout)})".replace("that the", "the")
        + (", left out of the mean" if rows is not None else ", still in the mean"),
    )
    panels = _series(summary, "validation_accuracy", layout, 100.0)
    return _plot(summary, panels, layout, spec, path)


def _marks(
    summary: Sequence[Mapping[str, Any]], layout: _Layout
) -> dict[Any, dict[float, tuple[float, int, int]]]:
    """panel -> x -> (y of the highest marked point, diverged runs, runs) over the column."""
    marks: dict[Any, dict[float, tuple[float, int, int]]] = {}
    for g in summary:
        k = int(g.get("diverged") or 0)
        if not k:
            continue
        mean = g.get("validation_accuracy_mean")
        y = 0.0 if mean is None else 100 * float(mean)
        column = marks.setdefault(g[layout.panel] if layout.panel else None, {})
        y0, k0, n0 = column.get(_x_of(g, layout), (y, 0, 0))
        column[_x_of(g, layout)] = (max(y, y0), k0 + k, n0 + int(g["n"]))
    return marks


def _without_diverged(
    summary: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``summary`` with each group's accuracy mean and standard deviation over the runs that
    did not diverge (``None`` where all did); ``n`` and ``diverged`` as they were."""
    keys = _params(summary)
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
