"""The display of a network of layers' :class:`~nnmath.diagnostics.Trace`: each layer's
equations filled in with one example's numbers, map by map.

Forward, for ``l = 2, …, L``: a convolution ``z^l[o] = Σ_c w^l[o, c] ⋆ a^{l−1}[c] + b^l[o]``
(one matrix per feature map ``o``), a pooling layer's windows, the Flatten, a Dense layer's
``z^l = w^l a^{l−1} + b^l``, then ``a^l = σ(z^l)``. Backward, from the output down: BP1
``δ^L = ∇_a C ⊙ σ'(z^L)``; for every other layer ``δ^l = ∂C/∂a^l ⊙ σ'(z^l)`` (BP2), where
``∂C/∂a^l`` is what the layer above handed down (``(w^{l+1})ᵀ δ^{l+1}`` for a Dense, the full
correlation of ``δ^{l+1}`` with the flipped kernels for a convolution, ``δ^{l+1}`` routed to
the arg-max for a max-pooling); BP3 and BP4 for a layer with parameters: per feature map
``∂C/∂b^l[o] = Σ_{y,x} δ^l[o, y, x]``, per kernel ``∂C/∂w^l[o, c] = a^{l−1}[c] ⋆ δ^l[o]``.

A layer shows its first :data:`MAX_MAPS` feature maps (or kernels); the text says how many
more there are. The trace is duck-typed as in :mod:`nnmath.display.trace`, plus each layer's
``kind``, ``shape``, ``g`` (``∂C/∂a^{l−1}``) and ``routing``, and the trace's ``x_shape``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._html import esc, math_html, matrix_html, num, wrap
from .trace import _pmatrix, _tex_escape, md_matrix

__all__ = ["MAX_MAPS", "layer_trace_html", "layer_trace_latex", "layer_trace_markdown"]

#: feature maps (or kernels) shown per array; the rest are counted
MAX_MAPS = 4
_BLOCK_LABEL = re.compile(r"\^(\d+(?:\.\d+)+)")  # ^3.1, a layer inside a residual block


@dataclass
class _Eq:
    """One equation: its text (the lecture's notation) and the arrays that fill it in, each
    ``(name, array)`` with ``name`` as ``data-name`` (``"z4[0]"``: map 0 of z^4)."""

    text: str
    arrays: list[tuple[str, Any]] = field(default_factory=list)
    more: str = ""


def _maps(name: str, A: Any) -> tuple[list[tuple[str, Any]], str]:
    """``A`` as matrices: itself (a vector or a matrix), its first maps ``name[o]`` (3-D), or
    its first kernels ``name[o,c]`` (4-D); and a note of what was left out."""
    arr = np.asarray(A, dtype=np.float64)
    if arr.ndim <= 2:
        return [(name, arr)], ""
    if arr.ndim == 3:
        shown = [(f"{name}[{o}]", arr[o]) for o in range(min(MAX_MAPS, arr.shape[0]))]
        left = arr.shape[0] - len(shown)
        return shown, f"and {left} more feature maps" if left else ""
    pairs = [(o, c) for o in range(arr.shape[0]) for c in range(arr.shape[1])]
    shown = [(f"{name}[{o},{c}]", arr[o, c]) for o, c in pairs[:MAX_MAPS]]
    left = len(pairs) - len(shown)
    return shown, f"and {left} more kernels" if left else ""


def _eq(text: str, *named: tuple[str, Any]) -> _Eq:
    text = _BLOCK_LABEL.sub(r"^{\1}", text)  # z^{3.1}: a layer inside a block, all raised
    arrays, notes = [], []
    for name, A in named:
        shown, more = _maps(name, A)
        arrays += shown
        notes += [f"{name}: {more}"] if more else []
    return _Eq(text, arrays, "; ".join(notes))


def _prev(layer: Any) -> Any:
    """The label of the layer whose ``a`` ``layer`` reads: ``l − 1``, or its own ``prev``
    (inside a residual block, ``l.j`` reads ``l.(j−1)`` and ``l.1`` the block's input)."""
    prev = getattr(layer, "prev", None)
    return layer.layer - 1 if prev is None else prev


def _forward_text(layer: Any) -> str:
    """The forward equation of ``layer``, by its kind."""
    l, p, kind = layer.layer, _prev(layer), layer.kind.split("(")[0]
    F = f"a^{layer.inner[-1].layer}" if getattr(layer, "inner", None) else "F(a)"
    return {
        "Conv2D": f"z^{l}[o] = Σ_c w^{l}[o,c] ⋆ a^{p}[c] + b^{l}[o]",
        "Dense": f"z^{l} = w^{l} a^{p} + b^{l}",
        "MaxPool2D": f"z^{l} = a^{l} = the max of each window of a^{p}",
        "AvgPool2D": f"z^{l} = a^{l} = the mean of each window of a^{p}",
        "Flatten": f"a^{l} = a^{p} as one column",
        "Dropout": f"a^{l} = a^{p} (dropout drops units during fit only)",
        "Activation": f"z^{l} = a^{p}",
        "BatchNorm": f"a^{l} = γ (a^{p} − μ)/√(σ² + ε) + β  (inference form: the running "
        "μ, σ²; one example alone has no batch variance)",
        "LayerNorm": f"a^{l} = γ ⊙ (a^{p} − μ_x)/√(σ_x² + ε) + β  (μ_x, σ_x² over the "
        "example's units)",
        "Residual": f"z^{l} = a^{p} + F(a^{p}), F(a^{p}) = {F}: the skip connection",
    }.get(kind, f"z^{l} = {layer.kind} of a^{p}")


def _handed_down(above: Any) -> str:
    """How the layer ``above`` computed ``∂C/∂a^{l}`` from its ``δ^{l+1}``."""
    n, kind = above.layer, above.kind.split("(")[0]
    return {
        "Dense": f"(w^{n})ᵀ δ^{n}",
        "Conv2D": f"δ^{n} ⋆ (w^{n} flipped), full",
        "MaxPool2D": f"δ^{n} routed to each window's arg-max",
        "AvgPool2D": f"δ^{n} / k² spread over each window",
        "Flatten": f"δ^{n} as maps",
        "BatchNorm": f"γ δ^{n}/√(σ² + ε)",
        "LayerNorm": f"(d − mean(d) − ẑ mean(d ⊙ ẑ))/√(σ_x² + ε), d = γ ⊙ δ^{n}",
        "Residual": f"δ^{n} + J_Fᵀ δ^{n}",
    }.get(kind, f"δ^{n}")


def _forward(t: Any) -> list[_Eq]:
    x = np.reshape(t.x, t.x_shape) if t.x_shape else t.x
    return [_eq("a^1 = x, y", ("a1", x), ("y", t.y)), *_forward_stack(t.layers)]


def _forward_stack(layers: list[Any]) -> list[_Eq]:
    """The forward equations of ``layers`` in turn (a residual block's F first)."""
    out = []
    for layer in layers:
        l = layer.layer
        out += _forward_stack(getattr(layer, "inner", []))
        named = [(f"w{l}", layer.W), (f"b{l}", layer.b)] if layer.W else []
        out_name = f"z{l}" if layer.activation else f"a{l}"  # without σ, z^l is a^l
        out.append(_eq(_forward_text(layer) + f"  [{layer.kind}]", *named, (out_name, layer.z)))
        if layer.activation:
            out.append(_eq(f"a^{l} = σ(z^{l}), σ = {layer.activation}", (f"a{l}", layer.a)))
    return out


def _backward(t: Any) -> list[_Eq]:
    return _backward_stack(t, t.layers, None)


def _backward_stack(t: Any, layers: list[Any], top: tuple | None) -> list[_Eq]:
    """The backward equations of ``layers``, the top one first: the network's output (BP1)
    when ``top`` is None, else a residual block's F, whose top layer is handed
    ``top = (text, (name, array))``: ``∂C/∂(F's output)`` is the block's ``δ``."""
    out = []
    for i in reversed(range(len(layers))):
        layer, l = layers[i], layers[i].layer
        if i == len(layers) - 1 and top is None:
            text, g = f"BP1  δ^{l} = ∇_a C ⊙ σ'(z^{l})", ("grad_a", t.grad_a)
            if not layer.sigma_prime:
                text = f"BP1  δ^{l} = (∂a^{l}/∂z^{l})ᵀ ∇_a C"
        else:
            above = layers[i + 1] if i + 1 < len(layers) else None
            given, g = top if above is None else (_handed_down(above), (f"grad_a{l}", above.g))
            text = f"BP2  δ^{l} = ∂C/∂a^{l} ⊙ σ'(z^{l}),  ∂C/∂a^{l} = {given}"
            if not layer.activation:
                text = f"δ^{l} = ∂C/∂a^{l} = {given}  (no σ: a^{l} = z^{l})"
        sp = [(f"sigma_prime{l}", layer.sigma_prime)] if layer.sigma_prime else []
        out.append(_eq(text, g, *sp, (f"delta{l}", layer.delta)))
        out += _parameter_gradients(layer)
        if getattr(layer, "inner", None):  # a residual block: its g's two terms, then F
            out.append(_skip_eq(layer))
            given = f"δ^{l} (F's output feeds the sum)"
            out += _backward_stack(t, layer.inner, (given, (f"dC_dF{l}", layer.delta)))
        if layer.routing:
            out.append(_routing_eq(layer))
    return out


def _parameter_gradients(layer: Any) -> list[_Eq]:
    """BP3 and BP4 of ``layer`` (nothing for a layer without parameters)."""
    l, p = layer.layer, _prev(layer)
    if not layer.W:
        return []
    kind = layer.kind.split("(")[0]
    if kind in ("BatchNorm", "LayerNorm"):  # γ is w^l, β is b^l
        sums = " summed over positions" if kind == "BatchNorm" and len(layer.shape) == 3 else ""
        bp3 = f"∂C/∂β^{l} = ∂C/∂b^{l} = δ^{l}{sums}"
        bp4 = f"∂C/∂γ^{l} = ∂C/∂w^{l} = δ^{l} ⊙ ẑ^{l}{sums}"
    elif np.ndim(layer.W) == 4:
        bp3 = f"BP3  ∂C/∂b^{l}[o] = Σ_{{y,x}} δ^{l}[o, y, x]  (per feature map)"
        bp4 = f"BP4  ∂C/∂w^{l}[o,c] = a^{p}[c] ⋆ δ^{l}[o]  (per kernel)"
    else:
        bp3, bp4 = f"BP3  ∂C/∂b^{l} = δ^{l}", f"BP4  ∂C/∂w^{l} = δ^{l} (a^{p})ᵀ"
    return [_eq(bp3, (f"nabla_b{l}", layer.nabla_b)), _eq(bp4, (f"nabla_w{l}", layer.nabla_w))]


def _skip_eq(layer: Any) -> _Eq:
    """A residual block's ∂C/∂a^{l−1} as the sum of its two terms: the identity path, δ^l
    unmultiplied, and F's path, J_Fᵀ δ^l (F's own backward chain)."""
    l, p = layer.layer, _prev(layer)
    text = (
        f"∂C/∂a^{p} = δ^{l} + J_Fᵀ δ^{l}: the identity path (δ^{l}, no factor w σ') "
        "plus F's path (its layers' backward chain, below)"
    )
    named = (f"identity{l}", layer.g_identity), (f"F_path{l}", layer.g_F), (f"g{l}", layer.g)
    return _eq(text, *named)


def _routes(r: np.ndarray) -> str:
    """``(y,x)→(row,col)`` for the first windows of the first maps of a routing array."""
    out = []
    for c in range(min(MAX_MAPS, r.shape[0])):
        pairs = [
            f"({y},{x})→({r[c, y, x, 0]},{r[c, y, x, 1]})"
            for y in range(min(2, r.shape[1]))
            for x in range(min(2, r.shape[2]))
        ]
        out.append(f"map {c}: " + ", ".join(pairs))
    return "; ".join(out)


def _routing_eq(layer: Any) -> _Eq:
    """A max-pooling's routing: the row and column of a^{l−1} each window's δ went to, and
    ∂C/∂a^{l−1} (zero but at those pixels)."""
    l, p = layer.layer, _prev(layer)
    text = (
        f"routing: ∂C/∂a^{p}[c, arg-max of window (y,x)] = δ^{l}[c, y, x], 0 elsewhere; "
        f"window (y,x)→(row,col): {_routes(np.asarray(layer.routing))}"
    )
    return _eq(text, (f"routed{l}", layer.g))


def _head(t: Any) -> str:
    d = int(getattr(t, "digits", 4))
    shape = " × ".join(map(str, t.x_shape)) if t.x_shape else str(len(t.x))
    return (
        f"Trace of one example ({shape}), L = {t.layers[-1].layer}: "
        f"C = {num(t.cost, d)} ({t.cost_name})"
    )


def _sections(t: Any) -> list[tuple[str, list[_Eq]]]:
    return [("Forward", _forward(t)), ("Backward, from the output down", _backward(t))]


def layer_trace_html(t: Any) -> str:
    """HTML: the example, each layer's forward equation with its maps, then the backward
    pass from the output down (every array a bracketed table with ``data-name``)."""
    d = int(getattr(t, "digits", 4))
    body = [f"<p><b>{esc(_head(t))}</b></p>"]
    for title, eqs in _sections(t):
        body.append(f"<p><b>{esc(title)}</b></p>")
        for e in eqs:
            tables = "".join(matrix_html(A, name, d) for name, A in e.arrays)
            more = f"<span>({esc(e.more)})</span>" if e.more else ""
            body.append(f'<div class="eq"><span>{math_html(e.text)}:</span>{tables}{more}</div>')
    return wrap("".join(body), "trace")


def layer_trace_markdown(t: Any) -> str:
    """Markdown: one line per equation, each array ``name = [rows; …]`` (elided beyond 8 × 8,
    the first :data:`MAX_MAPS` maps of a layer)."""
    d = int(getattr(t, "digits", 4))
    lines = [_head(t)]
    for title, eqs in _sections(t):
        lines += ["", f"**{title}**", ""]
        for e in eqs:
            arrays = "; ".join(
                f"{name} ({' × '.join(map(str, np.shape(A)))}) = {md_matrix(A, d)}"
                for name, A in e.arrays
            )
            lines.append(f"- {e.text}: {arrays}" + (f" ({e.more})" if e.more else ""))
    return "\n".join(lines)


def _tex_text(text: str) -> str:
    return r"\text{" + _tex_escape(text).replace("^", r"\^{}") + "}"


def layer_trace_latex(t: Any, env: str = "align*") -> str:
    """LaTeX in an ``env`` environment: each equation as text, then its arrays as
    ``pmatrix`` (named, elided beyond 8 × 8)."""
    d = int(getattr(t, "digits", 4))
    lines = [rf"\begin{{{env}}}", rf"&{_tex_text(_head(t))} \\"]
    for _, eqs in _sections(t):
        for e in eqs:
            arrays = r",\ ".join(rf"{_tex_text(name)} = {_pmatrix(A, d)}" for name, A in e.arrays)
            lines.append(rf"&{_tex_text(e.text)}: {arrays} \\")
    lines[-1] = lines[-1].removesuffix(r" \\")
    lines.append(rf"\end{{{env}}}")
    return "\n".join(lines)
