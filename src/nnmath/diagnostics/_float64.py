"""What every diagnostic starts from: a float64 copy of the network it explains."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import to_numpy
from ..network import Network

__all__ = ["as_float64", "layer_numbers"]


def as_float64(net: Any) -> Network:
    """A float64 copy of ``net`` (same activations, cost and parameters).

    Parameters
    ----------
    net : Network
        A dense network or a network of layers (the copy then has the same layers, the
        implicit Flatten included, each holding a float64 copy of its ``W`` and ``b``).

    Returns
    -------
    Network
        A new network; ``net`` itself is never modified.
    """
    if getattr(net, "layered", False):
        copy = Network(list(net.layers), cost=net.cost_function, seed=0, dtype="float64")
    else:
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
    for mine, theirs in zip(getattr(copy, "stateful", []), getattr(net, "stateful", [])):
        mine.set_state({k: to_numpy(v).astype(np.float64) for k, v in theirs.state().items()})
    return copy


def layer_numbers(net: Any) -> list[Any]:
    """The lecture's number ``l`` of each layer with parameters, in the order of
    ``net.weights``: ``2, …, L`` for a dense network; for a network of layers the position
    in ``net.layers`` (the Input is ``l = 1``, and pooling, Flatten and Dropout layers count),
    ``"l.j"`` for the ``j``-th layer inside a residual block at ``l``."""
    if not getattr(net, "layered", False):
        return list(range(2, len(net.weights) + 2))
    from ._blocks import parameter_labels

    return parameter_labels(net.layers)
