"""Layers that only give the columns a shape: the input, and the flattening of an image."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Backward, Cache, Layer, OnnxLayer, Shape, TorchLayer, size_of

__all__ = ["Flatten", "Input"]


class Input(Layer):
    """The input ``a^1 = x``: one example's shape, ``n`` (a vector) or ``(C, H, W)`` (an image).

    The public API takes rows ``X`` of shape ``(m, C·H·W)`` or ``(m, C, H, W)``; inside, the
    columns ``(C·H·W, m)`` are reshaped (a view) to ``(C, H, W, m)``, channel, row, column in
    C order, as torch's ``flatten`` orders them.
    """

    name = "input"
    EXAMPLES = (({"shape": (2, 3, 4)}, (24,)), ({"shape": 7}, (7,)))

    def __init__(self, shape: int | tuple[int, ...]) -> None:
        super().__init__()
        dims = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
        if len(dims) not in (1, 3) or not all(
            isinstance(d, int | np.integer) and not isinstance(d, bool) and d > 0 for d in dims
        ):
            raise ValueError(f"Input(shape): a positive int or (C, H, W), got {shape!r}")
        self.shape: Shape = tuple(int(d) for d in dims)
        self.input_shape, self.output_shape = (size_of(self.shape),), self.shape

    def config(self) -> dict[str, Any]:
        return {"shape": list(self.shape)}

    def forward(self, a_prev: Any, mask: Any = None, training: bool = False) -> Cache:
        """x as columns ``(size, m)`` to ``shape + (m,)`` (a view)."""
        a = a_prev.reshape(*self.shape, a_prev.shape[-1])
        return Cache(a_prev, a, a)

    def build(self, input_shape: Shape, init: str, rng: np.random.Generator, dtype: Any) -> Shape:
        self.input_shape = (size_of(self.shape),)  # the columns it reshapes
        return self.shape

    def backward(self, delta: Any, cache: Cache, need_g: bool = True) -> Backward:
        return Backward(delta.reshape(cache.a_prev.shape))

    def torch_z(self, a_prev: Any, F: Any, W: Any = None, b: Any = None, mask: Any = None) -> Any:
        return a_prev.reshape(*self.shape, a_prev.shape[-1])

    def __repr__(self) -> str:
        return f"Input({self.shape[0] if len(self.shape) == 1 else self.shape})"


class Flatten(Layer):
    """``(C, H, W, m)`` to ``(C·H·W, m)``, channel, row, column in C order (torch's
    ``flatten``); backward reshapes ``δ`` back. Inserted before a Dense after an image."""

    name = "flatten"
    EXAMPLES = (({}, (2, 3, 4)),)
    torch = TorchLayer("Flatten", fixed={"start_dim": (1,), "end_dim": (-1,)})
    onnx = OnnxLayer("Flatten", fixed={"axis": 1})

    def build(self, input_shape: Shape, init: str, rng: np.random.Generator, dtype: Any) -> Shape:
        self.input_shape, self.output_shape = tuple(input_shape), (size_of(input_shape),)
        return self.output_shape

    def forward(self, a_prev: Any, mask: Any = None, training: bool = False) -> Cache:
        """a^l = a^{l−1} reshaped to ``(C·H·W, m)`` (a view of a C-ordered array)."""
        a = a_prev.reshape(self.output_shape[0], a_prev.shape[-1])
        return Cache(a_prev, a, a)

    def backward(self, delta: Any, cache: Cache, need_g: bool = True) -> Backward:
        """g = δ^l reshaped to ``(C, H, W, m)``."""
        return Backward(delta.reshape(cache.a_prev.shape))

    def torch_z(self, a_prev: Any, F: Any, W: Any = None, b: Any = None, mask: Any = None) -> Any:
        return a_prev.permute(3, 0, 1, 2).flatten(1).T  # torch's flatten of (m, C, H, W)
