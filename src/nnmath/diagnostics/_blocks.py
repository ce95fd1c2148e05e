"""The layers with parameters of a network of layers, those inside residual blocks included,
with what the diagnostics read of each: its label, cache, ``δ`` and the ``∂C/∂a`` it got.

A layer at position ``l`` of ``net.layers`` (the Input is ``l = 1``) is labelled ``l``; the
``j``-th layer of F inside a block at ``l`` is labelled ``"l.j"`` (``"l.j.k"`` one block
deeper): the order of ``net.weights``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..layers import Layer, Residual

__all__ = ["ParameterRow", "inner_rows", "parameter_labels", "parameter_rows"]


@dataclass
class ParameterRow:
    """One layer with parameters on one mini-batch.

    Attributes
    ----------
    label : int or str
        ``l``, or ``"l.j"`` inside the block at ``l``.
    layer : Layer
    cache : Cache
        Its forward pass (``z``, ``a``, ``a_prev``).
    delta : array ``output_shape + (m,)``
        ``δ = ∂C/∂z`` of the layer.
    g : array ``output_shape + (m,)`` or None
        ``∂C/∂a`` of its output, what the layer above handed down (None for the output).
    path : tuple of int
        Where it is (:func:`inner_rows`): its block's index in ``net.layers[1:]``, then its
        index in each block's ``layers`` down to it; empty from :func:`parameter_rows`.
    """

    label: int | str
    layer: Layer
    cache: Any
    delta: Any
    g: Any
    path: tuple[int, ...] = ()


def parameter_labels(layers: list[Layer]) -> list[int | str]:
    """The label of each layer with parameters of ``layers`` (Input first), in the order
    of ``net.weights``."""
    return [label for i, layer in enumerate(layers[1:]) for label in _labels(layer, i + 2)]


def _labels(layer: Layer, label: int | str) -> list[int | str]:
    if isinstance(layer, Residual):
        return [
            x for j, inner in enumerate(layer.layers) for x in _labels(inner, f"{label}.{j + 1}")
        ]
    return [label] if layer.has_parameters else []


def parameter_rows(net: Any, g: Any) -> list[ParameterRow]:
    """A :class:`ParameterRow` per layer with parameters of the network of layers ``net``,
    from its gradients ``g`` (:meth:`~nnmath.layer_network.LayerNetwork.backprop_columns`,
    whose ``caches`` and ``deltas`` it reads), in the order of ``net.weights``."""
    layers, caches = net.layers[1:], g.caches
    rows = []
    for i, (layer, cache) in enumerate(zip(layers, caches)):
        if not (layer.has_parameters or isinstance(layer, Residual)):
            continue
        above = None  # ∂C/∂a^l, handed down by the layer above
        if i + 1 < len(layers):
            above = layers[i + 1].backward(g.deltas[i + 1], caches[i + 1]).g
        rows += _rows(layer, cache, g.deltas[i], above, i + 2)
    return rows


def _rows(layer: Layer, cache: Any, delta: Any, above: Any, label: int | str) -> list[Any]:
    """The rows of one layer: itself, or a block's inner layers (F's path, recursively)."""
    if not isinstance(layer, Residual):
        return [ParameterRow(label, layer, cache, delta, above)] if layer.has_parameters else []
    path = layer.backward_F(delta, cache)
    rows = []
    for j, (inner, c, (g_j, d_j)) in enumerate(zip(layer.layers, cache.inner, path.steps)):
        rows += _rows(inner, c, d_j, g_j, f"{label}.{j + 1}")
    return rows


def inner_rows(net: Any, g: Any) -> list[ParameterRow]:
    """A row for every layer inside a residual block of ``net`` (any type, blocks inside
    blocks too, each with its ``path``), from its gradients ``g``: what the gradient check
    checks of F's layers."""
    rows = []
    for i, (layer, cache) in enumerate(zip(net.layers[1:], g.caches)):
        if isinstance(layer, Residual):
            rows += _inner(layer, cache, g.deltas[i], i + 2, (i,))
    return rows


def _inner(block: Residual, cache: Any, delta: Any, label: Any, path: tuple) -> list[Any]:
    steps = block.backward_F(delta, cache).steps
    rows = []
    for j, (layer, c, (g_j, d_j)) in enumerate(zip(block.layers, cache.inner, steps)):
        here, where = f"{label}.{j + 1}", (*path, j)
        rows.append(ParameterRow(here, layer, c, d_j, g_j, where))
        if isinstance(layer, Residual):
            rows += _inner(layer, c, d_j, here, where)
    return rows
