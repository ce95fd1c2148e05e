"""The diagram of a network of layers: convolution blocks as stacks of feature maps, pooling
as smaller stacks, Flatten, Dense and Dropout as columns of units, BatchNorm and LayerNorm
as thin bars across the links (they keep the shape), left to right.

Pure function of plain data (one :class:`Column` per layer, built by
:func:`nnmath.display.network.layer_columns`); no plotting library. Each layer is a
``<g data-layer="l" data-kind="…" data-shape="…">``: above it the layer and its σ, below it
its output shape and ``a^l``. A convolution or pooling draws its window (``k × k`` pixels of
the block before it) and the two lines to the unit it gives; a stack shows at most
:data:`MAX_MAPS` maps and a column at most 8 units (the shape below says how many).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._html import elided, esc, math_svg

__all__ = ["MAX_MAPS", "Column", "layers_diagram"]

#: maps drawn in a stack (the rest are behind them)
MAX_MAPS = 8
_TOP, _AREA, _BOTTOM = 40, 150, 40  # label lines above, the drawing, label lines below
_GAP, _DEPTH, _UNIT = 26, 4, 15  # between columns; offset of a map behind; one unit's height
_CHAR = 6.2  # width of a character at font-size 10 (sans-serif), generous
_FILL = {
    "input": ("#eeeeee", "#555555"),
    "conv2d": ("#d6e6f5", "#0072B2"),
    "maxpool2d": ("#fbe3cc", "#D55E00"),
    "avgpool2d": ("#fbe3cc", "#D55E00"),
    "batchnorm": ("#f3e3ee", "#CC79A7"),
    "layernorm": ("#f3e3ee", "#CC79A7"),
    "residual": ("#f3dcea", "#CC79A7"),
}
#: layers that keep their input's shape and only rescale it: a thin bar across the links
THIN = ("batchnorm", "layernorm")
_BAR = 8.0  # width of such a bar
_ARC = 36  # the band above the labels where residual blocks' skip arcs run


@dataclass
class Column:
    """One layer to draw: lecture number ``l``, ``kind`` (``Layer.name``: ``"conv2d"``, ...),
        output ``shape``, the two label lines (``title``: the layer, ``sigma``: its σ or ``""``)
        ``k`` (the window of a convolution or pooling, else 0) and ``skip`` (a residual block's
    sum ``a^{in} + F(a^{in})``: the column of ``a^{in}``, which an arc over F joins to it)."""

    l: int | str
    kind: str
    shape: tuple[int, ...]
    title: str
    sigma: str = ""
    k: int = 0
    skip: int | None = None  # a residual sum: the index of the column its skip arc leaves


def _scale(columns: Sequence[Column]) -> float:
    """Drawn pixels per image pixel: the first image 84 pixels high (28 × 28 at 3), at most 8
    and at least 0.3 per pixel."""
    first = next((c for c in columns if len(c.shape) == 3), None)
    return 3.0 if first is None else max(0.3, min(8.0, 84.0 / first.shape[1]))


def _side(c: Column, scale: float) -> float:
    """Pixels of one map of an image column, between 10 and 100."""
    return max(10.0, min(100.0, scale * c.shape[1]))


def _size(c: Column, scale: float) -> tuple[float, float]:
    """(width, height) of the drawing of column ``c``."""
    if len(c.shape) == 3:
        depth = _DEPTH * (min(c.shape[0], MAX_MAPS) - 1)
        return _side(c, scale) + depth, _side(c, scale) + depth
    return 12.0, _UNIT * len(elided(c.shape[0], 8))


def _stack(c: Column, x: float, cy: float, scale: float) -> tuple[str, tuple[float, float, float]]:
    """A stack of maps with its front map's left edge at ``x``; returns the SVG and the
    front map's ``(left, top, side)``."""
    fill, stroke = _FILL.get(c.kind, ("#eeeeee", "#555555"))
    side, n = _side(c, scale), min(c.shape[0], MAX_MAPS)
    _, h = _size(c, scale)
    top = cy - h / 2 + _DEPTH * (n - 1)
    dash = ' stroke-dasharray="3 2"' if c.kind == "dropout" else ""
    rects = [
        f'<rect x="{x + _DEPTH * i:.1f}" y="{top - _DEPTH * i:.1f}" width="{side:.1f}" '
        f'height="{side:.1f}" fill="{fill}" stroke="{stroke}" stroke-width="0.8"{dash}/>'
        for i in reversed(range(n))  # the back map first, the front one on top
    ]
    return "".join(rects), (x, top, side)


