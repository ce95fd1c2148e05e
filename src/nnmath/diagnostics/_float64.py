"""What every diagnostic starts from: a float64 copy of the network it explains."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import to_numpy
from ..network import Network

__all__ = ["as_float64"]


def as_float64(net: Any) -> Network:
    """A float64 copy of ``net`` (same activations, cost and parameters).

    Parameters
    ----------
    net : Network

    Returns
    -------
    Network
        A new network; ``net`` itself is never modified.
    """
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
