"""Diagnostics: per-layer gradient norms ("speed of learning") and vanishing-gradient measures.

Everything here reads the lecture's quantities layer by layer: ``z^l``, ``a^l``, ``δ^l``,
``∂C/∂b^l`` and ``∂C/∂w^l``. Layers are numbered as in the lecture when shown to a person
(``a^1 = x`` is the input, ``l = 2, …, L``); in lists and arrays the first entry is the first
layer of weights (the lecture's ``l = 2``, code index ``i = l − 2``).

* :func:`gradient_norms` and :class:`GradientTracker`: ‖∂C/∂b^l‖ and ‖∂C/∂w^l‖, once or
  during :func:`nnmath.train.fit` (``track_gradients=``).
* :func:`vanishing_factors`: why it vanishes, split into the weight and the activation factor.
* :func:`scalar_chain`: the lecture's 1-neuron-per-layer network and its product formula.
* :func:`gradcheck`: each backprop equation against central differences in float64.
* :func:`trace`: one example's backward pass, as Markdown or LaTeX.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .backend import to_numpy

__all__ = [
    "GradientNorms",
    "gradient_norms",
    "GradientTracker",
    "LayerFactors",
    "VanishingFactors",
    "vanishing_factors",
    "ScalarChain",
    "scalar_chain",
    "GradCheckRow",
    "GradCheck",
    "gradcheck",
    "forward_from",
    "LayerTrace",
    "Trace",
    "trace",
]


# ---------------------------------------------------------------------------- gradient norms


@dataclass
class GradientNorms:
    """Per layer of weights, first hidden layer first, output layer last.

    Attributes
    ----------
    nabla_b : list of float
        ‖∂C/∂b^l‖, the norm of the bias gradient averaged over the examples: Nielsen's
        "speed of learning" of layer l (chapter 5).
    nabla_w : list of float
        ‖∂C/∂w^l‖ (Frobenius norm).
    """

    nabla_b: list[float]
    nabla_w: list[float]


def gradient_norms(net: Any, X: Any, Y: Any) -> GradientNorms:
    """‖∂C/∂b^l‖ and ‖∂C/∂w^l‖ for every layer, from one backward pass over ``X``.

    Parameters
    ----------
    net : Network
    X : array-like, shape (n, sizes[0])
    Y : array-like, shape (n, sizes[-1]) or labels (n,)

    Returns
    -------
    GradientNorms
    """
    g = net.backprop(X, Y)
    return GradientNorms(
        nabla_b=[float(np.linalg.norm(to_numpy(nb))) for nb in g.nabla_b],
        nabla_w=[float(np.linalg.norm(to_numpy(nw))) for nw in g.nabla_w],
    )


class GradientTracker:
    """A :func:`~nnmath.train.fit` callback recording the speed of learning of every layer.

    Records :func:`gradient_norms` on a fixed subset of the training rows (the first
    ``max_rows``, so every entry measures the same examples) into
    ``history.extra[key]``, a dict of lists (plain Python, JSON-ready)::

        {"epoch": [0, 1, 2, ...],        # fractional when recorded inside an epoch
         "step": [0, 1, 2, ...],         # mini-batches done so far
         "nabla_b": [[‖∂C/∂b^2‖, ...], ...],   # one list per entry, one float per layer
         "nabla_w": [[‖∂C/∂w^2‖, ...], ...]}

    The first entry is the network before training (epoch 0). After that one entry per
    epoch (``every=None``) or one every ``every`` mini-batches.

    Parameters
    ----------
    X : array-like, shape (n, sizes[0])
    Y : array-like, shape (n, sizes[-1]) or labels (n,)
    every : int, optional
        Record every ``every`` mini-batches instead of every epoch.
    max_rows : int
        Use at most this many rows (the first ones) to measure: the cost of one entry is one
        backward pass over them.
    key : str
        Key in ``history.extra``.

    Examples
    --------
    >>> tracker = GradientTracker(X, y)                           # doctest: +SKIP
    >>> history = net.fit(X, y, epochs=5, callbacks=[tracker])    # doctest: +SKIP
    >>> history.extra["gradient_norms"]["nabla_b"][-1]            # doctest: +SKIP
    """

    def __init__(
        self,
        X: Any,
        Y: Any,
        every: int | None = None,
        max_rows: int = 1000,
        key: str = "gradient_norms",
    ) -> None:
        if every is not None and (int(every) != every or every < 1):
            raise ValueError(f"every must be a positive number of mini-batches, got {every}")
        if int(max_rows) != max_rows or max_rows < 1:
            raise ValueError(f"max_rows must be a positive integer, got {max_rows}")
        self.X, self.Y = X[: int(max_rows)], Y[: int(max_rows)]
        self.every = None if every is None else int(every)
        self.key = key
        self._step = 0

    def _record(self, net: Any, history: Any, epoch: float) -> None:
        rec = history.extra.setdefault(
            self.key, {"epoch": [], "step": [], "nabla_b": [], "nabla_w": []}
        )
        norms = gradient_norms(net, self.X, self.Y)
        rec["epoch"].append(epoch)
        rec["step"].append(self._step)
        rec["nabla_b"].append(norms.nabla_b)
        rec["nabla_w"].append(norms.nabla_w)

    def on_train_begin(self, net: Any, history: Any) -> None:
        """Record the network before the first epoch (epoch 0, or the epoch a resumed run
        starts from, unless the restored history already has it)."""
        done = len(history.training_cost)
        rec = history.extra.get(self.key)
        if rec and rec["epoch"]:
            self._step = int(rec["step"][-1])
            if rec["epoch"][-1] == done:
                return
        else:
            self._step = 0
        self._record(net, history, done)

    def on_batch_end(self, net: Any, history: Any, epoch: int, batch: int, n_batches: int) -> None:
        """Count mini-batches; record every ``every`` of them."""
        self._step += 1
        if self.every is not None and self._step % self.every == 0:
            self._record(net, history, epoch + (batch + 1) / n_batches)

    def __call__(self, net: Any, history: Any, epoch: int) -> None:
        """After each epoch: record (when tracking per epoch)."""
        if self.every is None:
            self._record(net, history, epoch + 1)


# ---------------------------------------------------------------------------- factors


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

    layer: int
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
    """

    layers: list[LayerFactors]
    speeds: list[float]
    jacobian_layers: list[int] = field(default_factory=list)
    jacobian_sv: list[list[float]] = field(default_factory=list)
    product_sv: list[list[float]] = field(default_factory=list)
    n_jacobian_examples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_markdown(self) -> str:
        head = (
            "| l | σ | ‖δ^l‖/‖δ^{l+1}‖ | weight factor | activation factor | speed ratio "
            "| mean σ'(z^l) | bound σ' ≤ | saturated | max σ'·‖W^{l+1}‖₂ |"
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


def _saturated(act: Any, z: np.ndarray, prime: np.ndarray) -> float:
    name = getattr(act, "name", "")
    if name == "relu":
        return float(np.mean(z <= 0))
    if name == "leaky_relu":
        return float(np.mean(z < 0))
    top = getattr(act, "max_prime", None)
    if top is None:
        top = float(np.max(np.abs(prime))) if prime.size else 1.0
    return float(np.mean(np.abs(prime) < 0.01 * top))


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

    Computed in float64 on a float64 copy of ``net``.

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
    net64 = _as_float64(net)
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
                ratio=_div(n_delta, n_next),
                weight_factor=_div(n_back, n_next),
                activation_factor=_div(n_delta, n_back),
                speed_ratio=_div(float(sb), float(sb_next)),
                mean_prime=float(np.mean(prime)),
                max_prime=top,
                saturated=_saturated(acts[i], z, prime),
                ratio_bound=None if top is None else float(top * np.linalg.norm(W_next, 2)),
            )
        )
    k = max(1, min(int(max_jacobian_examples), m))
    jac = _layer_jacobians(net64, [z[:, :k] for z in g.zs])
    jac_sv, prod_sv = [], []
    P = None
    products = []
    for J in reversed(jac):  # J^L first; P = J^L ⋯ J^l
        P = J if P is None else P @ J
        products.append(P)
    products.reverse()
    for J, P in zip(jac, products):
        jac_sv.append(_mean_spectrum(J))
        prod_sv.append(_mean_spectrum(P))
    return VanishingFactors(
        layers=layers,
        speeds=[float(np.linalg.norm(nb)) for nb in g.nabla_b],
        jacobian_layers=list(range(2, n + 2)),
        jacobian_sv=jac_sv,
        product_sv=prod_sv,
        n_jacobian_examples=k,
    )


