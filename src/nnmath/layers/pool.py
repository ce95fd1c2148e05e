"""Pooling layers: each window of a feature map condensed to one number (Nielsen, chapter 6)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..backend import get_namespace
from ._base import Backward, Cache, Layer, OnnxLayer, Shape, TorchLayer, check_image, out_size
from ._windows import offsets, zeros

__all__ = ["AvgPool2D", "MaxPool2D"]


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

    def _entries(self, a_prev: Any) -> Iterator[tuple[int, Any]]:
        """Entry ``(i, j)`` of every window, ``(C, Ho, Wo, m)`` (a strided view), with its
        index ``i·k + j``, for each of the ``k·k`` entries."""
        _, Ho, Wo = self.output_shape
        for i, j, rows, cols in offsets(self.k, self.stride, Ho, Wo):
            yield i * self.k + j, a_prev[:, rows, cols]

    def _back(self, per_offset: Any, delta: Any, shape: tuple[int, ...]) -> Any:
        """``g`` (C, H, W, m): for each entry ``(i, j)`` of the windows, the δ that entry
        ``i·k + j`` of every window gets (``per_offset(idx)``, (C, Ho, Wo, m)) added onto
        the pixels it came from (k² strided adds; written, not added, when the windows do
        not overlap, stride ≥ size: each pixel then gets one entry's δ)."""
        _, Ho, Wo = self.output_shape
        g = zeros(delta, shape)
        apart = self.stride >= self.k
        for i, j, rows, cols in offsets(self.k, self.stride, Ho, Wo):
            if apart:
                g[:, rows, cols] = per_offset(i * self.k + j)
            else:
                g[:, rows, cols] += per_offset(i * self.k + j)
        return g

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
    words = ("pool", "maxpool")
    EXAMPLES = (({"size": 2}, (2, 6, 7)), ({"size": 3, "stride": 2}, (3, 7, 7)))
    torch = TorchLayer(
        "MaxPool2d",
        args={"size": "kernel_size", "stride": "stride"},
        fixed={"padding": (0, (0, 0)), "dilation": (1, (1, 1)), "ceil_mode": (False,)},
    )
    onnx = OnnxLayer("MaxPool", attrs={"kernel_shape": ("size", 2), "strides": ("stride", 2)})

    def forward(self, a_prev: Any, mask: Any = None, training: bool = False) -> Cache:
        """(C, H, W, m) to (C, Ho, Wo, m): the running max over the windows' k² entries."""
        xp = get_namespace(a_prev)
        entries = self._entries(a_prev)
        _, z = next(entries)
        for _, entry in entries:
            z = xp.maximum(entry, z)  # one pass (a NaN propagates, as in torch)
        return Cache(a_prev, z, z)

    def first_max(self, cache: Cache) -> Any:
        """Which entry ``i·k + j`` of each window held its (first) max, ``(C, Ho, Wo, m)``:
        where :meth:`backward` routes δ (the trace shows it)."""
        xp = get_namespace(cache.z)
        entries = self._entries(cache.a_prev)
        _, z = next(entries)
        argmax = zeros(z, tuple(z.shape), xp.int64)
        for idx, entry in entries:
            better = entry > z  # strictly: the first max is kept on ties
            z = xp.where(better, entry, z)
            argmax = xp.where(better, idx, argmax)
        return argmax

    def torch_z(self, a_prev: Any, F: Any, W: Any = None, b: Any = None, mask: Any = None) -> Any:
        z = F.max_pool2d(a_prev.permute(3, 0, 1, 2), self.k, self.stride)
        return z.permute(1, 2, 3, 0)

    def backward(self, delta: Any, cache: Cache, need_g: bool = True) -> Backward:
        """g = δ^l routed to each window's arg-max, the first entry equal to z^l (C, H, W, m).

        The entries are visited in the order ``i·k + j`` (:meth:`_back`); ``unrouted`` marks
        the windows whose max is still to be found, so that on ties the first alone gets δ
        (as torch on CPU). Nothing is kept from forward but ``z^l``.
        """
        entries = dict(self._entries(cache.a_prev))
        unrouted = None  # windows whose max is still to be found, after the first entry

        def routed(idx: int) -> Any:  # δ^l where entry idx is the first max, 0 elsewhere
            nonlocal unrouted
            hit = entries[idx] == cache.z  # z^l is one of the entries, exactly
            if unrouted is None:
                unrouted = ~hit
            else:
                hit &= unrouted  # in place: the masks are this call's own
                unrouted ^= hit
            return delta * hit  # δ·1 or ±0 (a product: one pass fewer than a where)

        return Backward(self._back(routed, delta, tuple(cache.a_prev.shape)))


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
    words = ("avgpool",)
    EXAMPLES = (({"size": 2}, (2, 6, 6)), ({"size": 3, "stride": 1}, (1, 5, 6)))
    torch = TorchLayer(
        "AvgPool2d",
        args={"size": "kernel_size", "stride": "stride"},
        fixed={"padding": (0, (0, 0)), "ceil_mode": (False,), "divisor_override": (None,)},
    )
    onnx = OnnxLayer("AveragePool", attrs={"kernel_shape": ("size", 2), "strides": ("stride", 2)})

    def forward(self, a_prev: Any, mask: Any = None, training: bool = False) -> Cache:
        """(C, H, W, m) to (C, Ho, Wo, m)."""
        total = None
        for _, entry in self._entries(a_prev):
            total = entry if total is None else total + entry
        z = total / (self.k * self.k)
        return Cache(a_prev, z, z)

    def torch_z(self, a_prev: Any, F: Any, W: Any = None, b: Any = None, mask: Any = None) -> Any:
        z = F.avg_pool2d(a_prev.permute(3, 0, 1, 2), self.k, self.stride)
        return z.permute(1, 2, 3, 0)

    def backward(self, delta: Any, cache: Cache, need_g: bool = True) -> Backward:
        """g = δ^l / k² spread over each window, (C, H, W, m)."""
        share = delta / (self.k * self.k)
        return Backward(self._back(lambda idx: share, delta, tuple(cache.a_prev.shape)))
