"""The gradient check of a network of layers (:mod:`nnmath.layers`), through their protocol.

The same quantities as the dense check (:func:`nnmath.diagnostics.gradcheck`), numbered as
the layers (``l = 2, …, L``: position in ``net.layers``, the Input being ``l = 1``, so a
pooling layer, a Flatten or a Dropout has a number too):

* ``σ'(z^l)`` of every layer with a σ (Conv2D, Dense, Activation);
* ``δ^l = ∂C_x/∂z^l`` of every layer, per example, perturbing ``z^l`` and feeding forward
  from layer l (for a layer without σ, ``z^l = a^l``: a max-pooling's δ is checked too);
  below a BatchNorm, whose training pass couples the examples of the mini-batch, ``δ^l`` of
  example x is ``∂(Σ_x' C_x')/∂z^l_x``, so each example's ``z^l`` is perturbed alone;
* ``∂C/∂b^l`` and ``∂C/∂w^l`` of every layer with parameters, ``W`` in its own shape
  (a convolution's ``(out, in, k, k)``);
* inside a residual block at ``l``, ``σ'`` and ``δ`` of each of its layers ``l.1``, ``l.2``,
  … (blocks inside blocks too), ``δ`` by perturbing the layer's ``z`` and feeding forward
  through the rest of the block, its sum and σ, and the layers above.

A layer of more than ``max_entries`` units checks ``max_entries`` of them, drawn at random.
Every forward pass is the training pass ``fit`` differentiates (``training=True``: a
BatchNorm's mini-batch statistics); nothing changes a layer's state (only ``fit``'s
``update_state`` does).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ._blocks import inner_rows, parameter_labels

__all__ = ["forward_from_layer", "layer_checks"]

#: one compared quantity: (name, layer l, analytic values, central differences)
_Check = tuple[str, int, Any, Any]


def forward_from_layer(net: Any, l: int, z: np.ndarray, training: bool = False) -> np.ndarray:
    """``a^L`` of a network of layers given layer ``l``'s ``z^l`` (``output_shape + (m,)``):
    ``a^l = σ(z^l)`` (or ``z^l`` for a layer without σ), then each layer above forward
    (``training``: in fit's pass, a BatchNorm with the mini-batch's statistics)."""
    layers = net.layers
    if not 2 <= l <= len(layers):
        raise ValueError(f"layer l must be between 2 and {len(layers)}, got {l}")
    sigma = layers[l - 1].activation
    a = z if sigma is None else sigma(z)
    for layer in layers[l:]:
        a = layer.forward(a, None, training).a
    return a


def forward_from_inner(net: Any, caches: list[Any], path: tuple[int, ...], z: Any) -> Any:
    """``a^L`` given the ``z`` of the layer at ``path`` inside a residual block (its block's
    index in ``net.layers[1:]``, then its index in each block's ``layers``): the rest of
    each block's F, its sum with the block's input (kept in ``caches``, the pass being
    checked) and σ, outwards, then the layers above the outer block, all in fit's training
    pass."""
    blocks, kept = [net.layers[1 + path[0]]], [caches[path[0]]]
    for j in path[1:-1]:
        blocks.append(blocks[-1].layers[j])
        kept.append(kept[-1].inner[j])
    leaf = blocks[-1].layers[path[-1]]
    a = z if leaf.activation is None else leaf.activation(z)
    for block, cache, j in zip(reversed(blocks), reversed(kept), reversed(path[1:])):
        for layer in block.layers[j + 1 :]:
            a = layer.forward(a, None, True).a  # fit's pass: a BatchNorm's batch statistics
        a = block.activation(cache.a_prev + a)  # z = a^in + F(a^in), a = σ(z)
    for layer in net.layers[path[0] + 2 :]:
        a = layer.forward(a, None, True).a
    return a


def central_differences(flat: Any, picks: Any, mean_cost: Any, eps: float) -> np.ndarray:
    """(C(θ_p + ε) − C(θ_p − ε)) / 2ε for each entry p of ``picks`` of the parameter view
    ``flat`` (each restored after), ``mean_cost()`` the cost at the parameters as they stand."""
    numeric = np.empty(len(picks))
    for j, p in enumerate(picks):
        old = flat[p]
        flat[p] = old + eps
        cp = mean_cost()
        flat[p] = old - eps
        cm = mean_cost()
        flat[p] = old
        numeric[j] = (cp - cm) / (2 * eps)
    return numeric


def _picks(count: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """All of ``range(count)``, or ``limit`` of them drawn without replacement (sorted)."""
    if count <= limit:
        return np.arange(count)
    return np.sort(rng.choice(count, size=limit, replace=False))


def _prime_checks(net64: Any, g: Any, eps: float, limit: int, rng: Any) -> Iterator[_Check]:
    """σ'(z^l) at the layer's own z^l (softmax: the Jacobian-vector product Jᵀv)."""
    for i, (layer, z) in enumerate(zip(net64.layers[1:], g.zs)):
        act = layer.activation
        if act is None:
            continue
        if act.elementwise:
            numeric = (act(z + eps) - act(z - eps)) / (2 * eps)
            yield "σ'", i + 2, act.prime(z), numeric
            continue
        v = rng.standard_normal(z.shape)
        picks = _picks(z.shape[0], limit, rng)
        numeric = np.empty((len(picks), z.shape[1]))
        for j, k in enumerate(picks):
            e = np.zeros_like(z)
            e[k] = eps
            numeric[j] = np.sum(v * (act(z + e) - act(z - e)), axis=0) / (2 * eps)
        yield "σ' (Jᵀv)", i + 2, act.vjp(z, act(z), v)[picks], numeric


def _delta_checks(
    net64: Any, g: Any, y: np.ndarray, eps: float, limit: int, rng: Any
) -> Iterator[_Check]:
    """δ^l = ∂C_x/∂z^l for every example, by perturbing z^l and feeding forward from l."""
    n = len(g.zs)
    for i in range(n - 1, -1, -1):
        z = g.zs[i]
        m = z.shape[-1]
        flat = z.reshape(-1, m)
        picks = _picks(flat.shape[0], limit, rng)
        coupled = any(lay.couples_examples for lay in net64.layers[i + 2 :])
        differences = _coupled_differences if coupled else _column_differences

        def forward(zl: Any, l: int = i + 2) -> Any:
            return forward_from_layer(net64, l, zl, training=True)

        numeric = differences(forward, net64.cost_function, flat, z.shape, picks, y, eps)
        analytic = np.asarray(g.deltas[i]).reshape(-1, m)[picks]
        yield "δ^L" if i == n - 1 else "δ^l", i + 2, analytic, numeric


def _column_differences(
    forward: Any, cost: Any, flat: Any, shape: Any, picks: Any, y: Any, eps: float
) -> np.ndarray:
    """∂C_x/∂z[k, x] for every example x at once (the columns are independent): unit k of
    every example perturbed together, each example's own cost differenced; ``forward``
    maps ``z`` to ``a^L``."""
    numeric = np.empty((len(picks), flat.shape[1]))
    for j, k in enumerate(picks):
        zp, zm = flat.copy(), flat.copy()
        zp[k] += eps
        zm[k] -= eps
        cp = cost.fn(forward(zp.reshape(shape)), y)
        cm = cost.fn(forward(zm.reshape(shape)), y)
        numeric[j] = (cp - cm) / (2 * eps)
    return numeric


def _coupled_differences(
    forward: Any, cost: Any, flat: Any, shape: Any, picks: Any, y: Any, eps: float
) -> np.ndarray:
    """∂(Σ_x' C_x')/∂z[k, x], one entry of one example perturbed at a time: above ``z`` a
    BatchNorm's statistics carry each example's z into every example's cost."""
    m = flat.shape[1]
    numeric = np.empty((len(picks), m))
    for j, k in enumerate(picks):
        for x in range(m):
            zp, zm = flat.copy(), flat.copy()
            zp[k, x] += eps
            zm[k, x] -= eps
            cp = cost.fn(forward(zp.reshape(shape)), y)
            cm = cost.fn(forward(zm.reshape(shape)), y)
            numeric[j, x] = (np.sum(cp) - np.sum(cm)) / (2 * eps)
    return numeric


def _parameter_checks(
    net64: Any, g: Any, x: np.ndarray, y: np.ndarray, eps: float, limit: int, rng: Any
) -> Iterator[_Check]:
    """∂C/∂b^l and ∂C/∂w^l of the mean cost (``W`` in its own shape), at most ``limit``
    entries each."""

    def mean_cost() -> float:  # in fit's pass: the function whose gradient backprop gives
        a = net64.forward_caches(x, training=True)[-1].a
        return float(np.mean(net64.cost_function.fn(a, y)))

    numbers = parameter_labels(net64.layers)  # "l.j" inside a residual block
    for k, (l, layer) in enumerate(zip(numbers, net64.parametrized, strict=True)):
        for quantity, param, grad in (
            ("∂C/∂b", layer.b, g.nabla_b[k]),
            ("∂C/∂w", layer.W, g.nabla_w[k]),
        ):
            flat = param.reshape(-1)  # a view: writes go into the layer
            picks = _picks(flat.size, limit, rng)
            numeric = central_differences(flat, picks, mean_cost, eps)
            yield quantity, l, np.asarray(grad).reshape(-1)[picks], numeric


def layer_checks(
    net64: Any, g: Any, x: np.ndarray, y: np.ndarray, eps: float, limit: int, seed: int
) -> list[_Check]:
    """Every compared quantity of the float64 network of layers ``net64``, from its
    gradients ``g`` on the columns ``x``, ``y``; ``limit`` entries at most per array."""
    rng = np.random.default_rng(seed)
    return [  # in this order: the draws of ``rng`` are part of the result
        *_prime_checks(net64, g, eps, limit, rng),
        *_delta_checks(net64, g, y, eps, limit, rng),
        *_parameter_checks(net64, g, x, y, eps, limit, rng),
        *_inner_checks(net64, g, y, eps, limit, rng),
    ]


def _inner_checks(
    net64: Any, g: Any, y: np.ndarray, eps: float, limit: int, rng: Any
) -> Iterator[_Check]:
    """σ' and δ of every layer inside a residual block (labelled ``l.j``), δ by perturbing
    its ``z`` and feeding forward (:func:`forward_from_inner`); one example at a time when
    a BatchNorm in its block or above couples the examples."""
    for row in inner_rows(net64, g):
        z, act = np.asarray(row.cache.z), row.layer.activation
        if act is not None and act.elementwise:
            yield "σ'", row.label, act.prime(z), (act(z + eps) - act(z - eps)) / (2 * eps)
        m = z.shape[-1]
        flat = z.reshape(-1, m)
        picks = _picks(flat.shape[0], limit, rng)
        coupled = any(lay.couples_examples for lay in net64.layers[row.path[0] + 1 :])
        differences = _coupled_differences if coupled else _column_differences

        def forward(zi: Any, path: tuple[int, ...] = row.path) -> Any:
            return forward_from_inner(net64, g.caches, path, zi)

        numeric = differences(forward, net64.cost_function, flat, z.shape, picks, y, eps)
        yield "δ^l", row.label, np.asarray(row.delta).reshape(-1, m)[picks], numeric