def _mean_spectrum(J: np.ndarray) -> list[float]:
    """Singular values of each ``J[k]`` (descending), rounding noise below 1e−12 σ_max set to
    0 (a ReLU layer's Jacobian is rank-deficient), averaged over k."""
    s = np.linalg.svd(J, compute_uv=False)
    s[s < 1e-12 * s[:, :1]] = 0.0
    return s.mean(axis=0).tolist()


def _div(a: float, b: float) -> float:
    return a / b if b != 0 else (math.inf if a != 0 else math.nan)


def _as_float64(net: Any) -> Any:
    """A float64 copy of ``net`` (same activations, cost and parameters)."""
    from .network import Network

    copy = Network(
        net.sizes,
        activation=list(net.activation_functions),
        cost=net.cost_function,
        init="normal",
        seed=0,
        dtype="float64",
    )
    copy.init = net.init
    copy.set_parameters(
        [to_numpy(W).astype(np.float64) for W in net.weights],
        [to_numpy(b).astype(np.float64) for b in net.biases],
    )
    return copy


# ---------------------------------------------------------------------------- scalar chain


@dataclass
class ScalarChain:
    """The lecture's simplest deep network, one neuron per layer, and its ∂C/∂b_1 both ways.

    ``∂C/∂b_1 = σ'(z_1) × w_2 × σ'(z_2) × … × w_L × σ'(z_L) × ∂C/∂a_L``

    Attributes
    ----------
    L : int
        Number of neurons (layers of weights); the network is ``Network([1] * (L + 1))``.
    activation : str
    by_backprop : float
        ∂C/∂b_1 from :meth:`Network.backprop`.
    by_product : float
        The product formula.
    sigma_primes : list of float
        σ'(z_1), …, σ'(z_L).
    weights : list of float
        w_1, …, w_L (w_1 does not enter the product).
    dC_da : float
        ∂C/∂a_L.
    net : Network
        The float64 network used.
    """

    L: int
    activation: str
    by_backprop: float
    by_product: float
    sigma_primes: list[float]
    weights: list[float]
    dC_da: float
    net: Any = field(repr=False, default=None)

    @property
    def relative_error(self) -> float:
        scale = max(abs(self.by_backprop), abs(self.by_product), 1e-300)
        return abs(self.by_backprop - self.by_product) / scale

    def factors(self) -> list[tuple[str, float]]:
        """The product's factors in order, with their names: ``σ'(z_1)``, ``w_2``, …"""
        out = [("σ'(z_1)", self.sigma_primes[0])]
        for j in range(2, self.L + 1):
            out += [(f"w_{j}", self.weights[j - 1]), (f"σ'(z_{j})", self.sigma_primes[j - 1])]
        out.append((f"∂C/∂a_{self.L}", self.dC_da))
        return out


