"""The vanishing factors of a network of layers: from one layer with parameters to the next.

Between the layer with parameters ``l`` and the next one above, ``l'``, there may be a
pooling, a Flatten or a Dropout; the error goes down from ``δ^{l'}`` through them to
``g = ∂C/∂a^l`` (what layer ``l + 1`` hands down) and then ``δ^l = g ⊙ σ'(z^l)``. So

``ratio = ‖δ^l‖/‖δ^{l'}‖ = weight_factor × activation_factor``, with
``weight_factor = ‖g‖/‖δ^{l'}‖`` (the weights of ``l'`` and the layers between: a
max-pooling passes each window's δ to one pixel, so it keeps ‖δ‖) and
``activation_factor = ‖g ⊙ σ'(z^l)‖/‖g‖``.

Not defined here: ``ratio_bound`` (``max σ' · σ_max(W)`` is a bound for a Dense ``W``, not
for a convolution's operator), and the Jacobian spectra (a convolution's per-example
Jacobian ``∂a^l/∂a^{l−1}`` has ``out·Ho·Wo × C·H·W`` entries): both are left empty.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .norms import gradient_norms_of

__all__ = ["div", "layer_factors", "saturated", "sigma_layers", "speed_positions"]


def saturated(act: Any, z: np.ndarray, prime: np.ndarray) -> float:
    """Fraction of units × examples with σ'(z) < 1 % of max σ', or z ≤ 0 for ReLU and z < 0
    for leaky ReLU."""
    name = getattr(act, "name", "")
    if name == "relu":
        return float(np.mean(z <= 0))
    if name == "leaky_relu":
        return float(np.mean(z < 0))
    top = getattr(act, "max_prime", None)
    if top is None:
        top = float(np.max(np.abs(prime))) if prime.size else 1.0
    return float(np.mean(np.abs(prime) < 0.01 * top))


def div(a: float, b: float) -> float:
    """``a / b``, with ``inf`` (or ``nan`` for 0/0) where ``b`` is 0."""
    return a / b if b != 0 else (math.inf if a != 0 else math.nan)


def sigma_layers(net: Any) -> list[int]:
    """Positions ``l`` (Input is 1) of the layers below the output whose σ makes a layer of
    units: a layer with a σ, but not one whose identity σ a BatchNorm or an Activation above
    completes (``Dense(n, identity), BatchNorm(), Activation(σ)`` is one layer, the
    Activation's row). A Residual block is one row, its σ the block's."""
    layers = net.layers
    out = []
    for j in range(1, len(layers) - 1):
        layer, after = layers[j], layers[j + 1]
        if layer.activation is None:
            continue
        if layer.activation.name == "identity" and after.name in ("batchnorm", "activation"):
            continue
        out.append(j + 1)
    return out


def speed_positions(net: Any, index: list[int] | None) -> list[int]:
    """The position ``l`` in ``net.layers`` of each speed of learning (``index``: which
    entries of ``nabla_b`` they are, :func:`~nnmath.diagnostics.speed_index`); the layers
    inside a Residual block have the block's."""
    where = [l + 1 for l, layer in enumerate(net.layers) for _ in layer.parameter_layers()]
    return where if index is None else [where[i] for i in index]


def layer_factors(net64: Any, x: np.ndarray, y: np.ndarray) -> list[dict[str, Any]]:
    """The fields of one :class:`~nnmath.diagnostics.LayerFactors` per layer of units below
    the output (:func:`sigma_layers`), of the float64 network of layers ``net64`` on the
    columns ``x``, ``y``. Through a BatchNorm the weight factor takes in its Jacobian (batch
    statistics, as in training); through a Residual block the sum of its two paths,
    ``‖δ + J_Fᵀ δ‖/‖δ‖``."""
    g = net64.backprop_columns(x, y)
    caches = g.caches
    m = x.shape[-1]
    numbers = [*sigma_layers(net64), net64.L]
    speed = gradient_norms_of(net64, g).speed
    paired = len(speed) == len(numbers)

    def rms(a: Any) -> float:  # root mean square over examples of ‖a_x‖
        return float(np.linalg.norm(a) / math.sqrt(m))

    out = []
    for k, (l, l_up) in enumerate(zip(numbers, numbers[1:])):
        layer, above = net64.layers[l - 1], net64.layers[l]
        back = above.backward(g.deltas[l - 1], caches[l - 1]).g  # ∂C/∂a^l, handed down
        z, delta = g.zs[l - 2], g.deltas[l - 2]
        prime = np.asarray(layer.activation.prime(z))
        n_up, n_back, n_delta = rms(g.deltas[l_up - 2]), rms(back), rms(delta)
        out.append(
            dict(
                layer=l,
                activation=layer.activation.name,
                ratio=div(n_delta, n_up),
                weight_factor=div(n_back, n_up),
                activation_factor=div(n_delta, n_back),
                speed_ratio=div(speed[k], speed[k + 1]) if paired else math.nan,
                mean_prime=float(np.mean(prime)),
                max_prime=getattr(layer.activation, "max_prime", None),
                saturated=saturated(layer.activation, z, prime),
                ratio_bound=None,
            )
        )
    return out
