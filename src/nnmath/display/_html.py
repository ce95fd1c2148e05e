"""HTML building blocks: escaped text, numbers, tables and matrices elided to a readable size.

Every piece of text that reaches the page goes through :func:`esc` (``html.escape``); numbers
are formatted by :func:`num`. The output is well-formed XHTML-style markup (every element
closed), so a test can read it back with ``xml.etree`` or ``html.parser``.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "MAX_COLS",
    "MAX_ROWS",
    "Markup",
    "STYLE",
    "elided",
    "esc",
    "math_html",
    "math_svg",
    "matrix_html",
    "num",
    "shape_text",
    "table_html",
    "wrap",
]

#: the largest matrix shown in full; larger ones show their first rows/columns and the last
MAX_ROWS = 8
MAX_COLS = 8

#: one small style sheet, scoped to the ``nnmath`` class so that it touches nothing else
STYLE = (
    "<style>"
    ".nnmath table{border-collapse:collapse;margin:0.3em 0;font-size:0.9em}"
    ".nnmath th,.nnmath td{padding:0.15em 0.5em;text-align:right;border-bottom:1px solid #ddd}"
    ".nnmath th{font-weight:600}"
    ".nnmath table.nnmath-matrix td{border:none;font-family:monospace}"
    # a matrix in brackets [ ], not bars | | (a determinant): the sides and four short ends
    ".nnmath table.nnmath-matrix{border-left:1px solid #444;border-right:1px solid #444;"
    "background:linear-gradient(#444,#444) top left/5px 1px no-repeat,"
    "linear-gradient(#444,#444) bottom left/5px 1px no-repeat,"
    "linear-gradient(#444,#444) top right/5px 1px no-repeat,"
    "linear-gradient(#444,#444) bottom right/5px 1px no-repeat}"
    ".nnmath .eq{display:flex;align-items:center;gap:0.5em;flex-wrap:wrap;margin:0.4em 0}"
    ".nnmath .bad{color:#b00020;font-weight:600}"
    ".nnmath caption{caption-side:bottom;font-size:0.8em;color:#555;white-space:nowrap}"
    ".nnmath tr.best{background:#eef6ff}"
    "</style>"
)


def esc(text: Any) -> str:
    """``text`` as a string, HTML-escaped (quotes too, so it is safe in attributes)."""
    return html.escape(str(text), quote=True)


#: ``^{…}``, ``^x`` (one letter, digit or sign run), ``_{…}`` and a one-character ``_x`` that ends
#: a word: the lecture's super- and subscripts; ``leaky_relu`` is left alone
_SCRIPT = re.compile(
    r"([\^_])(?:\{([^{}]*)\}|(?<=\^)([0-9A-Za-z+−\-]+|ᵀ)|(?<=_)([0-9A-Za-z])(?![0-9A-Za-z]))"
)


def math_html(text: str) -> str:
    """``text`` escaped, with the lecture's ``z^l``, ``w^{l+1}``, ``n_{l−1}`` and ``∇_a`` as
    ``<sup>``/``<sub>``."""

    def repl(m: re.Match[str]) -> str:
        tag = "sup" if m.group(1) == "^" else "sub"
        inner = next(g for g in m.groups()[1:] if g is not None)
        return f"<{tag}>{inner}</{tag}>"

    return _SCRIPT.sub(repl, esc(text))


def math_svg(text: str) -> str:
    """``text`` escaped for an SVG ``<text>``, with ``z^l`` and ``n_{l−1}`` as raised or
    lowered ``<tspan>`` (SVG has no ``<sup>``)."""

    def repl(m: re.Match[str]) -> str:
        shift = "super" if m.group(1) == "^" else "sub"
        inner = next(g for g in m.groups()[1:] if g is not None)
        return f'<tspan baseline-shift="{shift}" font-size="75%">{inner}</tspan>'

    return _SCRIPT.sub(repl, esc(text))


def num(v: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits; NaN and infinities by name; ``None`` as —."""
    if v is None:
        return "—"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    x = float(v) + 0.0  # −0 shows as 0
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "−inf"
    return f"{x:.{digits}g}"


def elided(n: int, limit: int) -> list[int | None]:
    """Indices to show of ``n``: all when ``n <= limit``, else the first ``limit − 2``, a gap
    (``None``) and the last one."""
    if n <= limit:
        return list(range(n))
    return [*range(limit - 2), None, n - 1]


def shape_text(shape: Sequence[int]) -> str:
    """``(30, 784)`` as ``30 × 784``."""
    return " × ".join(str(s) for s in shape)


def table_html(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    caption: str | None = None,
    cls: str = "",
    row_classes: Sequence[str] | None = None,
) -> str:
    """A ``<table>``: one header row, then ``rows``; cells are escaped unless they are
    ``Markup`` (already-built HTML)."""
    head = "".join(f"<th>{math_html(h)}</th>" for h in headers)
    body = []
    for k, r in enumerate(rows):
        rc = row_classes[k] if row_classes is not None and row_classes[k] else ""
        attr = f' class="{esc(rc)}"' if rc else ""
        body.append(f"<tr{attr}>" + "".join(f"<td>{_cell(c)}</td>" for c in r) + "</tr>")
    cap = f"<caption>{math_html(caption)}</caption>" if caption else ""
    attr = f' class="{esc(cls)}"' if cls else ""
    return f"<table{attr}>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class Markup(str):
    """A string of HTML that :func:`table_html` puts into a cell as it is."""


def _cell(c: Any) -> str:
    if isinstance(c, Markup):
        return str(c)
    if isinstance(c, (int, float, np.integer, np.floating)) and not isinstance(c, bool):
        return esc(num(c))
    return esc(c)


def matrix_html(
    M: Any, name: str, digits: int = 4, rows: int = MAX_ROWS, cols: int = MAX_COLS
) -> str:
    """A matrix (or a vector, as a column) as a bracketed table; elided when large.

    The table carries ``data-name`` and ``data-shape``; a shown entry ``M[i, j]`` carries
    ``data-i``/``data-j``, and the caption says the shape and what was left out.
    """
    A = np.asarray(M, dtype=np.float64)
    A = A.reshape(-1, 1) if A.ndim == 1 else A
    ri, ci = elided(A.shape[0], rows), elided(A.shape[1], cols)
    body = []
    for i in ri:
        cells = []
        for j in ci:
            if i is None or j is None:
                cells.append(
                    "<td>⋮</td>"
                    if j is not None
                    else "<td>⋯</td>"
                    if i is not None
                    else "<td>⋱</td>"
                )
            else:
                cells.append(f'<td data-i="{i}" data-j="{j}">{esc(num(A[i, j], digits))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    shape = np.shape(M)
    cap = f"{name}: {shape_text(shape)}"
    if None in ri or None in ci:
        cap += f", showing {len(ri) - (None in ri)} of {A.shape[0]} rows"
        cap += f" and {len(ci) - (None in ci)} of {A.shape[1]} columns"
    return (
        f'<table class="nnmath-matrix" data-name="{esc(name)}" '
        f'data-shape="{esc(",".join(map(str, shape)))}"><caption>{esc(cap)}</caption>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def wrap(body: str, kind: str) -> str:
    """The whole display: the style sheet and ``body`` inside ``<div class="nnmath …">``."""
    return f'<div class="nnmath nnmath-{esc(kind)}">{STYLE}{body}</div>'
