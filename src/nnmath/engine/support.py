"""What the compiled epoch can train, read from the built library, and why not otherwise.

An activation, cost or optimizer whose registry name has a kernel in the library's tables
(:func:`nnmath.engine.binding.kernel_id`; an optimizer's kernel also reads its
hyper-parameters and state by name), NumPy float32 / float64 data and dropout; dense
networks, and networks of layers that read as dense and batch norm layers with residual
blocks of dense layers and dropout (:mod:`nnmath.engine.layered`).
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


def unsupported_reason(
    net: Any, optimizer: Any, X: Any, Y: Any, mini_batch_size: int | None = None
) -> str | None:
    """Why the compiled epoch cannot train this combination, or ``None`` when it can.

    A network of layers trains on it when :func:`nnmath.engine.layered.plan_of` reads it as
    dense and batch norm layers with residual blocks (and, with a BatchNorm, its
    ``mini_batch_size`` leaves no mini-batch of one example).

    Raises
    ------
    ValueError
        For a network whose per-layer attributes do not fit its architecture
        (:func:`nnmath._fit_checks.check_network`, as on the reference loop).
    """
    from ..network import Network

    if not c_available():
        return "the C extension nnmath.engine._ckernels is not built (reinstall with a C compiler)"
    activations = None
    if getattr(net, "layered", False):
        plan = _layered_plan(net, X, mini_batch_size)
        if isinstance(plan, str):
            return plan
        activations = plan.activations
    else:
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
    acts = net.activation_functions if activations is None else activations
    return _kernel_reason(net, optimizer, acts) or _array_reason(net, optimizer, dtype)


def _layered_plan(net: Any, X: Any, mini_batch_size: int | None) -> Any:
    """The compiled layers of a network of layers, or why it trains on the reference loop."""
    from ..layer_network import LayerNetwork
    from .layered import batch_reason, plan_of

    kinds = ", ".join(sorted({type(layer).__name__ for layer in net.layers}))
    where = f"a network of layers ({kinds}) trains on the reference loop: "
    for method in ("forward_caches", "backprop_columns", "forward"):
        if getattr(type(net), method) is not getattr(LayerNetwork, method, None):
            return where + f"{type(net).__name__} overrides LayerNetwork.{method}"
    plan = plan_of(net)
    if isinstance(plan, str):
        return where + plan
    n = X.shape[0] if hasattr(X, "shape") and len(X.shape) else 0
    reason = batch_reason(plan, n, mini_batch_size)
    return where + reason if reason else plan


def _kernel_reason(net: Any, optimizer: Any, activations: Any) -> str | None:
    """Why an activation, the cost or the optimizer has no kernel in the built library."""
    for act in activations:
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
    running = [a for lay in getattr(net, "stateful", ()) for a in lay.state().values()]
    for arr in (*net.weights, *net.biases, *state, *running):
        if type(arr) is not np.ndarray or arr.dtype != dtype or not arr.flags.c_contiguous:
            return (
                "weights, optimizer state or running statistics are not C-contiguous NumPy "
                "arrays of the dtype"
            )
    return None
