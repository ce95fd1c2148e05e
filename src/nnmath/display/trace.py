"""The rich display of a :class:`~nnmath.diagnostics.Trace`: the lecture's equations filled in
with one example's numbers.

Forward, for ``l = 2, …, L``: ``z^l = w^l a^{l−1} + b^l`` with ``w^l`` and ``b^l`` shown, so
the product can be checked by hand, and ``a^l = σ(z^l)``. Backward, the four equations of
backpropagation (lecture, section 3):

* BP1 ``δ^L = ∇_a C ⊙ σ'(z^L)``;
* BP2 ``δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)``;
* BP3 ``∂C/∂b^l = δ^l``;
* BP4 ``∂C/∂w^l = δ^l (a^{l−1})ᵀ``.

A softmax layer couples its units, so its σ' is a Jacobian: BP1 and BP2 then read
``(∂a/∂z)ᵀ g``. The trace is duck-typed: ``x``, ``y``, ``cost``, ``cost_name``, ``digits``,
``grad_a`` and ``layers``, each with ``layer``, ``activation``, ``W``, ``b``, ``z``, ``a``,
``delta``, ``sigma_prime`` (empty for softmax) and ``nabla_w``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._html import MAX_COLS, MAX_ROWS, elided, esc, math_html, matrix_html, num, shape_text, wrap

__all__ = ["md_matrix", "parameters_markdown", "trace_html", "trace_latex"]


def _wt_delta(t: Any, i: int) -> np.ndarray:
    """(w^{l+1})ᵀ δ^{l+1} for layer index ``i`` (``l = i + 2``)."""
    nxt = t.layers[i + 1]
    return np.asarray(nxt.W, dtype=np.float64).T @ np.asarray(nxt.delta, dtype=np.float64)


# ------------------------------------------------------------------------------- HTML


def _eq(label: str, *parts: str, name: str = "") -> str:
    """One equation: its label (super/subscripts set), then ``name`` (plain text), the parts."""
    text = math_html(label) + (esc(name) if name else "")
    return f'<div class="eq"><span>{text}</span>{"".join(parts)}</div>'


def _op(symbol: str) -> str:
    """An operator or a note between matrices, its ``a^{l−1}`` set as a superscript."""
    return f"<span>{math_html(symbol)}</span>"


def _forward_html(t: Any, d: int) -> list[str]:
    out, a_prev, prev = [], t.x, "a1"
    for layer in t.layers:
        l = layer.layer
        out.append(
            _eq(
                f"z^{l} = w^{l} a^{l - 1} + b^{l}:",
                matrix_html(layer.W, f"w{l}", d),
                matrix_html(a_prev, prev, d),
                _op("+"),
                matrix_html(layer.b, f"b{l}", d),
                _op("="),
                matrix_html(layer.z, f"z{l}", d),
            )
        )
        out.append(
            _eq(
                f"a^{l} = σ(z^{l}), σ = ",
                matrix_html(layer.a, f"a{l}", d),
                name=f"{layer.activation}:",
            )
        )
        a_prev, prev = layer.a, f"a{l}"
    return out


def _backward_html(t: Any, d: int) -> list[str]:
    out, L = [], len(t.layers) + 1
    for i in reversed(range(len(t.layers))):
        layer, l = t.layers[i], t.layers[i].layer
        jac = not len(layer.sigma_prime)  # softmax: σ' is the Jacobian ∂a/∂z
        if l == L:
            g, g_name = t.grad_a, "grad_a"
            rule = (
                f"BP1  δ^{L} = (∂a^{L}/∂z^{L})ᵀ ∇_a C:"
                if jac
                else f"BP1  δ^{L} = ∇_a C ⊙ σ'(z^{L}):"
            )
        else:
            g, g_name = _wt_delta(t, i), f"wt_delta{l}"
            g_text = f"(w^{l + 1})ᵀ δ^{l + 1}"
            rule = (
                f"BP2  δ^{l} = (∂a^{l}/∂z^{l})ᵀ {g_text}:"
                if jac
                else f"BP2  δ^{l} = ({g_text}) ⊙ σ'(z^{l}):"
            )
        factors = [] if jac else [_op("⊙"), matrix_html(layer.sigma_prime, f"sigma_prime{l}", d)]
        if len(g):
            out.append(
                _eq(
                    rule,
                    matrix_html(g, g_name, d),
                    *factors,
                    _op("="),
                    matrix_html(layer.delta, f"delta{l}", d),
                )
            )
        else:
            out.append(_eq(rule, matrix_html(layer.delta, f"delta{l}", d)))
        out.append(_eq(f"BP3  ∂C/∂b^{l} = δ^{l}:", matrix_html(layer.delta, f"nabla_b{l}", d)))
        a_prev = t.layers[i - 1].a if i else t.x
        out.append(
            _eq(
                f"BP4  ∂C/∂w^{l} = δ^{l} (a^{l - 1})ᵀ:",
                matrix_html(layer.nabla_w, f"nabla_w{l}", d),
                _op(f"(a^{l - 1} has {len(a_prev)} entries)"),
            )
        )
    return out


def trace_html(t: Any) -> str:
    """HTML: the example, the forward pass with every ``w^l`` and ``b^l``, then BP1–BP4 from the
    output layer down. Matrices larger than 8 × 8 show their first and last rows and columns
    (the caption states the shape)."""
    d = int(getattr(t, "digits", 4))
    L = len(t.layers) + 1
    head = (
        f"<p><b>Trace</b> of one example, L = {L}: C = {esc(num(t.cost, d))} "
        f"({esc(t.cost_name)})</p>"
    )
    example = _eq("a^1 = x, y:", matrix_html(t.x, "a1", d), matrix_html(t.y, "y", d))
    body = [head, example, "<p><b>Forward</b></p>", *_forward_html(t, d)]
    body += ["<p><b>Backward</b> (the four equations)</p>", *_backward_html(t, d)]
    return wrap("".join(body), "trace")


# ------------------------------------------------------------------------------ LaTeX


def _tex_escape(text: str) -> str:
    return "".join("\\" + c if c in "_&%$#{}" else c for c in str(text))


def _tex_num(v: float, d: int) -> str:
    """``2.331e-05`` as ``2.331 \\times 10^{-5}``; infinities as ``\\infty``."""
    s = num(v, d).replace("−", "-")
    if s in ("inf", "-inf", "nan"):
        return {"inf": r"\infty", "-inf": r"-\infty", "nan": r"\mathrm{nan}"}[s]
    if "e" in s:
        mantissa, exponent = s.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return s


def _pmatrix(M: Any, d: int) -> str:
    """``\\begin{pmatrix}…\\end{pmatrix}``; elided with ⋯, ⋮, ⋱ beyond 8 × 8."""
    A = np.asarray(M, dtype=np.float64)
    A = A.reshape(-1, 1) if A.ndim == 1 else A
    rows = []
    for i in elided(A.shape[0], MAX_ROWS):
        cells = []
        for j in elided(A.shape[1], MAX_COLS):
            if i is None:
                cells.append(r"\ddots" if j is None else r"\vdots")
            else:
                cells.append(r"\cdots" if j is None else _tex_num(A[i, j], d))
        rows.append(" & ".join(cells))
    body = r"\begin{pmatrix}" + r" \\ ".join(rows) + r"\end{pmatrix}"
    if A.shape[0] > MAX_ROWS or A.shape[1] > MAX_COLS:  # elided: state the shape
        shape = np.shape(M)
        body += "_{" + r" \times ".join(map(str, shape)) + "}"
    return body


def _forward_tex(t: Any, d: int) -> list[str]:
    out, a_prev = [], t.x
    for layer in t.layers:
        l = layer.layer
        out.append(
            rf"z^{{{l}}} &= w^{{{l}}} a^{{{l - 1}}} + b^{{{l}}} = {_pmatrix(layer.W, d)}"
            rf"{_pmatrix(a_prev, d)} + {_pmatrix(layer.b, d)} = {_pmatrix(layer.z, d)} \\"
        )
        out.append(
            rf"a^{{{l}}} &= \sigma(z^{{{l}}}) = {_pmatrix(layer.a, d)} "
            rf"\quad (\sigma = \mathrm{{{_tex_escape(layer.activation)}}}) \\"
        )
        a_prev = layer.a
    return out


def _backward_tex(t: Any, d: int) -> list[str]:
    out, L = [], len(t.layers) + 1
    for i in reversed(range(len(t.layers))):
        layer, l = t.layers[i], t.layers[i].layer
        if l == L:
            g, tag = t.grad_a, "BP1"
            rule = rf"\nabla_a C \odot \sigma'(z^{{{L}}})"
        else:
            g, tag = _wt_delta(t, i), "BP2"
            rule = rf"((w^{{{l + 1}}})^T \delta^{{{l + 1}}}) \odot \sigma'(z^{{{l}}})"
        if not len(layer.sigma_prime):
            rule = rule.replace(r" \odot \sigma'(z^{" + str(l) + "})", "")
            rule = rf"\left(\frac{{\partial a^{{{l}}}}}{{\partial z^{{{l}}}}}\right)^T {rule}"
            filled = _pmatrix(g, d) if len(g) else ""
        else:
            filled = f"{_pmatrix(g, d)} \\odot {_pmatrix(layer.sigma_prime, d)}" if len(g) else ""
        eq = f" = {filled}" if filled else ""
        out.append(
            rf"\delta^{{{l}}} &= {rule}{eq} = {_pmatrix(layer.delta, d)}"
            rf" \quad \text{{({tag})}} \\"
        )
        out.append(
            rf"\frac{{\partial C}}{{\partial b^{{{l}}}}} &= \delta^{{{l}}} "
            rf"= {_pmatrix(layer.delta, d)} \quad \text{{(BP3)}} \\"
        )
        out.append(
            rf"\frac{{\partial C}}{{\partial w^{{{l}}}}} &= \delta^{{{l}}} (a^{{{l - 1}}})^T "
            rf"= {_pmatrix(layer.nabla_w, d)} \quad \text{{(BP4)}} \\"
        )
    return out


def trace_latex(t: Any, env: str = "align*") -> str:
    """LaTeX of the whole trace in an ``env`` environment (``align*`` for a document,
    ``aligned`` inside ``$$ … $$`` for a notebook)."""
    d = int(getattr(t, "digits", 4))
    lines = [
        rf"\begin{{{env}}}",
        rf"a^{{1}} = x &= {_pmatrix(t.x, d)}, \quad y = {_pmatrix(t.y, d)}, \quad "
        rf"C = {num(t.cost, d)} \quad (\mathrm{{{_tex_escape(t.cost_name)}}}) \\",
        *_forward_tex(t, d),
        *_backward_tex(t, d),
    ]
    lines[-1] = lines[-1].removesuffix(r" \\")
    lines.append(rf"\end{{{env}}}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- Markdown


def md_matrix(M: Sequence[Any], d: int) -> str:
    """``[0.1, 0.2; 0.3, 0.4]`` (rows separated by ';'), elided with … beyond 8 × 8."""
    A = np.asarray(M, dtype=np.float64)
    A = A.reshape(1, -1) if A.ndim == 1 else A
    rows = []
    for i in elided(A.shape[0], MAX_ROWS):
        if i is None:
            rows.append("…")
            continue
        cells = ["…" if j is None else num(A[i, j], d) for j in elided(A.shape[1], MAX_COLS)]
        rows.append(", ".join(cells))
    return "[" + "; ".join(rows) + "]"


def parameters_markdown(t: Any) -> list[str]:
    """Lines listing ``w^l`` and ``b^l`` of every layer (the shape stated, elided beyond 8 × 8),
    so that ``z^l = w^l a^{l−1} + b^l`` in the table above can be checked by hand."""
    d = int(getattr(t, "digits", 4))
    lines = ["", "Parameters, so that z^l = w^l a^{l−1} + b^l can be checked by hand:", ""]
    for layer in t.layers:
        l = layer.layer
        W = np.asarray(layer.W)
        lines.append(
            f"- w^{l} ({shape_text(W.shape)}) = {md_matrix(W, d)}; "
            f"b^{l} ({len(layer.b)}) = {md_matrix(layer.b, d)}"
        )
    return lines