def scalar_chain(
    L: int,
    activation: str = "sigmoid",
    seed: int | None = 0,
    cost: str = "quadratic",
    init: str = "normal",
    x: float | None = None,
    y: float | None = None,
) -> ScalarChain:
    """Build a 1-neuron-per-layer network of depth ``L`` and compute ∂C/∂b_1 two ways.

    Lecture ("the vanishing gradient problem"): ``z_j = w_j a_{j−1} + b_j``, ``a_j = σ(z_j)``,
    and ``∂C/∂b_1 = σ'(z_1) w_2 σ'(z_2) ⋯ w_L σ'(z_L) ∂C/∂a_L``. With sigmoid every σ' ≤ 1/4
    and, for |w_j| < 4, each extra layer shrinks the gradient.

    Parameters
    ----------
    L : int
        Depth, at least 1.
    activation : str
        σ of every neuron (the output's too).
    seed : int, optional
        Seed of the weights, biases, input and target.
    cost : str
        ``"quadratic"`` (default, ∂C/∂a_L = a_L − y) or ``"cross_entropy"``.
    init : str
        Weight initialisation (``"normal"``: N(0, 1) as in the book's chapter 5 example).
    x, y : float, optional
        Input and target (default: drawn from the seed; y in [0, 1]).

    Returns
    -------
    ScalarChain
    """
    from .network import Network

    if int(L) != L or L < 1:
        raise ValueError(f"L must be a positive integer (the number of neurons), got {L}")
    L = int(L)
    rng = np.random.default_rng(seed)
    net = Network(
        [1] * (L + 1), activation=activation, cost=cost, init=init, rng=rng, dtype="float64"
    )
    x = float(rng.standard_normal()) if x is None else float(x)
    y = float(rng.uniform()) if y is None else float(y)
    X, Y = np.array([[x]]), np.array([[y]])
    grads = net.backprop(X, Y)
    zs = [float(z[0, 0]) for z in grads.zs]
    acts = net.activation_functions
    primes = [float(act.prime(np.array([[z]]))[0, 0]) for act, z in zip(acts, zs)]
    w = [float(W[0, 0]) for W in net.weights]
    a_L = grads.activations[-1]
    dC_da = float(net.cost_function.derivative(a_L, Y.T)[0, 0])
    product = primes[0]
    for j in range(1, L):
        product *= w[j] * primes[j]
    product *= dC_da
    return ScalarChain(
        L=L,
        activation=acts[0].name,
        by_backprop=float(grads.nabla_b[0][0]),
        by_product=float(product),
        sigma_primes=primes,
        weights=w,
        dC_da=dC_da,
        net=net,
    )


