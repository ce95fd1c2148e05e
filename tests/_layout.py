"""What a reader sees of a matplotlib figure: every drawn text inside the canvas, no two texts
on top of each other, no legend over another panel. Measured by matplotlib's own renderer."""

from __future__ import annotations

from typing import Any

import numpy as np

#: pixels two extents may share before they count as overlapping (antialiased edges touch)
TOLERANCE = 1.0


def _drawn_tick_labels(fig: Any) -> tuple[set[int], set[int]]:
    """ids of the tick labels drawn, and of those that exist but are not drawn (outside the
    view limits: matplotlib keeps them, visible but skipped)."""
    drawn: set[int] = set()
    every: set[int] = set()
    for ax in fig.axes:
        for axis in ax._axis_map.values():
            for tick in axis.majorTicks + axis.minorTicks:
                every |= {id(tick.label1), id(tick.label2)}
            if not (ax.axison and axis.get_visible()):
                continue
            for tick in axis._update_ticks():
                drawn |= {id(t) for t in (tick.label1, tick.label2) if t.get_visible()}
    return drawn, every - drawn


def drawn_texts(fig: Any) -> list[Any]:
    """Every visible, non-empty Text the figure draws: titles, labels, drawn tick labels,
    legend entries and titles, annotations, offset texts."""
    from matplotlib.text import Text

    if not hasattr(fig.canvas, "get_renderer"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    fig.canvas.draw()
    _, skipped = _drawn_tick_labels(fig)
    out = []
    for t in fig.findobj(Text):
        if id(t) in skipped or not t.get_visible() or not t.get_text().strip():
            continue
        if t.axes is not None and not t.axes.get_visible():
            continue
        legend = _legend_of(fig, t)
        if legend is not None and not legend.get_visible():
            continue
        out.append(t)
    return out


def _legend_of(fig: Any, text: Any) -> Any:
    for legend in _legends(fig):
        if text in legend.get_texts() or text is legend.get_title():
            return legend
    return None


def _legends(fig: Any) -> list[Any]:
    found = list(fig.legends)
    found += [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return found


def _overlap(a: Any, b: Any) -> bool:
    return (
        min(a.x1, b.x1) - max(a.x0, b.x0) > TOLERANCE
        and min(a.y1, b.y1) - max(a.y0, b.y0) > TOLERANCE
    )


def layout_problems(fig: Any) -> list[str]:
    """The texts that leave the canvas, the pairs of texts that overlap, the legends over
    another panel, the panels (with their labels) that overlap and the lines hidden under
    another one; empty when it reads."""
    texts = drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    problems = []
    extents = []
    for t in texts:
        e = t.get_window_extent(renderer)
        extents.append(e)
        if (
            e.x0 < box.x0 - TOLERANCE
            or e.x1 > box.x1 + TOLERANCE
            or e.y0 < box.y0 - TOLERANCE
            or e.y1 > box.y1 + TOLERANCE
        ):
            problems.append(f"leaves the canvas: {t.get_text()!r}")
    for i, (a, ea) in enumerate(zip(texts, extents, strict=True)):
        for b, eb in zip(texts[i + 1 :], extents[i + 1 :], strict=True):
            if _overlap(ea, eb):
                problems.append(f"overlap: {a.get_text()!r} and {b.get_text()!r}")
    for legend in _legends(fig):
        e = legend.get_window_extent(renderer)
        own = legend.axes
        for ax in fig.axes:
            if ax is not own and ax.get_visible() and _overlap(e, ax.get_window_extent(renderer)):
                problems.append(f"legend over another panel: {ax.get_title()!r}")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    boxes = [ax.get_tightbbox(renderer) for ax in axes]
    for i, (a, ea) in enumerate(zip(axes, boxes, strict=True)):
        for b, eb in zip(axes[i + 1 :], boxes[i + 1 :], strict=True):
            if a.get_position().bounds != b.get_position().bounds and _overlap(ea, eb):
                problems.append(f"panels overlap: {a.get_title()!r} and {b.get_title()!r}")
    return problems + hidden_lines(fig)


def hidden_lines(fig: Any) -> list[str]:
    """Pairs of labelled lines drawn within 2 pixels of each other everywhere with the same
    dash and marker: the one drawn last hides the other, whatever their colours."""
    problems = []
    for ax in fig.axes:
        labels = {id(ln): ln.get_label() for ln in ax.get_lines()}
        for c in ax.containers:  # an errorbar's line is labelled by its container
            if c.get_label() and getattr(c, "lines", None):
                labels[id(c.lines[0])] = c.get_label()
        lines = [
            ln
            for ln in ax.get_lines()
            if ln.get_visible() and not labels[id(ln)].startswith("_") and len(ln.get_xdata()) > 1
        ]
        shown = [
            ax.transData.transform(np.column_stack(ln.get_data()).astype(float)) for ln in lines
        ]
        for i, (a, pa) in enumerate(zip(lines, shown, strict=True)):
            for b, pb in zip(lines[i + 1 :], shown[i + 1 :], strict=True):
                alike = (a.get_linestyle(), a.get_marker()) == (b.get_linestyle(), b.get_marker())
                if alike and pa.shape == pb.shape and np.abs(pa - pb).max() < 2.0:
                    problems.append(f"line hidden: {labels[id(a)]!r} and {labels[id(b)]!r}")
    return problems
