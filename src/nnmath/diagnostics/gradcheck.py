"""Each backprop equation against central differences, in float64: σ', δ^L, δ^l, ∂C/∂b, ∂C/∂w."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ._float64 import as_float64
from ._gradcheck_layers import central_differences, forward_from_layer, layer_checks

__all__ = ["GradCheck", "GradCheckRow", "forward_from", "gradcheck"]


@dataclass
class GradCheckRow:
    """One compared quantity of one layer.

    Attributes
    ----------
    quantity : str
        ``"σ'"``, ``"δ^L"``, ``"δ^l"``, ``"∂C/∂b"`` or ``"∂C/∂w"``.
    layer : int
        Lecture numbering (2 … L).
    max_rel_error : float
        max over entries of ``|analytic − numeric| / max(|analytic|, |numeric|, floor)``.
    max_abs_error : float
    n_checked : int
        Number of entries compared.
    ok : bool
        ``max_rel_error <= tol``.
    """

    quantity: str
    layer: int | str  # "l.j": the j-th layer inside a residual block at l
    max_rel_error: float
    max_abs_error: float
    n_checked: int
    ok: bool


@dataclass
class GradCheck:
    """The table returned by :func:`gradcheck`; ``print(check)`` shows it as Markdown."""

    rows: list[GradCheckRow]
    eps: float
    tol: float
    floor: float

    @property
    def ok(self) -> bool:
        """True when every row passed."""
        return all(r.ok for r in self.rows)

    @property
    def max_error(self) -> float:
        """The largest relative error of any row."""
        return max((r.max_rel_error for r in self.rows), default=0.0)

    def to_markdown(self) -> str:
        lines = [
            "| quantity | layer | max relative error | max absolute error | entries | ok |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r.quantity} | {r.layer} | {r.max_rel_error:.2e} | {r.max_abs_error:.2e} "
                f"| {r.n_checked} | {'yes' if r.ok else 'NO'} |"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "max_error": self.max_error,
            "eps": self.eps,
            "tol": self.tol,
            "floor": self.floor,
            "rows": [asdict(r) for r in self.rows],
        }

    def __str__(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        from ..display import gradcheck_html

        return gradcheck_html(self)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def forward_from(net: Any, l: int, z: np.ndarray) -> np.ndarray:
    """Run the forward pass from layer ``l`` given its weighted input ``z^l``; return ``a^L``.

    ``a^l = σ(z^l)``, then ``z^{k} = W^k a^{k−1} + b^k``, ``a^k = σ(z^k)`` for k = l+1, …, L.

    Parameters
    ----------
    net : Network
    l : int
        Lecture numbering, 2 … L.
    z : array, shape (sizes[l−1], m)
        ``z^l`` for ``m`` examples (columns).

    Returns
    -------
    a_L : array, shape (sizes[-1], m)

    A network of layers is fed through its layers from ``net.layers[l − 1]`` on, ``z`` in
    that layer's ``output_shape + (m,)`` (``_gradcheck_layers.forward_from_layer``).
    """
    if getattr(net, "layered", False):
        return forward_from_layer(net, l, z)
    i = l - 2
    if not 0 <= i < net.n_layers:
        raise ValueError(f"layer l must be between 2 and {net.n_layers + 1}, got {l}")
    acts = net.activation_functions
    a = acts[i](z)
    for k in range(i + 1, net.n_layers):
        a = acts[k](net.weights[k] @ a + net.biases[k][:, None])
    return a


def _rel_errors(analytic: np.ndarray, numeric: np.ndarray, floor: float) -> tuple[float, float]:
    diff = np.abs(analytic - numeric)
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
    if diff.size == 0:
        return 0.0, 0.0
    return float(np.max(diff / scale)), float(np.max(diff))


def gradcheck(
    net: Any,
    X: Any,
    Y: Any,
    eps: float = 1e-6,
    tol: float = 1e-4,
    floor: float = 1e-5,
    max_params_per_layer: int = 200,
    seed: int = 0,
) -> GradCheck:
    """Check every backprop equation against central differences, in float64.

    Compares, per layer (lecture numbering ``l = 2 … L``):

    * ``σ'(z^l)`` against ``(σ(z+ε) − σ(z−ε))/2ε`` at the network's own ``z^l`` (for softmax,
      ``Jᵀg`` against differences of ``g·σ(z)``);
    * ``δ^L = ∂C_x/∂z^L`` and each ``δ^l = ∂C_x/∂z^l`` per example, by perturbing ``z^l`` and
      running the forward pass from layer l (:func:`forward_from`);
    * ``∂C/∂b^l`` and ``∂C/∂w^l`` of the mean cost, by perturbing parameters (at most
      ``max_params_per_layer`` entries per layer, chosen at random with ``seed``).

    A network of layers (:mod:`nnmath.layers`) is checked through the layers' protocol
    (:mod:`~nnmath.diagnostics._gradcheck_layers`): layers numbered by their position
    (pooling, Flatten and Dropout layers too, each with its ``δ^l``), a convolution's ``W``
    in its shape ``(out, in, k, k)``, and at most ``max_params_per_layer`` entries of any
    ``δ^l`` or ``σ'`` as well (a feature map has thousands of units). It checks the training
    pass ``fit`` differentiates: a BatchNorm normalises with the batch's statistics (so keep
    ``m ≥ 2``), each example's ``δ^l`` below it is ``∂(Σ_x C_x)/∂z^l_x`` (the statistics
    carry one example into every cost), and no running statistic changes.

    The error of an entry is ``|analytic − numeric| / max(|analytic|, |numeric|, floor)``;
    ``floor`` keeps entries that are zero up to rounding (the differences carry an absolute
    error of about ``1e−16 C / ε ≈ 1e−10``) from counting as relative errors of 100 %. A
    correct network gives errors around 1e−6 or below; a wrong derivative gives 1e−2 or more.

    Parameters
    ----------
    net : Network
        Dense or of layers; copied to float64, the original is not modified.
    X : array-like, shape (m, sizes[0]) (or images (m, C, H, W) for a network of layers)
        Keep m small: the δ^l check costs ``2 × sizes[l−1]`` forward passes per layer.
    Y : array-like, shape (m, sizes[-1]) or labels (m,)
    eps : float
        Step of the central differences.
    tol : float
        A row passes when its largest relative error is at most ``tol``.
    floor : float
    max_params_per_layer : int
    seed : int

    Returns
    -------
    GradCheck
    """
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    net64 = as_float64(net)
    x = net64.check_inputs(X)
    y = net64.check_targets(Y, x.shape[0]).T
    x = x.T
    g = net64.backprop_columns(x, y)
    if getattr(net64, "layered", False):
        compared = layer_checks(net64, g, x, y, eps, max_params_per_layer, seed)
    else:
        compared = _dense_checks(net64, g, x, y, eps, max_params_per_layer, seed)
    rows = []
    for quantity, l, analytic, numeric in compared:
        rel, ab = _rel_errors(np.asarray(analytic), np.asarray(numeric), floor)
        rows.append(GradCheckRow(quantity, l, rel, ab, int(np.size(analytic)), rel <= tol))
    order = {"σ'": 0, "σ' (Jᵀv)": 0, "δ^L": 1, "δ^l": 2, "∂C/∂b": 3, "∂C/∂w": 4}
    position = lambda r: tuple(int(p) for p in str(r.layer).split("."))  # noqa: E731 ("3.1")
    rows.sort(key=lambda r: (order[r.quantity], position(r)))
    return GradCheck(rows=rows, eps=eps, tol=tol, floor=floor)


#: one compared quantity: (name, layer l, analytic values, central differences)
_Check = tuple[str, int, Any, Any]


def _dense_checks(
    net64: Any, g: Any, x: np.ndarray, y: np.ndarray, eps: float, limit: int, seed: int
) -> list[_Check]:
    """Every compared quantity of the float64 dense network ``net64``."""
    rng = np.random.default_rng(seed)
    return [  # in this order: the draws of ``rng`` are part of the result
        *_prime_checks(net64, g, eps, rng),
        *_delta_checks(net64, g, y, eps),
        *_parameter_checks(net64, g, x, y, eps, rng, limit),
    ]


def _prime_checks(net64: Any, g: Any, eps: float, rng: np.random.Generator) -> Iterator[_Check]:
    """σ'(z^l) at the network's own z^l (for softmax, the Jacobian-vector product Jᵀv)."""
    for i, (act, z) in enumerate(zip(net64.activation_functions, g.zs)):
        if getattr(act, "elementwise", True):
            numeric = (act(z + eps) - act(z - eps)) / (2 * eps)
            yield "σ'", i + 2, act.prime(z), numeric
        else:
            v = rng.standard_normal(z.shape)
            numeric = np.empty_like(z)
            for k in range(z.shape[0]):
                e = np.zeros_like(z)
                e[k] = eps
                numeric[k] = np.sum(v * (act(z + e) - act(z - e)), axis=0) / (2 * eps)
            yield "σ' (Jᵀv)", i + 2, act.vjp(z, act(z), v), numeric


def _delta_checks(net64: Any, g: Any, y: np.ndarray, eps: float) -> Iterator[_Check]:
    """δ^l = ∂C_x/∂z^l for every example, by perturbing z^l and feeding forward from l."""
    cost, n = net64.cost_function, net64.n_layers
    for i in range(n - 1, -1, -1):
        z = g.zs[i]
        numeric = np.empty_like(z)
        for k in range(z.shape[0]):
            zp, zm = z.copy(), z.copy()
            zp[k] += eps
            zm[k] -= eps
            cp = cost.fn(forward_from(net64, i + 2, zp), y)
            cm = cost.fn(forward_from(net64, i + 2, zm), y)
            numeric[k] = (cp - cm) / (2 * eps)
        yield "δ^L" if i == n - 1 else "δ^l", i + 2, g.deltas[i], numeric


def _parameter_checks(
    net64: Any,
    g: Any,
    x: np.ndarray,
    y: np.ndarray,
    eps: float,
    rng: np.random.Generator,
    max_params: int,
) -> Iterator[_Check]:
    """∂C/∂b^l and ∂C/∂w^l of the mean cost, at most ``max_params`` entries a layer."""

    def mean_cost() -> float:
        return float(np.mean(net64.cost_function.fn(net64.forward(x)[1][-1], y)))

    for i in range(net64.n_layers):
        for quantity, param, grad in (
            ("∂C/∂b", net64.biases[i], g.nabla_b[i]),
            ("∂C/∂w", net64.weights[i], g.nabla_w[i]),
        ):
            flat = param.reshape(-1)  # a view: writes go into the network
            count = flat.size
            picks = (
                np.arange(count)
                if count <= max_params
                else rng.choice(count, size=max_params, replace=False)
            )
            numeric = central_differences(flat, picks, mean_cost, eps)
            yield quantity, i + 2, np.asarray(grad).reshape(-1)[picks], numeric
