"""The rich display of a :class:`~nnmath.network.Network`: a table of its layers and a diagram.

Layer ``l = 2, …, L`` (lecture numbering) computes ``a^l = σ(W^l a^{l−1} + b^l)`` with ``W^l``
of shape ``(n_l, n_{l−1})`` and ``b^l`` of shape ``(n_l,)``: ``n_l (n_{l−1} + 1)`` parameters.

A network of layers (``net.layered``) shows one row per layer, the Input first (``l = 1``):
its type, output shape, σ, the shape of ``W^l`` and its parameter count (a convolution's
``out·in·k·k + out``), and a diagram of blocks (:func:`~nnmath.display.layer_svg.layers_diagram`).
The layers are duck-typed (``name``, ``output_shape``, ``activation``, ``has_parameters``,
``W``, ``b``, and ``k``, ``stride``, ``padding``, ``p`` where they have them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._html import esc, shape_text, table_html, wrap
from .layer_svg import Column, layers_diagram
from .svg import network_diagram

__all__ = ["activation_label", "layer_columns", "layer_rows", "network_html", "network_rows"]


def activation_label(act: Any) -> str:
    """``"leaky_relu(alpha=0.2)"``: the registry name and any parameters."""
    name = getattr(act, "name", type(act).__name__)
    params = getattr(act, "params", {}) or {}
    return name + ("(" + ", ".join(f"{k}={v:g}" for k, v in params.items()) + ")" if params else "")


def network_rows(net: Any) -> list[list[Any]]:
    """One row per layer of weights: l, n_{l−1} → n_l, σ, shape of W^l, parameters, dropout.

    ``net`` is duck-typed: ``sizes``, ``activation_functions`` and (optionally) ``dropout``.
    """
    sizes = list(net.sizes)
    dropout = list(getattr(net, "dropout", ()) or ())
    rows = []
    for i, act in enumerate(net.activation_functions):
        n_in, n_out = sizes[i], sizes[i + 1]
        p = dropout[i] if i < len(dropout) else 0.0
        rows.append(
            [
                i + 2,
                f"{n_in} → {n_out}",
                activation_label(act),
                shape_text((n_out, n_in)),
                n_out * (n_in + 1),
                f"{p:g}" if p else "",
            ]
        )
    return rows


def network_html(net: Any) -> str:
    """HTML of a network: a heading line, the layer table and an SVG diagram.

    Parameters
    ----------
    net : Network (or an object with ``sizes``, ``activation_functions``, ``cost_name``,
        ``dtype`` and optionally ``backend`` and ``dropout``)

    Returns
    -------
    str
    """
    if getattr(net, "layered", False):
        return _layers_html(net)
    rows = network_rows(net)
    total = sum(r[4] for r in rows)
    backend = getattr(net, "backend", None)
    where = ""
    if backend is not None and getattr(backend, "name", "numpy") != "numpy":
        where = f", {backend.name} on {getattr(backend, 'device', '?')}"
    head = (
        f"<p><b>Network</b> {esc(list(net.sizes))}: L = {len(net.sizes)} layers, "
        f"cost {esc(getattr(net, 'cost_name', '?'))}, {esc(np.dtype(net.dtype).name)}"
        f"{esc(where)}, {total} parameters</p>"
    )
    table = table_html(
        ["l", "n_{l−1} → n_l", "σ", "W^l", "parameters", "dropout"],
        rows,
        caption="a^l = σ(W^l a^{l−1} + b^l), l = 2 … L",
        cls="nnmath-layers",
    )
    diagram = network_diagram(net.sizes, [r[2] for r in rows])
    return wrap(head + table + diagram, "network")


def _title(layer: Any) -> str:
    """``Conv2D 5×5``, ``MaxPool2D 2×2, stride 1``, ``Dropout 0.5``, ``Dense``: the layer's type
    and window (σ has its own column)."""
    text = type(layer).__name__
    k = getattr(layer, "k", 0)
    if k:
        text += f" {k}×{k}"
        stride, padding = getattr(layer, "stride", k), getattr(layer, "padding", 0)
        default_stride = k if "pool" in layer.name else 1
        text += f", stride {stride}" if stride != default_stride else ""
        text += f", padding {padding}" if padding else ""
    if getattr(layer, "p", None) is not None:
        text += f" {layer.p:g}"
    if layer.name == "batchnorm":  # γ, β (and the running statistics) per unit or channel
        text += " per channel" if len(layer.output_shape) == 3 else " per unit"
    if layer.name == "residual":  # its layers, each with its σ: F
        inner = [f"{_title(lay)} {activation_label(lay.activation)}" for lay in layer.layers]
        text += "(" + " → ".join(inner) + ")"
    return "input x" if layer.name == "input" else text


def layer_rows(net: Any) -> list[list[Any]]:
    """One row per layer of a network of layers, the Input first: l, layer, output shape, σ,
    shape of W^l, parameters (``W.size + b.size``; 0 for a layer without). A residual block
    is one row naming its layers (``Residual: Dense(relu) → Dense(identity)``), their ``W``
    shapes and their parameters together."""
    rows = []
    for j, layer in enumerate(net.layers):
        act = layer.activation
        inner = layer.parameter_layers()
        shapes = ", ".join(shape_text(np.shape(lay.W)) for lay in inner)
        count = sum(int(np.size(lay.W) + np.size(lay.b)) for lay in inner)
        rows.append(
            [
                j + 1,
                _title(layer),
                shape_text(layer.output_shape),
                activation_label(act) if act is not None else "",
                shapes,
                count,
            ]
        )
    return rows


def layer_columns(net: Any) -> list[Column]:
    """What :func:`~nnmath.display.layer_svg.layers_diagram` draws, one per layer; a
    residual block is its layers' columns (``l.1``, ``l.2``, …) and then its sum, a column
    that the skip arc joins from the column before the block."""
    columns: list[Column] = []
    for j, layer in enumerate(net.layers):
        _add_columns(columns, layer, j + 1)
    return columns


def _add_columns(columns: list[Column], layer: Any, l: Any) -> None:
    sigma = activation_label(layer.activation) if layer.activation is not None else ""
    shape = tuple(layer.output_shape)
    if layer.name != "residual":
        k = int(getattr(layer, "k", 0) or 0)
        columns.append(
            Column(l=l, kind=layer.name, shape=shape, title=_title(layer), sigma=sigma, k=k)
        )
        return
    start = len(columns) - 1  # the block's input: the column before it
    for i, inner in enumerate(layer.layers, start=1):
        _add_columns(columns, inner, f"{l}.{i}")
    columns.append(
        Column(l=l, kind="residual", shape=shape, title="⊕ a + F(a)", sigma=sigma, skip=start)
    )


def _layers_html(net: Any) -> str:
    """The heading, the layer table and the block diagram of a network of layers."""
    rows = layer_rows(net)
    total = sum(r[5] for r in rows)
    head = (
        f"<p><b>Network</b> of layers: L = {len(rows)} layers, "
        f"cost {esc(getattr(net, 'cost_name', '?'))}, {esc(np.dtype(net.dtype).name)}, "
        f"{total} parameters</p>"
    )
    table = table_html(
        ["l", "layer", "output shape", "σ", "W^l", "parameters"],
        rows,
        caption="a^l = σ(z^l), z^l = w^l ⋆ a^{l−1} + b^l; l = 1 is the input",
        cls="nnmath-layers",
    )
    return wrap(head + table + layers_diagram(layer_columns(net)), "network")
