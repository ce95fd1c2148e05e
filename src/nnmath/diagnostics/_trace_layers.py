"""One example through a network of layers: each layer's quantities in its own shape.

For layer ``l`` (position in ``net.layers``, the Input being ``l = 1``) the forward pass's
``z^l`` and ``a^l`` and the backward pass's ``δ^l``, ``g = ∂C/∂a^{l−1}`` (what the layer
hands down; a residual block's as its two terms, ``δ^l + J_Fᵀ δ^l``) and, for a layer
with parameters, ``∂C/∂b^l`` and ``∂C/∂w^l`` of this one example: a convolution's ``δ^l``
per feature map ``(out, Ho, Wo)`` and ``∂C/∂w^l`` per kernel ``(out, in, k, k)``; a
max-pooling's routing, the input pixel each window's δ went to.

One example is traced in inference form (``training=False``): a BatchNorm normalises it with
its running statistics (one example alone has no batch variance), as ``predict`` does, and
its δ is handed down as ``γ δ/√(σ² + ε)``; the layer's state is not changed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["layer_traces"]


def _routing(layer: Any, cache: Any) -> list[Any]:
    """``(C, Ho, Wo, 2)``: the ``(row, column)`` of ``a^{l−1}`` that held each window's max
    (where its δ is routed); ``[]`` for a layer that routes nothing."""
    first_max = getattr(layer, "first_max", None)
    if first_max is None:
        return []
    where = np.asarray(first_max(cache))[..., 0]  # (C, Ho, Wo), entry i·k + j of each window
    rows = np.arange(where.shape[1])[:, None] * layer.stride + where // layer.k
    cols = np.arange(where.shape[2])[None, :] * layer.stride + where % layer.k
    return np.stack([rows, cols], axis=-1).tolist()


def layer_traces(net64: Any, x: np.ndarray, y: np.ndarray, trace_cls: Any) -> list[Any]:
    """One ``trace_cls`` (:class:`~nnmath.diagnostics.LayerTrace`) per layer after the Input
    of the float64 network of layers ``net64``, for the one column ``x`` ``(sizes[0], 1)``;
    a residual block's holds its layers' (``inner``, labelled ``l.1``, ``l.2``, …)."""
    g = net64.backprop_columns(x, y, training=False)  # one example: the inference form
    caches = net64.forward_caches(x)
    pairs = iter(zip(g.nabla_w, g.nabla_b))  # the layers with parameters, blocks' inner ones too
    out = []
    for i, (layer, cache) in enumerate(zip(net64.layers[1:], caches)):
        back = layer.backward(g.deltas[i], cache)
        out.append(_trace(trace_cls, layer, cache, g.deltas[i], back.g, (i + 2, i + 1), pairs))
    return out


def _first(a: Any) -> list[Any]:
    return np.asarray(a)[..., 0].tolist()  # the one example (the last axis)


def _trace(cls: Any, layer: Any, cache: Any, delta: Any, g: Any, labels: tuple, pairs: Any) -> Any:
    """The trace of one layer: ``labels`` its own and its input's, ``delta`` its δ, ``g`` what
    it hands down, ``pairs`` the remaining ``(∂C/∂w, ∂C/∂b)`` of the layers with parameters."""
    act = layer.activation
    z = np.asarray(cache.z)[..., 0]
    t = cls(
        layer=labels[0],
        activation=getattr(act, "name", "custom") if act is not None else "",
        z=z.tolist(),
        a=_first(cache.a),
        delta=_first(delta),
        nabla_b=[],
        nabla_w=[],
        sigma_prime=np.asarray(act.prime(z)).tolist() if act and act.elementwise else [],
        kind=repr(layer),
        shape=list(layer.output_shape),
        g=_first(g),
        routing=_routing(layer, cache),
        prev=labels[1],
    )
    if hasattr(layer, "backward_F"):  # a residual block: g = δ^l + J_Fᵀ δ^l, term by term
        path = layer.backward_F(delta, cache)
        t.g_identity, t.g_F = _first(delta), _first(path.g)
        prev = labels[1]  # F's first layer reads the block's input
        for j, (inner, c, (_, d)) in enumerate(zip(layer.layers, cache.inner, path.steps), 1):
            label = f"{labels[0]}.{j}"
            t.inner.append(_trace(cls, inner, c, d, inner.backward(d, c).g, (label, prev), pairs))
            prev = label
    elif layer.has_parameters:
        nabla_w, nabla_b = next(pairs)
        t.W, t.b = np.asarray(layer.W).tolist(), np.asarray(layer.b).tolist()
        t.nabla_w, t.nabla_b = np.asarray(nabla_w).tolist(), np.asarray(nabla_b).tolist()
    return t
