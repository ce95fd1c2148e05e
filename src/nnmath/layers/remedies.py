"""A sizes network's layers with the remedies of the vanishing gradient: batch normalisation
before each hidden σ, identity shortcuts around the hidden layers, or both.

What ``nnmath vanishing --batch-norm --residual`` and a sweep's ``batch_norm``/``residual``
build, so that a depth series of sigmoid networks is measured with and without each remedy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._base import Layer
from .activation import Activation
from .batchnorm import BatchNorm
from .dense import Dense
from .residual import Residual
from .shape import Input

__all__ = ["REMEDIES", "remedied_layers", "remedy_name"]

#: the variants a comparison builds: (batch_norm, residual) by name
REMEDIES: dict[str, tuple[bool, bool]] = {
    "plain": (False, False),
    "batch_norm": (True, False),
    "residual": (False, True),
    "batch_norm+residual": (True, True),
}


def remedy_name(batch_norm: bool, residual: bool) -> str:
    """The key of :data:`REMEDIES` for the two switches."""
    return next(k for k, v in REMEDIES.items() if v == (bool(batch_norm), bool(residual)))


def _hidden(n: int, activation: Any, batch_norm: bool) -> list[Layer]:
    """One hidden layer: ``Dense(n, σ)``, or with batch normalisation ``Dense(n, identity),
    BatchNorm(), Activation(σ)`` (the normalisation between W a + b and σ, as Ioffe & Szegedy)."""
    if not batch_norm:
        return [Dense(n, activation)]
    return [Dense(n, "identity"), BatchNorm(), Activation(activation)]


def remedied_layers(
    sizes: Sequence[int],
    activation: Any,
    output_activation: Any,
    *,
    batch_norm: bool = False,
    residual: bool = False,
) -> list[Layer]:
    """The layers of the sizes network ``sizes`` (``Input(sizes[0])`` first), each hidden layer
    with the remedies asked for; the output layer ``Dense(sizes[-1], output_activation)`` as it is.

    With ``residual``, a hidden layer as wide as the one below becomes a block with an
    identity shortcut, ``a^l = a^{l−1} + σ(W^l a^{l−1} + b^l)``
    (``Residual([Dense(n, σ)], activation="identity")``): its backward pass hands down
    ``δ + Wᵀ(δ ⊙ σ')``, so the error reaches the layer below without the factor ``σ'(z) ≤ ¼``
    of a sigmoid (a block whose sum went through σ again would multiply by it). A hidden layer
    of another width than the one below (the first) has no shortcut. The number of layers of
    weights is the plain network's in every variant.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_in, hidden…, n_out]`` as :class:`~nnmath.network.Network` takes them.
    activation, output_activation : str or Activation
        σ of the hidden layers and of the output layer.
    batch_norm, residual : bool
        The remedies.

    Returns
    -------
    list of Layer
        For ``nnmath.Network(layers, cost=..., init=...)``; without remedy, Input and Dense
        layers only (the sizes network itself).
    """
    if len(sizes) < 2:
        raise ValueError(f"sizes {list(sizes)}: give at least the inputs and the outputs")
    layers: list[Layer] = [Input(int(sizes[0]))]
    for below, n in zip(sizes[:-2], sizes[1:-1]):
        hidden = _hidden(int(n), activation, batch_norm)
        if residual and int(below) == int(n):
            hidden = [Residual(hidden, activation="identity")]
        layers += hidden
    return [*layers, Dense(int(sizes[-1]), output_activation)]
