"""The rich display of a :class:`~nnmath.network.Network`: a table of its layers and a diagram.

Layer ``l = 2, …, L`` (lecture numbering) computes ``a^l = σ(W^l a^{l−1} + b^l)`` with ``W^l``
of shape ``(n_l, n_{l−1})`` and ``b^l`` of shape ``(n_l,)``: ``n_l (n_{l−1} + 1)`` parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._unsupported import refuse_layers
from ._html import esc, shape_text, table_html, wrap
from .svg import network_diagram

__all__ = ["activation_label", "network_html", "network_rows"]


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
    refuse_layers(
        net,
        "the network display (nnmath.display.network_html)",
        "print(net) lists the layers",
    )
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
