"""The fully connected layer: the lecture's equations as written."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..activations import Activation
from ..backend import get_namespace
from ..init import initialize_layer
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

__all__ = ["Dense", "dense_gradients", "dense_z"]


def dense_z(W: Any, a_prev: Any, b: Any) -> Any:
    """z^l = W^l a^{l−1} + b^l for columns: W (n_l, n_{l−1}), a_prev (n_{l−1}, m), b (n_l,);
    returns (n_l, m). The one place this product is written (Network, Dense, evaluation)."""
    return W @ a_prev + b[:, None]


def dense_gradients(delta: Any, a_prev: Any) -> tuple[Any, Any]:
    """Equations 4 and 3 over a mini-batch of m columns: ∂C/∂w^l = δ^l (a^{l−1})ᵀ / m
    (n_l, n_{l−1}) and ∂C/∂b^l = Σ_x δ^l / m (n_l,), from δ^l (n_l, m), a_prev (n_{l−1}, m)."""
    m = delta.shape[1]
    nabla_b = get_namespace(delta).sum(delta, axis=1) / m  # ∂C/∂b^l = δ^l
    nabla_w = (delta @ a_prev.T) / m  # ∂C/∂w^l = δ^l (a^{l-1})^T
    return nabla_w, nabla_b


class Dense(Layer):
    """A fully connected layer: ``z^l = w^l a^{l−1} + b^l``, ``a^l = σ(z^l)``.

    Backward (the lecture's equations 3, 4 and the first half of 2, ``m`` columns at once):
    ``∂C/∂b^l = (1/m) Σ_x δ^l``, ``∂C/∂w^l = (1/m) δ^l (a^{l−1})ᵀ``, ``g = (w^l)ᵀ δ^l``.

    Parameters
    ----------
    n : int
        Units of the layer, ``n_l``.
    activation : str or Activation
        σ, a name of :data:`nnmath.activations.ACTIVATIONS` (softmax included).
    batch_norm : bool
        A shorthand: the network builds ``Dense(n, "identity"), BatchNorm(), Activation(σ)``
        in its place (:func:`nnmath.layers.expand_batch_norm`). ``b`` is then redundant with
        BatchNorm's β (kept, as torch's ``Linear`` keeps its bias).

    Attributes
    ----------
    W : array (n_l, n_{l−1})
    b : array (n_l,)
    """

    name = "dense"
    has_parameters = True
    EXAMPLES = (({"n": 4, "activation": "tanh"}, (5,)), ({"n": 3, "activation": "softmax"}, (6,)))
    torch = TorchLayer("Linear", args={"n": "out_features"}, inputs={"in_features": 0}, sigma=True)
    onnx = OnnxLayer("Gemm", fixed={"transB": 1}, weights={"n": 0}, sigma=True)  # a Wᵀ + b

    def __init__(
        self, n: int, activation: str | Activation = "sigmoid", batch_norm: bool = False
    ) -> None:
        super().__init__()
        if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1:
            raise ValueError(f"Dense(n): n must be a positive int, got {n!r}")
        if batch_norm not in (True, False):  # 0 and 1 too: the layer language's numbers
            raise ValueError(f"Dense: batch_norm must be True or False, got {batch_norm!r}")
        self.n = int(n)
        self.activation = activation_of(activation)
        self.batch_norm = bool(batch_norm)

    def build(self, input_shape: Shape, init: str, rng: np.random.Generator, dtype: Any) -> Shape:
        """``W`` ``(n, n_in)`` and ``b`` ``(n,)`` drawn by ``init`` (fan-in ``n_in``)."""
        if len(input_shape) != 1:
            raise ValueError(f"{self!r} needs a vector input, got shape {tuple(input_shape)}")
        self.input_shape, self.output_shape = tuple(input_shape), (self.n,)
        self.W, self.b = initialize_layer(input_shape[0], self.n, init, rng, dtype)
        return self.output_shape

    def config(self) -> dict[str, Any]:
        extra = {"batch_norm": True} if self.batch_norm else {}  # never in a built network
        return {"n": self.n, "activation": sigma_config(self.activation), **extra}

    def parameter_shapes(self) -> tuple[Shape, Shape]:
        """W: (n_l, n_{l−1}), b: (n_l,)."""
        return (self.n, self.input_shape[0]), (self.n,)

    def forward(self, a_prev: Any, mask: Any = None, training: bool = False) -> Cache:
        """z^l = W^l a^{l−1} + b^l, a^l = σ(z^l). a_prev: (n_{l−1}, m); z, a: (n_l, m)."""
        z = dense_z(self.W, a_prev, self.b)  # z^l = W^l a^{l-1} + b^l
        return Cache(a_prev, z, self.activation(z))  # a^l = σ(z^l)

    def backward(self, delta: Any, cache: Cache, need_g: bool = True) -> Backward:
        """From δ^l (n_l, m): ∂C/∂b^l = δ^l, ∂C/∂w^l = δ^l (a^{l−1})ᵀ (averaged over m),
        g = (W^l)ᵀ δ^l (n_{l−1}, m) (None unless ``need_g``)."""
        nabla_w, nabla_b = dense_gradients(delta, cache.a_prev)
        g = self.W.T @ delta if need_g else None  # (w^l)^T δ^l
        return Backward(g, nabla_w, nabla_b)

    def torch_z(self, a_prev: Any, F: Any, W: Any = None, b: Any = None, mask: Any = None) -> Any:
        return F.linear(a_prev.T, W, b).T

    def __repr__(self) -> str:
        extra = ", batch_norm=True" if self.batch_norm else ""
        return f"Dense({self.n}, activation={self.activation.name!r}{extra})"
