"""Per-layer statistics on a fixed set of examples: what the training views plot.

From one backward pass (:meth:`Network.backprop`, the lecture's four equations) over the
examples ``X``, for every layer of weights (first hidden layer first, output layer last; the
lecture's ``l = 2, …, L``):

* Nielsen's speed of learning ``‖∂C/∂b^l‖`` and ``‖∂C/∂w^l‖`` (the numbers of
  :func:`~nnmath.diagnostics.gradient_norms`, from the same pass);
* the mean of ``σ'(z^l)`` over units and examples: the factor backprop equation 2,
  ``δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)``, multiplies by;
* the fraction of saturated units: the entries of ``σ'(z^l)`` (units × examples) below 1 % of
  the activation's largest derivative (``Activation.max_prime`` of the registry's entry: 1/4
  for sigmoid, 1 for tanh and ReLU, ...), where a unit passes almost no gradient back;
* the fraction of dead units: those with ``σ'(z) = 0`` on every example (a dead ReLU; for a
  smooth σ a unit saturated to the last bit), which will never learn from these examples;
* on request the arrays ``W^l``, ``z^l``, ``a^l``, ``δ^l``, ``σ'(z^l)`` themselves, as NumPy
  arrays (for histograms).

In a network of layers (:mod:`nnmath.layers`) the rows are the layers with parameters
(Conv2D and Dense), numbered by their position in ``net.layers`` (the Input is ``l = 1``):
a pooling, Flatten or Dropout layer has no ``∂C/∂b^l`` and no speed of learning, and is not
listed (nor is an Activation layer: its σ' shows in the δ of the layer below). A
convolution's units are its ``out × Ho × Wo`` positions: σ'(z^l) is averaged over all of
them, and a dead unit is one position of one feature map with σ' = 0 on every example.

Pure computation: nothing here writes or prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..activations import get_activation
from ..backend import get_namespace, to_numpy
from ._blocks import parameter_rows
from ._float64 import layer_numbers
from .norms import norms_of

__all__ = [
    "ARRAYS",
    "SATURATION",
    "LayerStatistics",
    "dead_fraction",
    "layer_statistics",
    "saturated_fraction",
]

#: σ'(z) below this fraction of the activation's largest σ' counts as saturated
SATURATION = 0.01
#: the per-layer arrays :func:`layer_statistics` can keep, by name
ARRAYS = ("W", "z", "a", "delta", "sigma_prime")


@dataclass
class LayerStatistics:
    """Per layer of weights, first hidden layer first, output layer last.

    Attributes
    ----------
    layers : list of int
        The lecture's layer numbers ``l = 2, …, L``.
    activations : list of str
        The name of each layer's σ.
    nabla_b, nabla_w : list of float
        ‖∂C/∂b^l‖ (the speed of learning) and ‖∂C/∂w^l‖ (Frobenius), of the mean cost.
    mean_prime : list of float
        Mean of σ'(z^l) over units and examples.
    saturated : list of float or None
        Fraction of the entries of σ'(z^l) below ``SATURATION`` × the activation's largest
        σ' (``None`` for an activation that does not declare ``max_prime``).
    dead : list of float
        Fraction of the layer's units with σ'(z) = 0 on every example.
    cost : float
        Mean cost ``(1/m) Σ_x C_x`` over the examples (no λ term).
    accuracy : float or None
        Fraction of examples whose ``argmax a^L`` is that of ``y`` (``None`` for one output).
    n_examples : int
    arrays : dict of str to list of numpy.ndarray, or None
        With ``arrays=True``: ``"W"`` (n_l, n_{l−1}), and ``"z"``, ``"a"``, ``"delta"``,
        ``"sigma_prime"`` (n_l, m) for every layer (:data:`ARRAYS`); a convolution's in
        their own shapes, ``W`` ``(out, in, k, k)`` and the others ``(out, Ho, Wo, m)``.
    """

    layers: list[int]
    activations: list[str]
    nabla_b: list[float]
    nabla_w: list[float]
    mean_prime: list[float]
    saturated: list[float | None]
    dead: list[float]
    cost: float
    accuracy: float | None
    n_examples: int
    arrays: dict[str, list[np.ndarray]] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The numbers as plain Python (JSON-ready), without the arrays."""
        return {k: v for k, v in self.__dict__.items() if k != "arrays"}


