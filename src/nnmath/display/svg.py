"""Small inline SVG pictures: line charts of curves and the diagram of a network's layers.

Pure functions returning an ``<svg>`` string (well-formed XML with the SVG namespace), no
plotting library. Every text is escaped; every curve carries its values in a ``<title>``
(shown as a tooltip and readable by a test).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ._html import elided, esc, math_svg, num

__all__ = ["COLOURS", "line_chart", "network_diagram"]

#: curve colours (colour-blind safe, Okabe–Ito)
COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]

_W, _H = 420, 190  # chart size
_L, _R, _T, _B = 48, 124, 22, 34  # margins: left, right (the legend), top, bottom


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    """About ``n`` round numbers spanning [lo, hi]."""
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (m * step) <= n:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + k * step for k in range(int((hi - first) / step + 1e-9) + 1)]


def _finite(vs: Sequence[float], log: bool) -> list[float]:
    return [v for v in vs if v is not None and math.isfinite(v) and (v > 0 or not log)]


def _range(series: Mapping[str, Sequence[float]], log: bool) -> tuple[float, float]:
    vals = [v for vs in series.values() for v in _finite(vs, log)]
    if not vals:
        return (0.0, 1.0)
    lo, hi = min(vals), max(vals)
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def line_chart(
    series: Mapping[str, Sequence[float]],
    title: str,
    x: Sequence[float] | None = None,
    x_label: str = "epoch",
    log: bool = False,
) -> str:
    """A line chart of one or more curves over a common x (default 1, 2, …).

    Parameters
    ----------
    series : mapping of str to sequence of float
        Curve name -> values; NaN, infinite and (with ``log``) non-positive values break the
        line.
    title : str
    x : sequence of float, optional
    x_label : str
    log : bool
        A log₁₀ y axis (for gradient norms, which span decades).

    Returns
    -------
    str
        ``<svg>`` of 420 × 190 pixels (the legend on the right).
    """
    n = max((len(v) for v in series.values()), default=0)
    xs = list(x) if x is not None else list(range(1, n + 1))
    x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x1 <= x0:
        x0, x1 = x0 - 1, x1 + 1
    y0, y1 = _range(series, log)

    def px(v: float) -> float:
        return _L + (v - x0) / (x1 - x0) * (_W - _L - _R)

    def py(v: float) -> float:
        t = math.log10(v) if log else v
        return _H - _B - (t - y0) / (y1 - y0) * (_H - _T - _B)

    parts = [_axes(title, x_label, [(px(t), num(t, 3)) for t in _ticks(x0, x1)], log, y0, y1)]
    for k, (name, vs) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        runs: list[list[str]] = [[]]
        for xv, v in zip(xs, vs):
            if v is None or not math.isfinite(v) or (log and v <= 0):
                runs.append([])
                continue
            runs[-1].append(f"{px(xv):.2f},{py(v):.2f}")
        values = ", ".join(num(v, 6) for v in vs)
        for pts in (r for r in runs if r):
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" '
                f'data-series="{esc(name)}" points="{" ".join(pts)}">'
                f"<title>{esc(name)}: {esc(values)}</title></polyline>"
            )
        ly = _T + 12 + 13 * k
        parts.append(
            f'<line x1="{_W - _R + 8}" y1="{ly - 4}" x2="{_W - _R + 22}" y2="{ly - 4}" '
            f'stroke="{colour}" stroke-width="2"/>'
            f'<text x="{_W - _R + 26}" y="{ly}" font-size="10">{math_svg(name)}</text>'
        )
    return _svg(_W, _H, "".join(parts), title)


def _axes(
    title: str, x_label: str, x_ticks: list[tuple[float, str]], log: bool, y0: float, y1: float
) -> str:
    out = [
        f'<text x="{(_L + _W - _R) / 2}" y="14" font-size="12" '
        f'text-anchor="middle">{math_svg(title)}</text>',
        f'<line x1="{_L}" y1="{_H - _B}" x2="{_W - _R}" y2="{_H - _B}" stroke="#444"/>',
        f'<line x1="{_L}" y1="{_T}" x2="{_L}" y2="{_H - _B}" stroke="#444"/>',
        f'<text x="{(_L + _W - _R) / 2}" y="{_H - 4}" font-size="10" '
        f'text-anchor="middle">{esc(x_label)}</text>',
    ]
    for xp, label in x_ticks:
        out.append(
            f'<text x="{xp:.1f}" y="{_H - _B + 12}" font-size="9" '
            f'text-anchor="middle">{esc(label)}</text>'
        )
    for t in _ticks(y0, y1):
        yp = _H - _B - (t - y0) / (y1 - y0) * (_H - _T - _B)
        label = num(10**t, 2) if log else num(t, 3)
        out.append(
            f'<line x1="{_L - 3}" y1="{yp:.1f}" x2="{_W - _R}" y2="{yp:.1f}" stroke="#eee"/>'
            f'<text x="{_L - 5}" y="{yp + 3:.1f}" font-size="9" '
            f'text-anchor="end">{esc(label)}</text>'
        )
    return "".join(out)


def _svg(width: float, height: float, body: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}" '
        f'font-family="sans-serif">{body}</svg>'
    )


def network_diagram(sizes: Sequence[int], activations: Sequence[str], limit: int = 8) -> str:
    """The layers as columns of units joined by their weights; a layer of more than ``limit``
    units shows its first ones, a ⋮ and the last (the size is written under it).

    Parameters
    ----------
    sizes : sequence of int
        ``[n_1, …, n_L]`` (``n_1`` the input).
    activations : sequence of str
        σ of layers 2, …, L.
    limit : int

    Returns
    -------
    str
        ``<svg>``; each column is a ``<g data-layer="l" data-size="n_l">``.
    """
    gap, unit, top = 90, 17, 30
    shown = [elided(n, limit) for n in sizes]
    rows = max(len(s) for s in shown)
    width, height = 40 + gap * (len(sizes) - 1) + 40, top + unit * rows + 34
    pos = []
    for k, idx in enumerate(shown):
        off = top + unit * (rows - len(idx)) / 2
        pos.append([(40 + gap * k, off + unit * r + unit / 2, i) for r, i in enumerate(idx)])
    edges = []
    for a, b in zip(pos, pos[1:]):
        for xa, ya, ia in a:
            for xb, yb, ib in b:
                if ia is not None and ib is not None:
                    edges.append(
                        f'<line x1="{xa}" y1="{ya:.1f}" x2="{xb}" y2="{yb:.1f}" '
                        'stroke="#bbb" stroke-width="0.6"/>'
                    )
    cols = []
    for k, (n, col) in enumerate(zip(sizes, pos)):
        units = []
        for xc, yc, i in col:
            if i is None:
                units.append(
                    f'<text x="{xc}" y="{yc + 4:.1f}" font-size="12" text-anchor="middle">⋮</text>'
                )
            else:
                units.append(
                    f'<circle cx="{xc}" cy="{yc:.1f}" r="5.5" fill="#fff" stroke="#0072B2"/>'
                )
        sigma = "input x" if k == 0 else activations[k - 1]
        cols.append(
            f'<g data-layer="{k + 1}" data-size="{n}">{"".join(units)}'
            f'<text x="{40 + gap * k}" y="18" font-size="10" '
            f'text-anchor="middle">{esc(sigma)}</text>'
            f'<text x="{40 + gap * k}" y="{height - 16}" font-size="10" '
            f'text-anchor="middle">{math_svg(f"a^{k + 1}")}: {n}</text></g>'
        )
    return _svg(width, height, "".join(edges) + "".join(cols), f"network {list(sizes)}")
