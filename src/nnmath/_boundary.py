"""The public API's boundary: rows checked once and moved to the network's device once."""

from __future__ import annotations

from typing import Any

from . import validation

__all__ = ["inputs_on_device", "targets_on_device"]


def inputs_on_device(net: Any, X: Any) -> Any:
    """``X`` checked (:func:`nnmath.validation.check_inputs`), of ``net.dtype``, on its backend."""
    backend = net.backend
    if backend.name == "numpy":
        return validation.check_inputs(X, net.sizes[0], net.dtype)
    if backend.owns(X):  # already on the device: check there, no round trip to the host
        return validation.check_inputs_on_device(X, net.sizes[0], net.dtype, backend.xp)
    return backend.asarray(validation.check_inputs(X, net.sizes[0], net.dtype))


def targets_on_device(net: Any, Y: Any, n: int) -> Any:
    """``Y`` checked (:func:`nnmath.validation.check_targets`), of ``net.dtype``, on its backend."""
    backend, n_outputs = net.backend, net.sizes[-1]
    if backend.name == "numpy":
        return validation.check_targets(Y, n, n_outputs, net.dtype)
    if backend.owns(Y) and Y.ndim == 2:
        return validation.check_targets_on_device(Y, n, n_outputs, net.dtype, backend.xp)
    return backend.asarray(validation.check_targets(Y, n, n_outputs, net.dtype))