# ---------------------------------------------------------------------------- gradcheck


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
    layer: int
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
    """
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

    The error of an entry is ``|analytic − numeric| / max(|analytic|, |numeric|, floor)``;
    ``floor`` keeps entries that are zero up to rounding (the differences carry an absolute
    error of about ``1e−16 C / ε ≈ 1e−10``) from counting as relative errors of 100 %. A
    correct network gives errors around 1e−6 or below; a wrong derivative gives 1e−2 or more.

    Parameters
    ----------
    net : Network
        Copied to float64; the original is not modified.
    X : array-like, shape (m, sizes[0])
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
    net64 = _as_float64(net)
    x = net64._inputs(X)
    y = net64._targets(Y, x.shape[0]).T
    x = x.T
    g = net64.backprop_columns(x, y)
    cost = net64.cost_function
    acts = net64.activation_functions
    n = net64.n_layers
    rng = np.random.default_rng(seed)
    rows: list[GradCheckRow] = []

    def row(quantity: str, l: int, analytic: Any, numeric: Any) -> None:
        rel, ab = _rel_errors(np.asarray(analytic), np.asarray(numeric), floor)
        rows.append(GradCheckRow(quantity, l, rel, ab, int(np.size(analytic)), rel <= tol))

    # σ' (or the softmax Jacobian-vector product) at the network's own z^l
    for i, (act, z) in enumerate(zip(acts, g.zs)):
        if getattr(act, "elementwise", True):
            numeric = (act(z + eps) - act(z - eps)) / (2 * eps)
            row("σ'", i + 2, act.prime(z), numeric)
        else:
            v = rng.standard_normal(z.shape)
            numeric = np.empty_like(z)
            for k in range(z.shape[0]):
                e = np.zeros_like(z)
                e[k] = eps
                numeric[k] = np.sum(v * (act(z + e) - act(z - e)), axis=0) / (2 * eps)
            row("σ' (Jᵀv)", i + 2, act.vjp(z, act(z), v), numeric)

    # δ^l = ∂C_x/∂z^l for every example, by perturbing z^l and feeding forward from l
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
        row("δ^L" if i == n - 1 else "δ^l", i + 2, g.deltas[i], numeric)

    # ∂C/∂b^l and ∂C/∂w^l of the mean cost
    def mean_cost() -> float:
        return float(np.mean(cost.fn(net64.forward(x)[1][-1], y)))

    for i in range(n):
        for quantity, param, grad in (
            ("∂C/∂b", net64.biases[i], g.nabla_b[i]),
            ("∂C/∂w", net64.weights[i], g.nabla_w[i]),
        ):
            flat = param.reshape(-1)  # a view: writes go into the network
            count = flat.size
            picks = (
                np.arange(count)
                if count <= max_params_per_layer
                else rng.choice(count, size=max_params_per_layer, replace=False)
            )
            numeric = np.empty(len(picks))
            for j, p in enumerate(picks):
                old = flat[p]
                flat[p] = old + eps
                cp = mean_cost()
                flat[p] = old - eps
                cm = mean_cost()
                flat[p] = old
                numeric[j] = (cp - cm) / (2 * eps)
            row(quantity, i + 2, np.asarray(grad).reshape(-1)[picks], numeric)
    order = {"σ'": 0, "σ' (Jᵀv)": 0, "δ^L": 1, "δ^l": 2, "∂C/∂b": 3, "∂C/∂w": 4}
    rows.sort(key=lambda r: (order[r.quantity], r.layer))
    return GradCheck(rows=rows, eps=eps, tol=tol, floor=floor)


# ---------------------------------------------------------------------------- trace


@dataclass
class LayerTrace:
    """One layer of one example's forward and backward pass (lecture numbering)."""

    layer: int
    activation: str
    z: list[float]
    a: list[float]
    delta: list[float]
    nabla_b: list[float]
    nabla_w: list[list[float]]


