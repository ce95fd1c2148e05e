"""The lecture's simplest deep network, one neuron per layer, and its product formula for
∂C/∂b_1."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..network import Network

__all__ = ["ScalarChain", "scalar_chain"]


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
    and, for ``|w_j| < 4``, each extra layer shrinks the gradient.

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
