"""Inverted dropout as a layer (Nielsen, chapter 3): it drops what passes through it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._base import Backward, Cache, Layer, OnnxLayer, TorchLayer

__all__ = ["Dropout"]


@dataclass
class DropoutCache(Cache):
    """:class:`Cache` plus the mask (None: nothing dropped, outside ``fit``)."""

    mask: Any = None


class Dropout(Layer):
    """``a^l = a^{l−1} ⊙ mask``, ``mask = keep / (1 − p)``, during ``fit`` only.

    Each unit of each example is dropped with probability ``p``; the kept ones are scaled by
    ``1/(1 − p)`` so that ``E[a^l] = a^{l−1}`` and ``feedforward``, ``predict`` and ``cost``
    pass everything through. Backward: ``g = δ^l ⊙ mask`` (a dropped unit passed nothing on).
    The network draws the masks (:mod:`nnmath.dropout`'s counter-based generator, from fit's
    key per epoch), so a seed gives the same masks whatever the mini-batch size.

    Parameters
    ----------
    p : float in [0, 1)
    """

    name = "dropout"
    EXAMPLES = (({"p": 0.5}, (3, 4, 4)), ({"p": 0.2}, (6,)))
    torch = TorchLayer("Dropout", args={"p": "p"})
    onnx = OnnxLayer("Dropout", constants={"ratio": "p"})  # an identity when not training

    def __init__(self, p: float) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout(p): p is a probability in [0, 1), got {p!r}")
        self.p = float(p)

    def config(self) -> dict[str, Any]:
        return {"p": self.p}

    def forward(self, a_prev: Any, mask: Any = None, training: bool = False) -> DropoutCache:
        """a^l = a^{l−1} ⊙ mask (``mask`` shaped like ``a_prev``), or a^{l−1} when None."""
        a = a_prev if mask is None else a_prev * mask
        return DropoutCache(a_prev, a, a, mask)

    def backward(self, delta: Any, cache: Cache, need_g: bool = True) -> Backward:
        """g = δ^l ⊙ mask."""
        mask = getattr(cache, "mask", None)
        return Backward(delta if mask is None else delta * mask)

    def torch_z(self, a_prev: Any, F: Any, W: Any = None, b: Any = None, mask: Any = None) -> Any:
        return a_prev if mask is None else a_prev * mask

    def __repr__(self) -> str:
        return f"Dropout({self.p})"