@dataclass
class Trace:
    """The backward pass of one example in lecture notation; see :func:`trace`.

    Attributes
    ----------
    x : list of float
        ``a^1 = x``.
    y : list of float
    cost : float
        C_x.
    cost_name : str
    layers : list of LayerTrace
        ``l = 2, …, L``.
    """

    x: list[float]
    y: list[float]
    cost: float
    cost_name: str
    layers: list[LayerTrace]
    digits: int = 4

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _fmt(self, v: float) -> str:
        return f"{v:.{self.digits}g}"

    def _vec(self, v: Sequence[float]) -> str:
        return "[" + ", ".join(self._fmt(t) for t in v) + "]"

    def to_markdown(self) -> str:
        """One row per layer: z^l, a^l, δ^l, ∂C/∂b^l, ∂C/∂w^l (matrix rows separated by ';')."""
        L = len(self.layers) + 1
        lines = [
            f"a^1 = x = {self._vec(self.x)}, y = {self._vec(self.y)}, "
            f"C = {self._fmt(self.cost)} ({self.cost_name}), L = {L}",
            "",
            "| l | σ | z^l | a^l | δ^l | ∂C/∂b^l | ∂C/∂w^l |",
            "|---|---|---|---|---|---|---|",
        ]
        for t in self.layers:
            w = "[" + "; ".join(", ".join(self._fmt(v) for v in r) for r in t.nabla_w) + "]"
            lines.append(
                f"| {t.layer} | {t.activation} | {self._vec(t.z)} | {self._vec(t.a)} "
                f"| {self._vec(t.delta)} | {self._vec(t.nabla_b)} | {w} |"
            )
        lines += [
            "",
            "δ^L = ∇_a C ⊙ σ'(z^L); δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l); "
            "∂C/∂b^l = δ^l; ∂C/∂w^l = δ^l (a^{l−1})ᵀ.",
        ]
        return "\n".join(lines)

    def _col(self, v: Sequence[float]) -> str:
        return r"\begin{pmatrix}" + r" \\ ".join(self._fmt(t) for t in v) + r"\end{pmatrix}"

    def _mat(self, M: Sequence[Sequence[float]]) -> str:
        body = r" \\ ".join(" & ".join(self._fmt(v) for v in r) for r in M)
        return r"\begin{pmatrix}" + body + r"\end{pmatrix}"

    def to_latex(self) -> str:
        """An ``align*`` environment: every z^l, a^l, δ^l, ∂C/∂b^l, ∂C/∂w^l, top to bottom."""
        L = len(self.layers) + 1
        out = [
            r"\begin{align*}",
            rf"a^{{1}} = x &= {self._col(self.x)}, \quad "
            rf"y = {self._col(self.y)}, \quad C = {self._fmt(self.cost)} \\",
        ]
        for t in self.layers:
            l = t.layer
            out.append(
                rf"z^{{{l}}} &= w^{{{l}}} a^{{{l - 1}}} + b^{{{l}}} = {self._col(t.z)}, "
                rf"\quad a^{{{l}}} = \sigma(z^{{{l}}}) = {self._col(t.a)} \\"
            )
        for t in reversed(self.layers):
            l = t.layer
            if l == L:
                rule = rf"\nabla_a C \odot \sigma'(z^{{{L}}})"
            else:
                rule = rf"((w^{{{l + 1}}})^T \delta^{{{l + 1}}}) \odot \sigma'(z^{{{l}}})"
            out.append(
                rf"\delta^{{{l}}} &= {rule} = {self._col(t.delta)} = "
                rf"\frac{{\partial C}}{{\partial b^{{{l}}}}} \\"
            )
            out.append(
                rf"\frac{{\partial C}}{{\partial w^{{{l}}}}} &= \delta^{{{l}}} "
                rf"(a^{{{l - 1}}})^T = {self._mat(t.nabla_w)} \\"
            )
        out[-1] = out[-1].rstrip(" \\")
        out.append(r"\end{align*}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_markdown()


def trace(net: Any, x: Any, y: Any, digits: int = 4) -> Trace:
    """Forward and backward pass of one example, every lecture quantity per layer.

    Parameters
    ----------
    net : Network
    x : array-like, shape (sizes[0],) or (1, sizes[0])
    y : array-like, shape (sizes[-1],), (1, sizes[-1]), or an integer label
    digits : int
        Significant digits when printed.

    Returns
    -------
    Trace
        ``.to_markdown()`` and ``.to_latex()``.
    """
    X = np.asarray(x, dtype=np.float64).reshape(1, -1)
    Yarr = np.asarray(y)
    Yarr = Yarr.reshape(1) if Yarr.ndim == 0 else Yarr.reshape(1, -1)
    net64 = _as_float64(net)
    X = net64._inputs(X)
    Y = net64._targets(Yarr, 1)
    g = net64.backprop(X, Y)
    c = float(net64.cost_function.fn(g.activations[-1], Y.T)[0])
    layers = [
        LayerTrace(
            layer=i + 2,
            activation=getattr(act, "name", "custom"),
            z=g.zs[i][:, 0].tolist(),
            a=g.activations[i + 1][:, 0].tolist(),
            delta=g.deltas[i][:, 0].tolist(),
            nabla_b=np.asarray(g.nabla_b[i]).tolist(),
            nabla_w=np.asarray(g.nabla_w[i]).tolist(),
        )
        for i, act in enumerate(net64.activation_functions)
    ]
    return Trace(
        x=X[0].tolist(),
        y=Y[0].tolist(),
        cost=c,
        cost_name=net64.cost_name,
        layers=layers,
        digits=digits,
    )
