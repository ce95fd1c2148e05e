"""The convolutional layer (Nielsen, chapter 6), as a correlation, the way torch computes it."""

from __future__ import annotations

from dataclasses import dataclass
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
    check_image,
    out_size,
    sigma_config,
    size_of,
)
from ._windows import col2im, im2col

__all__ = ["Conv2D"]


@dataclass
class ConvCache(Cache):
    """:class:`Cache` plus ``cols``, the windows of ``a^{l−1}`` as columns ``(C·k·k, Ho·Wo·m)``
    (:func:`~nnmath.layers._windows.im2col`), which ``∂C/∂w^l`` reads again."""

    cols: Any = None


class Conv2D(Layer):
    """A convolutional layer: ``out`` feature maps, each a ``k × k`` window shared over the image.

    Forward, Nielsen's ``σ(b + Σ_l Σ_m w_{l,m} a_{j+l,k+m})`` summed over input channels too
    (with stride ``s`` and zero padding ``p``)::

        z^l[o, y, x] = b[o] + Σ_c Σ_i Σ_j w[o, c, i, j] · a^{l−1}[c, s·y + i − p, s·x + j − p]
        a^l = σ(z^l)

    computed as one product ``W (out, C·k·k) @ im2col(a^{l−1}) (C·k·k, Ho·Wo·m)`` (BLAS, or
    the GPU's: the code is the array namespace's, so it runs on NumPy, CuPy and torch);
    :func:`nnmath.layers._windows.correlate_naive` is the sum above, loops as written.

    Backward, from ``δ^l`` ``(out, Ho, Wo, m)``, averaged over the ``m`` examples::

        ∂C/∂b[o]       = Σ_{y,x} δ^l[o, y, x]
        ∂C/∂w[o,c,i,j] = Σ_{y,x} δ^l[o, y, x] · a^{l−1}[c, s·y + i − p, s·x + j − p]
        g[c, Y, X]     = Σ_o Σ_{i,j} w[o, c, i, j] · δ^l[o, (Y + p − i)/s, (X + p − j)/s]

    (terms with a non-integer or out-of-range index are 0). With ``s = 1`` the last line is
    the *full* correlation of ``δ^l`` with the kernel flipped in both axes; it is computed as
    ``col2im(Wᵀ δ^l)``.

    Parameters
    ----------
    out_channels : int
    kernel_size : int
        ``k``: square kernels.
    stride, padding : int
    activation : str or Activation
        An element-wise σ of :data:`nnmath.activations.ACTIVATIONS`.

    Attributes
    ----------
    W : array (out_channels, in_channels, k, k)
        As torch's ``Conv2d.weight``; drawn by ``init`` with fan-in ``in·k·k``.
    b : array (out_channels,)
    """

    name = "conv2d"
    words = ("conv",)
    has_parameters = True
    EXAMPLES = (
        ({"out_channels": 3, "kernel_size": 3, "activation": "relu"}, (2, 6, 5)),
        ({"out_channels": 2, "kernel_size": 3, "stride": 2, "padding": 1}, (3, 7, 6)),
        ({"out_channels": 4, "kernel_size": 2, "stride": 3, "activation": "tanh"}, (1, 8, 8)),
    )
    torch = TorchLayer(
        "Conv2d",
        args={a: a for a in ("out_channels", "kernel_size", "stride", "padding")},
        inputs={"in_channels": 0},
        fixed={"dilation": ((1, 1),), "groups": (1,), "padding_mode": ("zeros",)},
        sigma=True,
    )
    onnx = OnnxLayer(
        "Conv",
        attrs={
            "kernel_shape": ("kernel_size", 2),
            "strides": ("stride", 2),
            "pads": ("padding", 4),
        },
        weights={"out_channels": 0},
        sigma=True,
    )

    def __init__(
        self,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        activation: str | Activation = "sigmoid",
    ) -> None:
        super().__init__()
        for what, v, low in (
            ("out_channels", out_channels, 1),
            ("kernel_size", kernel_size, 1),
            ("stride", stride, 1),
            ("padding", padding, 0),
        ):
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < low:
                raise ValueError(f"Conv2D: {what} must be an int ≥ {low}, got {v!r}")
        self.out_channels, self.k = int(out_channels), int(kernel_size)
        self.stride, self.padding = int(stride), int(padding)
        self.activation = activation_of(activation)
        if not self.activation.elementwise:
            raise ValueError(
                f"Conv2D: activation {self.activation.name!r} couples units; use an "
                "element-wise σ here and put it on a Dense layer"
            )

    def build(self, input_shape: Shape, init: str, rng: np.random.Generator, dtype: Any) -> Shape:
        """``W`` ``(out, C, k, k)``, ``b`` ``(out,)``; output ``(out, Ho, Wo)``."""
        C, H, W = check_image(self, input_shape)
        Ho = out_size(H, self.k, self.stride, self.padding, self)
        Wo = out_size(W, self.k, self.stride, self.padding, self)
        self.input_shape, self.output_shape = (C, H, W), (self.out_channels, Ho, Wo)
        shape = (self.out_channels, C, self.k, self.k)
        self.W, self.b = initialize_layer(C * self.k**2, self.out_channels, init, rng, dtype, shape)
        return self.output_shape

    def config(self) -> dict[str, Any]:
        return {
            "out_channels": self.out_channels,
            "kernel_size": self.k,
            "stride": self.stride,
            "padding": self.padding,
            "activation": sigma_config(self.activation),
        }

    def elements_per_example(self) -> int:
        """z^l, a^l and the im2col columns (C·k·k, Ho·Wo) the forward pass keeps."""
        columns = self.input_shape[0] * self.k**2 * size_of(self.output_shape[1:])
        return super().elements_per_example() + columns

    def parameter_shapes(self) -> tuple[Shape, Shape]:
        """W: (out, C, k, k), b: (out,)."""
        return (self.out_channels, self.input_shape[0], self.k, self.k), (self.out_channels,)

    def forward(self, a_prev: Any, mask: Any = None, training: bool = False) -> ConvCache:
        """z^l = w^l ⋆ a^{l−1} + b^l, a^l = σ(z^l). a_prev: (C, H, W, m); z, a: (out, Ho, Wo, m)."""
        cols = im2col(a_prev, self.k, self.stride, self.padding)
        W2 = self.W.reshape((self.out_channels, -1))  # (out, C·k·k)
        z = W2 @ cols  # (out, Ho·Wo·m)
        z += self.b[:, None]  # in place: one pass less over z^l
        z = z.reshape((*self.output_shape, a_prev.shape[-1]))
        return ConvCache(a_prev, z, self.activation(z), cols)

    def backward(self, delta: Any, cache: Cache, need_g: bool = True) -> Backward:
        """∂C/∂w^l, ∂C/∂b^l and g = ∂C/∂a^{l−1} (C, H, W, m) from δ^l (out, Ho, Wo, m)
        (g None unless ``need_g``)."""
        m = delta.shape[-1]
        xp = get_namespace(delta)
        D = xp.reshape(delta, (self.out_channels, -1))  # (out, Ho·Wo·m)
        nabla_b = xp.sum(D, axis=1) / m  # Σ over positions and examples, / m
        nabla_w = (D @ cache.cols.T).reshape(tuple(self.W.shape)) / m  # δ^l ⋆ a^{l-1}
        if not need_g:
            return Backward(None, nabla_w, nabla_b)
        g_cols = self.W.reshape((self.out_channels, -1)).T @ D  # (C·k·k, Ho·Wo·m)
        g = col2im(g_cols, cache.a_prev.shape, self.k, self.stride, self.padding)
        return Backward(g, nabla_w, nabla_b)

    def torch_z(self, a_prev: Any, F: Any, W: Any = None, b: Any = None, mask: Any = None) -> Any:
        z = F.conv2d(a_prev.permute(3, 0, 1, 2), W, b, stride=self.stride, padding=self.padding)
        return z.permute(1, 2, 3, 0)  # (m, out, Ho, Wo) → (out, Ho, Wo, m)

    def __repr__(self) -> str:
        extra = "".join(
            f", {n}={v}"
            for n, v, d in (("stride", self.stride, 1), ("padding", self.padding, 0))
            if v != d
        )
        return f"Conv2D({self.out_channels}, {self.k}{extra}, activation={self.activation.name!r})"
