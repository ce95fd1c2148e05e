"""What the compiled epoch can train, read from the built library, and why not otherwise.

An activation, cost or optimizer whose registry name has a kernel in the library's tables
(:func:`nnmath.engine.binding.kernel_id`; an optimizer's kernel also reads its
hyper-parameters and state by name), NumPy float32 / float64 data and dropout.
:func:`unsupported_reason` says why anything else (a custom activation object, a subclassed
network, another array library, an entry with no kernel) trains on the reference loop.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._fit_checks import check_network
from ..activations import is_builtin
from ..costs import COSTS
from ..optim import OPTIMIZERS
from . import binding

__all__ = ["c_available", "unsupported_reason"]


def c_available() -> bool:
    """Whether the C extension ``nnmath.engine._ckernels`` is built (and BLAS was found)."""
    return binding.library() is not None


def unsupported_reason(net: Any, optimizer: Any, X: Any, Y: Any) -> str | None:
    """Why the compiled epoch cannot train this combination, or ``None`` when it can.

    Raises
    ------
    ValueError
        For a network whose per-layer attributes do not fit its architecture
        (:func:`nnmath._fit_checks.check_network`, as on the reference loop).
    """
    from ..network import Network

    if getattr(net, "layered", False):
        kinds = ", ".join(sorted({type(layer).__name__ for layer in net.layers}))
        return (
            f"a network of layers ({kinds}) trains on the reference loop: the compiled "
            "epoch is for dense networks (Network(sizes) or Input(n) + Dense layers)"
        )
    if not c_available():
        return "the C extension nnmath.engine._ckernels is not built (reinstall with a C compiler)"
    if not isinstance(net, Network):
        return f"net is a {type(net).__name__}, not a Network"
    for method in ("forward", "backprop_columns"):
        if getattr(type(net), method) is not getattr(Network, method):
            return f"{type(net).__name__} overrides Network.{method}"
    check_network(net)  # before the activations are read: one clear error, as fit gives
    dtype = np.dtype(net.dtype)
    if dtype not in (np.float32, np.float64):
        return f"dtype {dtype} (only float32 and float64)"
    for name, arr in (("X", X), ("Y", Y)):
        if type(arr) is not np.ndarray:
            return f"{name} is a {type(arr).__name__}, not a NumPy array"
        if arr.dtype != dtype or not arr.flags.c_contiguous or arr.ndim != 2:
            return f"{name} is not a C-contiguous 2-D {dtype} array"
    return _kernel_reason(net, optimizer) or _array_reason(net, optimizer, dtype)


def _kernel_reason(net: Any, optimizer: Any) -> str | None:
    """Why an activation, the cost or the optimizer has no kernel in the built library."""
    for act in net.activation_functions:
        if not is_builtin(act):
            return f"activation {act.name!r} ({type(act).__name__}) is not a registry entry"
        if binding.kernel_id("activation", act.name) is None:
            return f"activation {act.name!r} has no compiled kernel in this build"
    cost = net.cost_function
    if type(cost) is not COSTS.get(cost.name):
        return f"cost {cost.name!r} ({type(cost).__name__}) is not a registry entry"
    if binding.kernel_id("cost", cost.name) is None:
        return f"cost {cost.name!r} has no compiled kernel in this build"
    if type(optimizer) is not OPTIMIZERS.get(getattr(optimizer, "name", None)):
        return f"optimizer {type(optimizer).__name__} is not a registry entry"
    state = optimizer.state or optimizer.init_state(net)
    kernel = binding.optimizer_kernel(optimizer.name, state)
    if kernel is None:
        return (
            f"optimizer {optimizer.name!r} with state {sorted(state)} has no compiled kernel "
            "in this build"
        )
    for name in kernel.hyper:
        if not isinstance(getattr(optimizer, name, None), numbers.Real):
            return f"optimizer {optimizer.name!r} has no number {name!r}, which its kernel reads"
    return None


def _array_reason(net: Any, optimizer: Any, dtype: np.dtype) -> str | None:
    state = [a for v in getattr(optimizer, "state", {}).values() if isinstance(v, list) for a in v]
    for arr in (*net.weights, *net.biases, *state):
        if type(arr) is not np.ndarray or arr.dtype != dtype or not arr.flags.c_contiguous:
            return "weights or optimizer state are not C-contiguous NumPy arrays of the dtype"
    return None
