"""A playground network with batch normalisation or residual connections: a network of layers.

The page draws the lecture's layers ``l = 1, …, L`` (the inputs, each hidden layer, the
output). With the toggles off, each is one Dense of the compiled network and nothing here is
used. With batch normalisation on, hidden layer ``l`` is ``Dense(n, identity)``,
``BatchNorm()``, ``Activation(σ)``: ``a^l = σ(γ ẑ^l + β)`` with ``ẑ^l`` the mini-batch's
normalised ``W^l a^{l−1} + b^l``. With residual connections on, a hidden layer as wide as the
one below it is a one-layer residual block,
``Residual([Dense(n, identity)], σ)``: ``a^l = σ(a^{l−1} + W^l a^{l−1} + b^l)`` (with both,
``σ(a^{l−1} + BN(W^l a^{l−1} + b^l))``, BN inside the block as He et al. 2016); the first
hidden layer, and one of another width, keeps no identity path (it would need a projection).

:class:`Plan` says where the page's numbers are in such a network: each layer's Dense
``W^l``, its speed of learning (‖∂C/∂β^l‖ of its BatchNorm when it has one, since
``∂C/∂b^l`` of a Dense followed by BN is zero: BN subtracts the mean that ``b^l`` shifts,
otherwise ‖∂C/∂b^l‖ as today) and its ``a^l``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..diagnostics.norms import speed_entries
from ..layers import Activation, BatchNorm, Dense, Dropout, Input, Layer, Residual
from .config import Config

__all__ = ["Plan", "layered", "network_layers", "plan_of"]


@dataclass
class Plan:
    """The page's layers in a network: indices of the lecture's ``l = 2, …, L``.

    Attributes
    ----------
    sizes : list of int
        Units of ``l = 1, …, L``: the features, each hidden layer, the outputs.
    batch_norm, residual : list of bool
        For each hidden layer: a BatchNorm before its σ; an identity path from ``a^{l−1}``.
    dense : list of int
        Index into ``net.weights`` / ``net.biases`` of each layer's Dense ``W^l``, ``b^l``.
    speed : list of int
        Index into the gradients' ``nabla_b`` of each layer's speed of learning.
    rows : list of int
        Index into ``net.layers[1:]`` (the forward caches, the trace's layers) of the layer
        whose ``z``, ``a = σ(z)`` are layer l's; ``activations[rows[i] + 1]`` is its ``a^l``.
    """

    sizes: list[int]
    batch_norm: list[bool]
    residual: list[bool]
    dense: list[int] = field(default_factory=list)
    speed: list[int] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """What the page draws besides the sizes: the BN tags and the skip arcs."""
        return {"batch_norm": self.batch_norm, "residual": self.residual}


def layered(config: Config) -> bool:
    """Whether ``config`` asks for a network of layers (either toggle on)."""
    return config.batch_norm or config.residual


def _hidden(config: Config, i: int, plan: Plan, layers: list[Layer], p: int) -> int:
    """Append hidden layer ``i`` (its layers to ``layers``, its indices to ``plan``); the
    number of parameter layers it adds (``p`` is how many come before it)."""
    n, sigma, bn = config.layers[i], config.activations[i], config.batch_norm
    skip = config.residual and i > 0 and n == config.layers[i - 1]
    norm = [BatchNorm()] if bn else []
    if skip:
        layers.append(Residual([Dense(n, "identity"), *norm], activation=sigma))
    elif bn:
        layers += [Dense(n, "identity"), *norm, Activation(sigma)]
    else:
        layers.append(Dense(n, sigma))
    plan.batch_norm.append(bn)
    plan.residual.append(skip)
    plan.dense.append(p)
    plan.rows.append(len(layers) - 2)  # the layer with σ; -1 more for the Input
    if config.dropout > 0:
        layers.append(Dropout(config.dropout))
    return 2 if bn else 1


def network_layers(config: Config, n_outputs: int) -> tuple[list[Layer], Plan]:
    """``[Input(features), hidden layers…, Dense(n_outputs, output)]`` and its :class:`Plan`.

    Dropout, as the dense network's, drops each hidden layer's ``a^l`` during fit: a
    :class:`~nnmath.layers.Dropout` after each hidden layer when ``config.dropout > 0``.
    """
    layers: list[Layer] = [Input(len(config.features))]
    plan = Plan([len(config.features), *config.layers, n_outputs], [], [])
    p = 0
    for i in range(len(config.layers)):
        p += _hidden(config, i, plan, layers, p)
    layers.append(Dense(n_outputs, config.output))
    plan.dense.append(p)
    plan.rows.append(len(layers) - 2)
    plan.speed = speed_entries(layers)  # a BatchNorm's β for the Dense it follows
    return layers, plan


def plan_of(config: Config, n_outputs: int) -> Plan:
    """The :class:`Plan` of ``config``'s network; the identity for the dense network."""
    if layered(config):
        return network_layers(config, n_outputs)[1]
    hidden = len(config.layers)
    every = list(range(hidden + 1))
    sizes = [len(config.features), *config.layers, n_outputs]
    return Plan(sizes, [False] * hidden, [False] * hidden, every, every, every)
