"""Why the gradient vanishes: the ratio ‖δ^l‖/‖δ^{l+1}‖ split into a weight and an activation
factor, and the singular values of the layer Jacobians ``diag(σ'(z^l)) W^l``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..backend import to_numpy
from ._factors_layers import div, layer_factors, saturated
from ._float64 import as_float64, layer_numbers

__all__ = ["LayerFactors", "VanishingFactors", "vanishing_factors"]


@dataclass
class LayerFactors:
    """Why ``δ^l`` is smaller than ``δ^{l+1}``, for one hidden layer ``l``.

    With ``g = (W^{l+1})ᵀ δ^{l+1}`` and ``δ^l = g ⊙ σ'(z^l)`` (lecture, backprop equation 2),

    ``ratio = ‖δ^l‖/‖δ^{l+1}‖ = weight_factor × activation_factor``, where
    ``weight_factor = ‖g‖/‖δ^{l+1}‖`` and ``activation_factor = ‖g ⊙ σ'(z^l)‖/‖g‖``.

    Norms are over all examples at once (Frobenius norm of the ``(n_l, m)`` matrix of
    per-example errors, divided by √m: the root mean square of ‖δ_x^l‖), so the product is
    exact.

    Attributes
    ----------
    layer : int
        Lecture numbering (2 is the first hidden layer).
    activation : str
    ratio, weight_factor, activation_factor : float
    speed_ratio : float
        ‖∂C/∂b^l‖/‖∂C/∂b^{l+1}‖, the ratio of Nielsen's speeds (gradients averaged first).
    mean_prime : float
        Mean of σ'(z^l) over units and examples.
    max_prime : float or None
        The bound σ' ≤ max_prime (1/4 for sigmoid).
    saturated : float
        Fraction of units × examples with σ'(z) < 1 % of max σ' (sigmoid, tanh, ELU), or
        z ≤ 0 for ReLU and z < 0 for leaky ReLU.
    ratio_bound : float or None
        max σ' × σ_max(W^{l+1}): no ratio can exceed it.
    """

    layer: int | str  # "l.j": the j-th layer inside a residual block at l
    activation: str
    ratio: float
    weight_factor: float
    activation_factor: float
    speed_ratio: float
    mean_prime: float
    max_prime: float | None
    saturated: float
    ratio_bound: float | None


@dataclass
class VanishingFactors:
    """Output of :func:`vanishing_factors`.

    Attributes
    ----------
    layers : list of LayerFactors
        One per hidden layer, first hidden layer first.
    speeds : list of float
        ‖∂C/∂b^l‖ for every layer of weights.
    jacobian_layers : list of int
        Lecture numbers l = 2, …, L of the rows below.
    jacobian_sv : list of list of float
        Singular values (descending) of ``J^l = diag(σ'(z^l)) W^l = ∂a^l/∂a^{l−1}``, averaged
        over the examples (per-example Jacobians, each spectrum sorted, then averaged).
    product_sv : list of list of float
        The same for the product ``J^L J^{L−1} ⋯ J^l = ∂a^L/∂a^{l−1}`` over the depth from
        layer l to the output: ``∂C/∂a^{l−1} = (J^L ⋯ J^l)ᵀ ∂C/∂a^L``, so its largest singular
        value bounds how much of the output's gradient reaches layer l − 1.
    n_jacobian_examples : int
        How many examples the spectra were averaged over.
    speed_layers : list of int
        The layer ``l`` of each speed: ``2, …, L`` (default, when empty) or, for a network of
        layers, the positions of its layers with parameters in ``net.layers``.
    """

    layers: list[LayerFactors]
    speeds: list[float]
    jacobian_layers: list[int] = field(default_factory=list)
    jacobian_sv: list[list[float]] = field(default_factory=list)
    product_sv: list[list[float]] = field(default_factory=list)
    n_jacobian_examples: int = 0
    speed_layers: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_markdown(self) -> str:
        above = "l'" if self.speed_layers else "l+1"  # l': the next layer with parameters
        head = (
            f"| l | σ | ‖δ^l‖/‖δ^{{{above}}}‖ | weight factor | activation factor | speed ratio "
            f"| mean σ'(z^l) | bound σ' ≤ | saturated | max σ'·‖W^{{{above}}}‖₂ |"
        )
        lines = [head, "|" + "---|" * 10]
        for f in self.layers:
            bound = "" if f.max_prime is None else f"{f.max_prime:.3g}"
            rb = "" if f.ratio_bound is None else f"{f.ratio_bound:.3g}"
            lines.append(
                f"| {f.layer} | {f.activation} | {f.ratio:.3g} | {f.weight_factor:.3g} "
                f"| {f.activation_factor:.3g} | {f.speed_ratio:.3g} | {f.mean_prime:.3g} "
                f"| {bound} | {f.saturated:.1%} | {rb} |"
            )
        if not self.jacobian_layers:  # a network of layers has none (module docstring)
            return "\n".join(lines)
        lines += [
            "",
            f"Singular values (mean over {self.n_jacobian_examples} examples):",
            "",
            "| l | σ_max(J^l) | σ_min(J^l) | σ_max(J^L⋯J^l) | σ_min(J^L⋯J^l) |",
            "|---|---|---|---|---|",
        ]
        for l, s, p in zip(self.jacobian_layers, self.jacobian_sv, self.product_sv):
            lines.append(f"| {l} | {s[0]:.3g} | {s[-1]:.3g} | {p[0]:.3g} | {p[-1]:.3g} |")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        from ..display import factors_html

        return factors_html(self)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def _layer_jacobians(net: Any, zs: list[np.ndarray]) -> list[np.ndarray]:
    """Per-example ``J^l = diag(σ'(z^l)) W^l`` (or softmax's Jacobian @ W): (m, n_l, n_{l−1})."""
    out = []
    for W, z, act in zip(net.weights, zs, net.activation_functions):
        W = to_numpy(W).astype(np.float64)
        if getattr(act, "elementwise", True):
            out.append(to_numpy(act.prime(z)).T[:, :, None] * W[None, :, :])
        else:
            out.append(np.asarray(act.jacobian(z)) @ W)
    return out


def vanishing_factors(
    net: Any, X: Any, Y: Any, max_jacobian_examples: int = 100
) -> VanishingFactors:
    """Split the shrinking of ``δ^l`` from layer to layer into a weight and an activation factor.

    Backprop equation 2, ``δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)``, multiplies ``δ^{l+1}`` by
    the weights and then by σ'. For each hidden layer the ratio ``‖δ^l‖/‖δ^{l+1}‖`` is split
    exactly into ``‖(W^{l+1})ᵀδ^{l+1}‖/‖δ^{l+1}‖`` (weights) times
    ``‖((W^{l+1})ᵀδ^{l+1}) ⊙ σ'(z^l)‖/‖(W^{l+1})ᵀδ^{l+1}‖`` (activation); see
    :class:`LayerFactors` for the columns, and the singular values of the layer Jacobians
    ``diag(σ'(z^l)) W^l`` and of their product over depth (:class:`VanishingFactors`).

    Computed in float64 on a float64 copy of ``net``. A network of layers gets one row per
    layer with parameters below the output, the weight factor taking in the pooling, Flatten
    and Dropout layers above it, and no ``ratio_bound`` nor Jacobian spectra (not defined
    for a convolution here; :mod:`~nnmath.diagnostics._factors_layers`).

    Parameters
    ----------
    net : Network
    X : array-like, shape (m, sizes[0])
    Y : array-like, shape (m, sizes[-1]) or labels (m,)
    max_jacobian_examples : int
        Spectra are averaged over the first this many examples (each Jacobian of the first
        layer has ``sizes[1] × sizes[0]`` entries per example).

    Returns
    -------
    VanishingFactors
    """
    net64 = as_float64(net)
    if getattr(net64, "layered", False):
        return _layered(net64, X, Y)
    g = net64.backprop(X, Y)
    m = g.deltas[0].shape[1]
    n = net64.n_layers
    acts = net64.activation_functions

    def rms(a: np.ndarray) -> float:  # root mean square over examples of ‖a_x‖
        return float(np.linalg.norm(a) / math.sqrt(m))

    layers = []
    for i in range(n - 1):
        d_next, z = g.deltas[i + 1], g.zs[i]
        W_next = net64.weights[i + 1]
        back = W_next.T @ d_next  # (W^{l+1})ᵀ δ^{l+1}
        delta = acts[i].vjp(z, g.activations[i + 1], back)  # ⊙ σ'(z^l)
        prime = np.asarray(acts[i].prime(z))
        n_next, n_back, n_delta = rms(d_next), rms(back), rms(delta)
        sb, sb_next = np.linalg.norm(g.nabla_b[i]), np.linalg.norm(g.nabla_b[i + 1])
        top = getattr(acts[i], "max_prime", None)
        layers.append(
            LayerFactors(
                layer=i + 2,
                activation=getattr(acts[i], "name", "custom"),
                ratio=div(n_delta, n_next),
                weight_factor=div(n_back, n_next),
                activation_factor=div(n_delta, n_back),
                speed_ratio=div(float(sb), float(sb_next)),
                mean_prime=float(np.mean(prime)),
                max_prime=top,
                saturated=saturated(acts[i], z, prime),
                ratio_bound=None if top is None else float(top * np.linalg.norm(W_next, 2)),
            )
        )
    k = max(1, min(int(max_jacobian_examples), m))
    jac_sv, prod_sv = _spectra(_layer_jacobians(net64, [z[:, :k] for z in g.zs]))
    return VanishingFactors(
        layers=layers,
        speeds=[float(np.linalg.norm(nb)) for nb in g.nabla_b],
        jacobian_layers=list(range(2, n + 2)),
        jacobian_sv=jac_sv,
        product_sv=prod_sv,
        n_jacobian_examples=k,
    )


def _spectra(jac: list[np.ndarray]) -> tuple[list[list[float]], list[list[float]]]:
    """Mean singular values of every ``J^l`` and of every product ``J^L ⋯ J^l``."""
    products, P = [], None
    for J in reversed(jac):  # J^L first; P = J^L ⋯ J^l
        P = J if P is None else P @ J
        products.append(P)
    products.reverse()
    return [_mean_spectrum(J) for J in jac], [_mean_spectrum(P) for P in products]


def _mean_spectrum(J: np.ndarray) -> list[float]:
    """Singular values of each ``J[k]`` (descending), rounding noise below 1e−12 σ_max set to
    0 (a ReLU layer's Jacobian is rank-deficient), averaged over k."""
    s = np.linalg.svd(J, compute_uv=False)
    s[s < 1e-12 * s[:, :1]] = 0.0
    return s.mean(axis=0).tolist()


def _layered(net64: Any, X: Any, Y: Any) -> VanishingFactors:
    """:func:`vanishing_factors` of a float64 network of layers (no spectra)."""
    x = net64.check_inputs(X)
    y = net64.check_targets(Y, x.shape[0])
    rows = layer_factors(net64, x.T, y.T)
    g = net64.backprop_columns(x.T, y.T)
    return VanishingFactors(
        layers=[LayerFactors(**row) for row in rows],
        speeds=[float(np.linalg.norm(nb)) for nb in g.nabla_b],
        speed_layers=layer_numbers(net64),
    )
