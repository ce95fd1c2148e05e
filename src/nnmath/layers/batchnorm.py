"""Batch normalisation (Ioffe and Szegedy, 2015): each unit normalised over the mini-batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..backend import get_namespace
from ._base import Backward, Cache, Layer, OnnxLayer, Shape, TorchLayer, size_of
from ._norm import NormCache, checked_number, through_normalisation

__all__ = ["BatchNorm"]


class BatchNorm(Layer):
    """``out = γ ẑ + β`` with ``ẑ = (z − μ)/√(σ² + ε)``, per unit (after a Dense) or per
    channel (after a Conv2D), as ``torch.nn.BatchNorm1d`` / ``BatchNorm2d``.

    Forward in ``fit`` (``training=True``), over the ``m`` examples of the mini-batch (and
    the ``H × W`` positions of an image: ``M = m`` or ``M = m·H·W`` values per unit)::

        μ_B  = (1/M) Σ z                    σ²_B = (1/M) Σ (z − μ_B)²   (biased)
        ẑ    = (z − μ_B)/√(σ²_B + ε)        out  = γ ẑ + β

    and once per step (:meth:`update_state`, as torch does) the running statistics
    ``running_mean ← (1 − momentum)·running_mean + momentum·μ_B``,
    ``running_var ← (1 − momentum)·running_var + momentum·σ²_B·M/(M − 1)`` (unbiased), from
    0 and 1. Everywhere else (``predict``, ``cost``, ``feedforward``) ``μ``, ``σ²`` are the
    running ones, and ``out`` is an affine map of ``z``.

    Backward, from ``δ = ∂C/∂out`` ``(n, m)`` or ``(C, H, W, m)`` (sums over the same ``M``
    values, averaged over the ``m`` examples as every layer's ∂C/∂w)::

        ∂C/∂γ = (1/m) Σ δ ⊙ ẑ              ∂C/∂β = (1/m) Σ δ
        g     = γ/√(σ²_B + ε) · (δ − mean(δ) − ẑ mean(δ ⊙ ẑ))

    the last line the chain rule through ẑ, μ_B and σ²_B together
    (:func:`~nnmath.layers._norm.through_normalisation`); in inference form
    ``g = γ/√(σ² + ε) · δ``. The layer has no σ: follow it with an
    :class:`~nnmath.layers.Activation` (``Dense(n, σ, batch_norm=True)`` writes
    ``Dense(n, "identity"), BatchNorm(), Activation(σ)``).

    Parameters
    ----------
    momentum : float in (0, 1]
        The running statistics' update weight (torch's ``momentum``).
    eps : float in (0, 1]
        ε, added to σ² before the square root.

    Attributes
    ----------
    W : array (n,) or (C,)
        γ, the scale (starts at 1): ``net.weights`` holds it, so optimizers and L2 treat it
        as torch's ``weight``.
    b : array (n,) or (C,)
        β, the shift (starts at 0).
    running_mean, running_var : arrays (n,) or (C,)
        The state (:meth:`state`): saved, checkpointed and moved with ``W``, ``b``.
    """

    name = "batchnorm"
    words = ("bn",)
    has_parameters = True
    couples_examples = True
    EXAMPLES = (({"momentum": 0.1}, (4,)), ({"momentum": 0.3, "eps": 1e-3}, (3, 4, 5)))
    torch = TorchLayer(
        "BatchNorm1d",
        args={"momentum": "momentum", "eps": "eps"},
        inputs={"num_features": 0},
        fixed={"affine": (True,), "track_running_stats": (True,)},
        image_module="BatchNorm2d",
    )
    onnx = OnnxLayer(
        "BatchNormalization",
        floats={"epsilon": ("eps", False), "momentum": ("momentum", True)},
        state=("running_mean", "running_var"),
    )

    def __init__(self, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum = checked_number("BatchNorm", "momentum", momentum, 0.0, 1.0)
        self.eps = checked_number("BatchNorm", "eps", eps, 0.0, 1.0)
        self.running_mean: Any = None
        self.running_var: Any = None

    def build(self, input_shape: Shape, init: str, rng: np.random.Generator, dtype: Any) -> Shape:
        """γ = 1, β = 0 and the running statistics 0, 1, one per unit or channel (whatever
        ``init``: nothing is drawn from ``rng``)."""
        if len(input_shape) not in (1, 3):
            raise ValueError(f"{self!r} needs units (n,) or images (C, H, W), got {input_shape}")
        self.input_shape = self.output_shape = tuple(input_shape)
        (C,) = self.parameter_shapes()[1]
        self.W, self.b = np.ones(C, dtype), np.zeros(C, dtype)
        self.running_mean, self.running_var = np.zeros(C, dtype), np.ones(C, dtype)
        return self.output_shape

    def config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "eps": self.eps}

    def parameter_shapes(self) -> tuple[Shape, Shape]:
        """γ and β: ``(n,)`` or ``(C,)``."""
        return (self.input_shape[0],), (self.input_shape[0],)

    def forward(self, a_prev: Any, mask: Any = None, training: bool = False) -> NormCache:
        """out = γ (a^{l−1} − μ)/√(σ² + ε) + β: the mini-batch's μ_B, σ²_B when ``training``,
        else the running ones. a_prev, out: ``(n, m)`` or ``(C, H, W, m)``."""
        xp = get_namespace(a_prev)
        axes, unit = _axes(a_prev)
        if training:
            if size_of(a_prev.shape[1:]) < 2:
                raise ValueError(
                    f"{self!r} normalises over the mini-batch: a training pass needs more than "
                    f"one value per unit, got a mini-batch of {a_prev.shape[-1]} (as torch "
                    "refuses it); use mini_batch_size ≥ 2 and a training set that does not "
                    "leave a last mini-batch of one example"
                )
            mean = xp.mean(a_prev, axis=axes)  # μ_B
            centred = a_prev - xp.reshape(mean, unit)
            var = xp.mean(centred * centred, axis=axes)  # σ²_B, biased
        else:
            mean, var = self.running_mean, self.running_var
            centred = a_prev - xp.reshape(mean, unit)
        inv_std = xp.reshape(1.0 / xp.sqrt(var + self.eps), unit)  # 1/√(σ² + ε)
        z_hat = centred * inv_std
        out = xp.reshape(self.W, unit) * z_hat + xp.reshape(self.b, unit)  # γ ẑ + β
        return NormCache(a_prev, out, out, z_hat, inv_std, mean, var, training)

    def backward(self, delta: Any, cache: Cache, need_g: bool = True) -> Backward:
        """∂C/∂γ = Σ δ ⊙ ẑ /m, ∂C/∂β = Σ δ /m (sums over examples and positions), and
        g = γ/√(σ² + ε) (δ − mean(δ) − ẑ mean(δ ⊙ ẑ)) after a training pass (γ/√(σ² + ε) δ
        after an inference one). delta, g: the shape of a_prev."""
        assert isinstance(cache, NormCache)
        xp = get_namespace(delta)
        axes, unit = _axes(delta)
        m = delta.shape[-1]
        nabla_w = xp.sum(delta * cache.z_hat, axis=axes) / m  # ∂C/∂γ
        nabla_b = xp.sum(delta, axis=axes) / m  # ∂C/∂β
        if not need_g:
            return Backward(None, nabla_w, nabla_b)
        d = xp.reshape(self.W, unit) * delta  # ∂C/∂ẑ = γ δ
        if cache.training:
            g = through_normalisation(d, cache.z_hat, cache.inv_std, axes)
        else:
            g = cache.inv_std * d
        return Backward(g, nabla_w, nabla_b)

    def state(self) -> dict[str, Any]:
        """``{"running_mean": …, "running_var": …}``, one entry per unit or channel."""
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Put back the running statistics (copies), shapes checked.

        Raises
        ------
        ValueError
            Another set of names, another shape than ``(n,)`` / ``(C,)``, or a negative
            variance.
        """
        if set(state) != {"running_mean", "running_var"}:
            raise ValueError(f"{self!r} keeps running_mean and running_var, got {sorted(state)}")
        want = self.parameter_shapes()[1]
        for name, value in state.items():
            if tuple(value.shape) != want:
                raise ValueError(f"{self!r}: {name} has shape {tuple(value.shape)}, not {want}")
        xp = get_namespace(state["running_mean"])
        if not bool(xp.all(state["running_var"] >= 0)):  # a NaN fails this too
            raise ValueError(f"{self!r}: running_var holds negative or NaN variances")
        self.running_mean = xp.asarray(state["running_mean"], copy=True)
        self.running_var = xp.asarray(state["running_var"], copy=True)

    def update_state(self, cache: Cache) -> None:
        """running ← (1 − momentum)·running + momentum·(μ_B, σ²_B·M/(M − 1)) after a
        training pass (``M`` values per unit); an inference pass changes nothing."""
        if not isinstance(cache, NormCache) or not cache.training:
            return
        M = size_of(cache.z.shape[1:])
        p = self.momentum
        self.running_mean = (1 - p) * self.running_mean + p * cache.mean
        self.running_var = (1 - p) * self.running_var + p * cache.var * (M / (M - 1))

    def torch_z(self, a_prev: Any, F: Any, W: Any = None, b: Any = None, mask: Any = None) -> Any:
        if a_prev.ndim == 2:
            return F.batch_norm(a_prev.T, None, None, W, b, training=True, eps=self.eps).T
        x = a_prev.permute(3, 0, 1, 2)  # (C, H, W, m) → (m, C, H, W)
        out = F.batch_norm(x, None, None, W, b, training=True, eps=self.eps)
        return out.permute(1, 2, 3, 0)

    def __repr__(self) -> str:
        extra = [f"momentum={self.momentum}"] if self.momentum != 0.1 else []
        extra += [f"eps={self.eps}"] if self.eps != 1e-5 else []
        return f"BatchNorm({', '.join(extra)})"


def _axes(a: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The axes a unit's statistics run over (examples, and positions of an image) and the
    shape that puts a per-unit vector against ``a``: ``(1,), (-1, 1)`` for ``(n, m)``,
    ``(1, 2, 3), (-1, 1, 1, 1)`` for ``(C, H, W, m)``."""
    return tuple(range(1, a.ndim)), (-1,) + (1,) * (a.ndim - 1)
