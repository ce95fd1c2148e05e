"""Activation functions σ and their derivatives σ'(z), side by side, as in the lecture notes.

Every activation is one object: ``act(z)`` is σ(z), ``act.prime(z)`` is σ'(z) (a function of
``z``, exactly the lecture's ``σ'(z^l)``), and ``act.vjp(z, a, g)`` is the product of the
transposed Jacobian ∂a/∂z with a vector ``g = ∂C/∂a``, which backprop uses for
``δ = ∂C/∂z``. For the element-wise functions the Jacobian is diagonal and
``vjp = g ⊙ σ'(z)``; softmax couples its outputs, so it has a full Jacobian
``∂y_i/∂x_j = y_i (δ_ij − y_j)`` and its own ``vjp``.

Inside nnmath a mini-batch is a matrix whose *columns* are the examples: ``z`` has shape
``(n_l, m)`` and softmax normalises along axis 0.

Each built-in activation is declared once, in :mod:`nnmath.activations._declarations`: its σ,
its σ', its ``torch.nn`` module and its ONNX operators. The registry :data:`ACTIVATIONS` and
the names exported here (``sigmoid``, ``sigmoid_prime``, ``Sigmoid``, ...) come from there;
the protocol (:class:`Activation`) is in :mod:`nnmath.activations._base`.
"""

from __future__ import annotations

from typing import Any

from . import _declarations
from ._base import Activation, OnnxOps, TorchModule
from ._declarations import *  # noqa: F403 - every declared σ, σ' and class, listed in its __all__
from ._declarations import ACTIVATIONS

__all__ = [
    "Activation",
    "OnnxOps",
    "TorchModule",
    "get_activation",
    "is_builtin",
    *_declarations.__all__,
]


def is_builtin(act: Activation) -> bool:
    """Whether ``act`` is one of the registry's own activations, not a user's object."""
    return type(act) is ACTIVATIONS.get(act.name)


def get_activation(spec: str | Activation | Any, **params: float) -> Activation:
    """Look an activation up by name, or accept an :class:`Activation` object.

    Parameters
    ----------
    spec : str or Activation
        A registry name (``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"leaky_relu"``, ``"elu"``,
        ``"softmax"``, ``"identity"``, ...: the keys of :data:`ACTIVATIONS`), or an object
        with ``__call__`` (σ) and ``prime`` (σ').
    **params
        Parameters for the named activation, e.g. ``alpha=0.1``.

    Returns
    -------
    Activation

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones).
    TypeError
        For an object that is neither a name nor has ``__call__`` and ``prime``.
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        key = spec.lower().replace("-", "_")
        if key not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {spec!r}: choose one of {sorted(ACTIVATIONS)} "
                "or pass an Activation object"
            )
        try:
            return ACTIVATIONS[key](**params)
        except TypeError as exc:
            raise ValueError(f"activation {key!r} does not take parameters {params}") from exc
    if callable(spec) and callable(getattr(spec, "prime", None)):
        return Activation.from_functions(spec, spec.prime, getattr(spec, "name", "custom"))
    raise TypeError(
        f"activation must be a name or an object with __call__ (σ) and prime (σ'), "
        f"got {type(spec).__name__}"
    )
