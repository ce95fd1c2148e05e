"""Layer normalisation (Ba, Kiros and Hinton, 2016): each example normalised over its units."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import get_namespace
from ._base import Backward, Cache, Layer, OnnxLayer, Shape, TorchLayer
from ._norm import NormCache, checked_number, through_normalisation

__all__ = ["LayerNorm"]


class LayerNorm(Layer):
    """``out = γ ⊙ ẑ + β`` with ``ẑ = (z − μ)/√(σ² + ε)``, μ and σ² (biased) over the ``N``
    units of *one example* (all of ``(n,)`` or ``(C, H, W)``), as ``torch.nn.LayerNorm``.

    Forward, the same in training and inference (no state, no dependence on the other
    examples of the mini-batch)::

        μ = (1/N) Σ_units z    σ² = (1/N) Σ_units (z − μ)²    ẑ = (z − μ)/√(σ² + ε)
        out = γ ⊙ ẑ + β        (γ, β one per unit)

    Backward, from ``δ = ∂C/∂out`` (means over the units of each example)::

        ∂C/∂γ = (1/m) Σ_x δ ⊙ ẑ       ∂C/∂β = (1/m) Σ_x δ
        g     = (1/√(σ² + ε)) (d − mean(d) − ẑ mean(d ⊙ ẑ)),   d = γ ⊙ δ

    Parameters
    ----------
    eps : float in (0, 1]

    Attributes
    ----------
    W, b : arrays of the input's shape, ``(n,)`` or ``(C, H, W)``
        γ (starts at 1) and β (starts at 0), torch's ``weight`` and ``bias``.
    """

    name = "layernorm"
    has_parameters = True
    EXAMPLES = (({"eps": 1e-5}, (5,)), ({"eps": 1e-3}, (2, 3, 4)))
    torch = TorchLayer(
        "LayerNorm",
        args={"eps": "eps"},
        inputs={"normalized_shape": None},
        fixed={"elementwise_affine": (True,)},
    )
    onnx = OnnxLayer("LayerNormalization", fixed={"axis": 1}, floats={"epsilon": ("eps", False)})

    def __init__(self, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = checked_number("LayerNorm", "eps", eps, 0.0, 1.0)

    def build(self, input_shape: Shape, init: str, rng: np.random.Generator, dtype: Any) -> Shape:
        """γ = 1 and β = 0 of the input's shape (nothing drawn from ``rng``)."""
        self.input_shape = self.output_shape = tuple(input_shape)
        self.W, self.b = np.ones(self.input_shape, dtype), np.zeros(self.input_shape, dtype)
        return self.output_shape

    def config(self) -> dict[str, Any]:
        return {"eps": self.eps}

    def parameter_shapes(self) -> tuple[Shape, Shape]:
        """γ and β: the input's shape."""
        return self.input_shape, self.input_shape

    def forward(self, a_prev: Any, mask: Any = None, training: bool = False) -> NormCache:
        """out = γ ⊙ (a^{l−1} − μ)/√(σ² + ε) + β, μ and σ² per example (per column).
        a_prev, out: ``(n, m)`` or ``(C, H, W, m)``."""
        xp = get_namespace(a_prev)
        axes = tuple(range(a_prev.ndim - 1))  # every axis but the examples'
        centred = a_prev - xp.mean(a_prev, axis=axes, keepdims=True)  # z − μ
        var = xp.mean(centred * centred, axis=axes, keepdims=True)  # σ², biased
        inv_std = 1.0 / xp.sqrt(var + self.eps)
        z_hat = centred * inv_std
        out = self.W[..., None] * z_hat + self.b[..., None]  # γ ⊙ ẑ + β
        return NormCache(a_prev, out, out, z_hat, inv_std, training=True)

    def backward(self, delta: Any, cache: Cache, need_g: bool = True) -> Backward:
        """∂C/∂γ = Σ_x δ ⊙ ẑ /m, ∂C/∂β = Σ_x δ /m (the input's shape), and
        g = (d − mean(d) − ẑ mean(d ⊙ ẑ))/√(σ² + ε) with d = γ ⊙ δ, per example."""
        assert isinstance(cache, NormCache)
        xp = get_namespace(delta)
        m = delta.shape[-1]
        nabla_w = xp.sum(delta * cache.z_hat, axis=-1) / m  # ∂C/∂γ
        nabla_b = xp.sum(delta, axis=-1) / m  # ∂C/∂β
        if not need_g:
            return Backward(None, nabla_w, nabla_b)
        axes = tuple(range(delta.ndim - 1))
        g = through_normalisation(self.W[..., None] * delta, cache.z_hat, cache.inv_std, axes)
        return Backward(g, nabla_w, nabla_b)

    def torch_z(self, a_prev: Any, F: Any, W: Any = None, b: Any = None, mask: Any = None) -> Any:
        order = (a_prev.ndim - 1, *range(a_prev.ndim - 1))  # examples first, as torch's
        back = (*range(1, a_prev.ndim), 0)
        x = a_prev.permute(*order)
        return F.layer_norm(x, tuple(self.input_shape), W, b, eps=self.eps).permute(*back)

    def __repr__(self) -> str:
        return "LayerNorm()" if self.eps == 1e-5 else f"LayerNorm(eps={self.eps})"