def _bar(c: Column, cx: float, previous: tuple | None, cy: float) -> str:
    """A normalisation: a thin bar as high as the block before it (it keeps the shape)."""
    fill, stroke = _FILL[c.kind]
    (kind, a), _ = previous if previous is not None else (("units", [(0, cy)]), None)
    top, bottom = (a[1], a[1] + a[2]) if kind == "maps" else (a[0][1] - 7, a[-1][1] + 7)
    return (
        f'<rect x="{cx - _BAR / 2:.1f}" y="{top:.1f}" width="{_BAR:.1f}" '
        f'height="{bottom - top:.1f}" fill="{fill}" stroke="{stroke}" stroke-width="1"/>'
    )


def _units(c: Column, cx: float, cy: float) -> tuple[str, list[tuple[float, float]]]:
    """A column of units (⋮ where elided); returns the SVG and the units' centres."""
    shown = elided(c.shape[0], 8)
    top = cy - _UNIT * len(shown) / 2
    stroke = {"dense": "#009E73", "dropout": "#999999", "residual": "#CC79A7"}.get(
        c.kind, "#555555"
    )
    dash = ' stroke-dasharray="2 1.5"' if c.kind == "dropout" else ""
    parts, centres = [], []
    for r, i in enumerate(shown):
        y = top + _UNIT * r + _UNIT / 2
        if i is None:
            parts.append(
                f'<text x="{cx:.1f}" y="{y + 4:.1f}" font-size="12" text-anchor="middle">⋮</text>'
            )
        else:
            parts.append(
                f'<circle cx="{cx:.1f}" cy="{y:.1f}" r="5" fill="#fff" stroke="{stroke}"{dash}/>'
            )
            centres.append((cx, y))
    return "".join(parts), centres


def _labels(c: Column, cx: float, height: float, band: float = 0) -> str:
    """The layer and σ above (under the arcs' ``band``), the shape and ``a^l`` below,
    centred on ``cx``."""
    shape = " × ".join(map(str, c.shape))
    lines = [(band + 14, esc(c.title)), (band + 27, esc(c.sigma)), (height - 22, esc(shape))]
    lines.append((height - 8, math_svg(f"a^{{{c.l}}}")))  # a^{3.1} inside a block
    return "".join(
        f'<text x="{cx:.1f}" y="{y}" font-size="10" text-anchor="middle">{t}</text>'
        for y, t in lines
        if t
    )


def _width(c: Column, scale: float) -> float:
    """The room column ``c`` needs: its drawing or its longest label."""
    text = max(len(c.title), len(c.sigma), len(" × ".join(map(str, c.shape))))
    if c.kind in THIN:
        return max(_BAR, text * _CHAR)
    return max(_size(c, scale)[0], text * _CHAR)


def layers_diagram(columns: Sequence[Column]) -> str:
    """The ``<svg>`` of a network of layers, one :class:`Column` a layer, input first."""
    scale = _scale(columns)
    widths = [_width(c, scale) for c in columns]
    levels = _levels(columns)
    band = _ARC + 12 * max(levels.values()) if levels else 0
    height = band + _TOP + _AREA + _BOTTOM
    cy = band + _TOP + _AREA / 2
    lefts, x = [], 8.0
    for w in widths:
        lefts.append(x)
        x += w + _GAP
    total = x - _GAP + 8
    under, body, over, previous = [], [], [], None
    for c, left, w in zip(columns, lefts, widths):
        cx = left + w / 2
        if c.kind in THIN:  # the links run from the block before to the one after, under it
            body.append(
                f'<g data-layer="{c.l}" data-kind="{esc(c.kind)}" data-shape="'
                f'{esc(",".join(map(str, c.shape)))}">{_bar(c, cx, previous, cy)}'
                f"{_labels(c, cx, height)}</g>"
            )
            continue
        if len(c.shape) == 3:
            svg, front = _stack(c, cx - _size(c, scale)[0] / 2, cy, scale)
            anchors: tuple[str, Any] = ("maps", front)
        else:
            svg, centres = _units(c, cx, cy)
            anchors = ("units", centres)
        if previous is not None:
            lines, window = _link(previous, anchors, c)
            under.append(lines)
            over.append(window)  # on the block before, so drawn after it
        body.append(
            f'<g data-layer="{c.l}" data-kind="{esc(c.kind)}" '
            f'data-shape="{esc(",".join(map(str, c.shape)))}">{svg}'
            f"{_labels(c, cx, height, band)}</g>"
        )
        previous = (anchors, c)
    centres = [left + w / 2 for left, w in zip(lefts, widths)]
    over += [
        _arc(centres[columns[i].skip], centres[i], band, v, columns[i]) for i, v in levels.items()
    ]
    label = "network of layers " + " → ".join(c.title for c in columns)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total:.0f}" height="{height}" '
        f'viewBox="0 0 {total:.0f} {height}" role="img" aria-label="{esc(label)}" '
        f'font-family="sans-serif">{"".join(under)}{"".join(body)}{"".join(over)}</svg>'
    )


