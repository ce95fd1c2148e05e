"""σ as a layer of its own: ``a^l = σ(a^{l−1})``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..activations import Activation as Sigma
from ._base import (
    Backward,
    Cache,
    Layer,
    OnnxLayer,
    Shape,
    TorchLayer,
    activation_of,
    sigma_config,
)

__all__ = ["Activation"]


class Activation(Layer):
    """σ alone: ``z^l = a^{l−1}``, ``a^l = σ(z^l)``; backward ``g = δ^l`` (∂z^l/∂a^{l−1} = I).

    (:class:`nnmath.activations.Activation`, called ``Sigma`` here, is the σ object itself.)

    Parameters
    ----------
    name : str or Activation
        σ, a name of :data:`nnmath.activations.ACTIVATIONS`.
    """

    name = "activation"
    EXAMPLES = (({"name": "elu"}, (2, 3, 4)), ({"name": "softmax"}, (5,)))
    torch, onnx = TorchLayer(None), OnnxLayer(None)  # σ's own module, σ's own operators

    def __init__(self, name: str | Sigma) -> None:
        super().__init__()
        self.activation = activation_of(name)

    def config(self) -> dict[str, Any]:
        return {"name": sigma_config(self.activation)}

    def build(self, input_shape: Shape, init: str, rng: np.random.Generator, dtype: Any) -> Shape:
        """Any shape in, the same shape out; a σ that couples units (softmax) needs vectors."""
        if not self.activation.elementwise and len(input_shape) != 1:
            raise ValueError(f"{self!r} couples units: it needs a vector input (Flatten first)")
        return super().build(input_shape, init, rng, dtype)

    def forward(self, a_prev: Any, mask: Any = None, training: bool = False) -> Cache:
        """z^l = a^{l−1}, a^l = σ(z^l); any shape ``input_shape + (m,)``."""
        return Cache(a_prev, a_prev, self.activation(a_prev))

    def backward(self, delta: Any, cache: Cache, need_g: bool = True) -> Backward:
        """g = ∂C/∂a^{l−1} = δ^l, since z^l = a^{l−1}."""
        return Backward(delta)

    def torch_z(self, a_prev: Any, F: Any, W: Any = None, b: Any = None, mask: Any = None) -> Any:
        return a_prev

    def __repr__(self) -> str:
        return f"Activation({self.activation.name!r})"