def saturated_fraction(prime: np.ndarray, max_prime: float | None) -> float | None:
    """Fraction of the entries of ``prime = σ'(z)`` below ``SATURATION · max_prime``.

    ``None`` when the activation declares no ``max_prime`` (no scale to compare with).
    """
    if max_prime is None or prime.size == 0:
        return None
    return float(np.mean(np.abs(prime) < SATURATION * float(max_prime)))


def dead_fraction(prime: np.ndarray) -> float:
    """Fraction of the units (rows of ``prime = σ'(z)``, shape (n_l, m)) whose σ' is 0 on
    every example (column)."""
    if prime.shape[0] == 0:
        return 0.0
    units = prime.reshape(-1, prime.shape[-1])  # a feature map's positions are its units
    return float(np.mean(np.all(units == 0, axis=1)))


def layer_statistics(net: Any, X: Any, Y: Any, arrays: bool = False) -> LayerStatistics:
    """The per-layer statistics of ``net`` on the examples ``X``, ``Y`` (module docstring).

    One backward pass over all the rows; ``σ'(z^l)`` is ``act.prime(z^l)`` of each layer's
    activation (for softmax the Jacobian's diagonal ``y_i (1 − y_i)``).

    Parameters
    ----------
    net : Network
        Dense or of layers (then one row per layer with parameters, see the module).
    X : array-like, shape (m, sizes[0])
    Y : array-like, shape (m, sizes[-1]) or labels (m,)
    arrays : bool
        Also keep ``W^l``, ``z^l``, ``a^l``, ``δ^l`` and ``σ'(z^l)`` as NumPy arrays.

    Returns
    -------
    LayerStatistics
    """
    x = net.check_inputs(X)
    y = net.check_targets(Y, x.shape[0]).T  # (sizes[-1], m), as the lecture's columns
    g = net.backprop_columns(x.T, y)
    norms = norms_of(g)
    numbers = layer_numbers(net)
    if getattr(net, "layered", False):  # those inside residual blocks too ("l.j")
        rows = parameter_rows(net, g)
        zs, outs = [r.cache.z for r in rows], [r.cache.a for r in rows]
        identity = get_activation("identity")  # a BatchNorm has no σ: a^l = z^l, σ' = 1
        deltas = [r.delta for r in rows]
        acts = [r.layer.activation or identity for r in rows]
    else:  # z^l, a^l, δ^l: in g, entry l − 2 (one per layer after a^1)
        zs = [g.zs[l - 2] for l in numbers]
        outs = [g.activations[l - 1] for l in numbers]
        deltas = [g.deltas[l - 2] for l in numbers]
        acts = list(net.activation_functions)
    primes = [to_numpy(act.prime(z)) for act, z in zip(acts, zs)]
    a_out = g.activations[-1]
    xp = get_namespace(a_out)
    m = int(x.shape[0])
    cost = float(xp.sum(net.cost_function.fn(a_out, y))) / max(m, 1)
    accuracy = None
    if net.n_outputs > 1:
        hits = xp.sum(xp.argmax(a_out, axis=0) == xp.argmax(y, axis=0))
        accuracy = float(hits) / max(m, 1)
    kept = None
    if arrays:
        kept = {
            "W": [to_numpy(W) for W in net.weights],
            "z": [to_numpy(z) for z in zs],
            "a": [to_numpy(a) for a in outs],
            "delta": [to_numpy(d) for d in deltas],
            "sigma_prime": primes,
        }
    return LayerStatistics(
        layers=numbers,
        activations=[getattr(act, "name", "custom") for act in acts],
        nabla_b=norms.nabla_b,
        nabla_w=norms.nabla_w,
        mean_prime=[float(np.mean(p)) if p.size else 0.0 for p in primes],
        saturated=[
            saturated_fraction(p, getattr(a, "max_prime", None)) for p, a in zip(primes, acts)
        ],
        dead=[dead_fraction(p) for p in primes],
        cost=cost,
        accuracy=accuracy,
        n_examples=m,
        arrays=kept,
    )