def _levels(columns: Sequence[Column]) -> dict[int, int]:
    """Each sum column's arc height: 0, or one more than the highest arc of a block inside."""
    spans = {i: c.skip for i, c in enumerate(columns) if c.skip is not None}
    levels: dict[int, int] = {}
    for i in sorted(spans, key=lambda i: i - spans[i]):  # the inner (shorter) arcs first
        inside = [levels[j] + 1 for j in levels if spans[i] <= spans[j] and j < i]
        levels[i] = max(inside, default=0)
    return levels


def _arc(x1: float, x2: float, band: float, level: int, c: Column) -> str:
    """A residual block's skip connection: an arc from ``a^{in}`` (at ``x1``) over F's
    columns down to the sum (at ``x2``), its arrowhead there; an outer block's arc runs
    above an inner one's (``level``)."""
    low, high, colour = band + 2, band - _ARC + 10 - 12 * level, _FILL["residual"][1]
    head = f"{x2 - 4:.1f},{low - 6:.1f} {x2 + 4:.1f},{low - 6:.1f} {x2:.1f},{low:.1f}"
    return (
        f'<g data-skip="{c.l}"><path d="M {x1:.1f} {low:.1f} C {x1:.1f} {high:.1f}, '
        f'{x2:.1f} {high:.1f}, {x2:.1f} {low - 6:.1f}" fill="none" stroke="{colour}" '
        f'stroke-width="1.5"/><polygon points="{head}" fill="{colour}"/>'
        f'<text x="{(x1 + x2) / 2:.1f}" y="{high + 4:.1f}" font-size="9" text-anchor="middle" '
        f'fill="{colour}">identity path of layer {esc(str(c.l))}</text></g>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, colour: str = "#bbbbbb") -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
        f'stroke="{colour}" stroke-width="0.7"/>'
    )


def _link(previous: tuple, anchors: tuple, c: Column) -> tuple[str, str]:
    """What joins the layer before to ``c``, as (lines under the blocks, a window over
    them): a convolution's or pooling's window on the block before and its two lines to the
    unit it gives; a funnel from an image to units; every shown weight between units, or one
    line a unit into a Dropout (it drops, it does not mix)."""
    (kind_a, a), prev = previous
    kind_b, b = anchors
    if kind_a == "maps" and kind_b == "maps":
        left, top, side = a
        bl, bt, bs = b
        if not c.k:  # Dropout on images: map to map
            return _line(left + side, top + side / 2, bl, bt + bs / 2), ""
        win = side * c.k / prev.shape[1]
        colour = _FILL.get(c.kind, ("", "#555555"))[1]
        tip = (bl + bs * 0.3, bt + bs * 0.3)
        window = (
            f'<rect x="{left + 2:.1f}" y="{top + 2:.1f}" width="{win:.1f}" height="{win:.1f}" '
            f'fill="none" stroke="{colour}" stroke-width="1.2"/>'
            + _line(left + 2 + win, top + 2, *tip, colour)
            + _line(left + 2 + win, top + 2 + win, *tip, colour)
        )
        return "", window
    if kind_a == "maps":
        left, top, side = a
        return "".join(_line(left + side, top + side / 2, x, y) for x, y in (b[0], b[-1])), ""
    if kind_b == "maps":  # units to images does not occur (a network ends with Dense)
        return "", ""
    if c.kind in ("dropout", "residual"):  # unit to unit: it drops, or it adds
        return "".join(_line(xa, ya, xb, yb) for (xa, ya), (xb, yb) in zip(a, b)), ""
    return "".join(_line(xa, ya, xb, yb) for xa, ya in a for xb, yb in b), ""
