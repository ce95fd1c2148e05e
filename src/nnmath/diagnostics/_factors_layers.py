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

from ..activations import get_activation
from ._blocks import parameter_rows

__all__ = ["div", "layer_factors", "saturated"]


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


def layer_factors(net64: Any, x: np.ndarray, y: np.ndarray) -> list[dict[str, Any]]:
    """The fields of one :class:`~nnmath.diagnostics.LayerFactors` per layer with parameters
    below the output, of the float64 network of layers ``net64`` on the columns ``x``, ``y``."""
    g = net64.backprop_columns(x, y)
    identity = get_activation("identity")  # a BatchNorm's: a^l = z^l
    m = x.shape[-1]
    rows = parameter_rows(net64, g)  # those inside residual blocks too, labelled "l.j"

    def rms(a: Any) -> float:  # root mean square over examples of ‖a_x‖
        return float(np.linalg.norm(a) / math.sqrt(m))

    out = []
    for k, (row, up) in enumerate(zip(rows, rows[1:])):
        layer, back = row.layer, row.g  # ∂C/∂a^l, handed down
        z, delta = row.cache.z, row.delta
        act = layer.activation or identity
        prime = np.asarray(act.prime(z))
        n_up, n_back, n_delta = rms(up.delta), rms(back), rms(delta)
        sb, sb_up = np.linalg.norm(g.nabla_b[k]), np.linalg.norm(g.nabla_b[k + 1])
        out.append(
            dict(
                layer=row.label,
                activation=act.name,
                ratio=div(n_delta, n_up),
                weight_factor=div(n_back, n_up),
                activation_factor=div(n_delta, n_back),
                speed_ratio=div(float(sb), float(sb_up)),
                mean_prime=float(np.mean(prime)),
                max_prime=getattr(act, "max_prime", None),
                saturated=saturated(act, z, prime),
                ratio_bound=None,
            )
        )
    return out
