"""Pooling layers: each window of a feature map condensed to one number (Nielsen, chapter 6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._base import Backward, Cache, Layer, OnnxLayer, Shape, TorchLayer, check_image, out_size
from ._windows import col2im, windows

__all__ = ["AvgPool2D", "MaxPool2D"]


@dataclass
class MaxPoolCache(Cache):
    """:class:`Cache` plus ``argmax``: which of the ``k·k`` entries of each window was the
    max, ``(C, Ho, Wo, m)`` (row-major ``i·k + j``)."""

    argmax: Any = None


class _Pool2D(Layer):
    """Shapes of a ``size × size`` window at ``stride`` (default ``size``) over each channel."""

    def __init__(self, size: int, stride: int | None = None) -> None:
        super().__init__()
        stride = size if stride is None else stride
        for what, v in (("size", size), ("stride", stride)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ValueError(f"{type(self).__name__}: {what} must be an int ≥ 1, got {v!r}")
        self.k, self.stride = int(size), int(stride)

    def config(self) -> dict[str, Any]:
        return {"size": self.k, "stride": self.stride}

    def build(self, input_shape: Shape, init: str, rng: np.random.Generator, dtype: Any) -> Shape:
        C, H, W = check_image(self, input_shape)
        Ho, Wo = (out_size(n, self.k, self.stride, 0, self) for n in (H, W))
        self.input_shape, self.output_shape = (C, H, W), (C, Ho, Wo)
        return self.output_shape

    def _windows_flat(self, a_prev: Any) -> Any:
        """Every window's entries along the last axis: (C, Ho, Wo, m, k·k)."""
        v = windows(a_prev, self.k, self.stride)
        return v.reshape(*v.shape[:4], self.k * self.k)

    def _back(self, per_entry: Any, shape: tuple[int, ...]) -> Any:
        """Each window's ``(C, Ho, Wo, m, k·k)`` share of δ added back onto its pixels."""
        g = per_entry.reshape(*per_entry.shape[:4], self.k, self.k).transpose(0, 4, 5, 1, 2, 3)
        return col2im(g, shape, self.k, self.stride, 0)

    def __repr__(self) -> str:
        extra = f", stride={self.stride}" if self.stride != self.k else ""
        return f"{type(self).__name__}({self.k}{extra})"


class MaxPool2D(_Pool2D):
    """Max-pooling: ``z^l[c, y, x] = max_{i,j} a^{l−1}[c, s·y + i, s·x + j]``, ``a^l = z^l``.

    Backward: δ is routed to the arg-max, ``g[c, s·y + i*, s·x + j*] += δ^l[c, y, x]`` for the
    ``(i*, j*)`` that held the max (the first one on ties, as torch on CPU); 0 elsewhere.

    Parameters
    ----------
    size : int
        The window ``k × k``.
    stride : int, optional
        Default ``size`` (windows side by side, as Nielsen and torch).
    """

    name = "maxpool2d"
    EXAMPLES = (({"size": 2}, (2, 6, 7)), ({"size": 3, "stride": 2}, (3, 7, 7)))
    torch = TorchLayer(
        "MaxPool2d",
        args={"size": "kernel_size", "stride": "stride"},
        fixed={"padding": (0, (0, 0)), "dilation": (1, (1, 1)), "ceil_mode": (False,)},
    )
    onnx = OnnxLayer("MaxPool", attrs={"kernel_shape": ("size", 2), "strides": ("stride", 2)})

    def forward(self, a_prev: Any, mask: Any = None) -> MaxPoolCache:
        """(C, H, W, m) to (C, Ho, Wo, m), and where each max was."""
        flat = self._windows_flat(a_prev)
        argmax = flat.argmax(axis=-1)
        z = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
        return MaxPoolCache(a_prev, z, z, argmax)

    def torch_z(self, a_prev: Any, F: Any, W: Any = None, b: Any = None, mask: Any = None) -> Any:
        z = F.max_pool2d(a_prev.permute(3, 0, 1, 2), self.k, self.stride)
        return z.permute(1, 2, 3, 0)

    def backward(self, delta: Any, cache: Cache) -> Backward:
        """g = δ^l routed to each window's arg-max, (C, H, W, m)."""
        per_entry = np.zeros((*delta.shape, self.k * self.k), dtype=delta.dtype)
        np.put_along_axis(per_entry, cache.argmax[..., None], delta[..., None], axis=-1)
        return Backward(self._back(per_entry, cache.a_prev.shape))


class AvgPool2D(_Pool2D):
    """Average-pooling: ``z^l[c, y, x] = (1/k²) Σ_{i,j} a^{l−1}[c, s·y + i, s·x + j]``.

    Backward: each pixel of a window gets ``δ^l[c, y, x] / k²``.

    Parameters
    ----------
    size : int
        The window ``k × k``.
    stride : int, optional
        Default ``size``.
    """

    name = "avgpool2d"
    EXAMPLES = (({"size": 2}, (2, 6, 6)), ({"size": 3, "stride": 1}, (1, 5, 6)))
    torch = TorchLayer(
        "AvgPool2d",
        args={"size": "kernel_size", "stride": "stride"},
        fixed={"padding": (0, (0, 0)), "ceil_mode": (False,), "divisor_override": (None,)},
    )
    onnx = OnnxLayer("AveragePool", attrs={"kernel_shape": ("size", 2), "strides": ("stride", 2)})

    def forward(self, a_prev: Any, mask: Any = None) -> Cache:
        """(C, H, W, m) to (C, Ho, Wo, m)."""
        z = self._windows_flat(a_prev).mean(axis=-1)
        return Cache(a_prev, z, z)

    def torch_z(self, a_prev: Any, F: Any, W: Any = None, b: Any = None, mask: Any = None) -> Any:
        z = F.avg_pool2d(a_prev.permute(3, 0, 1, 2), self.k, self.stride)
        return z.permute(1, 2, 3, 0)

    def backward(self, delta: Any, cache: Cache) -> Backward:
        """g = δ^l / k² spread over each window, (C, H, W, m)."""
        share = np.broadcast_to((delta / (self.k * self.k))[..., None], (*delta.shape, self.k**2))
        return Backward(self._back(share, cache.a_prev.shape))
