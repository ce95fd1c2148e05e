"""One refusal for what does not take a network of layers (:mod:`nnmath.layers`) yet."""

from __future__ import annotations

from typing import Any

__all__ = ["refuse_layers"]


def refuse_layers(net: Any, what: str, instead: str = "") -> None:
    """Raise NotImplementedError when ``net`` is a network of layers, which ``what`` (say
    ``"nnmath.diagnostics.trace"``) does not support yet; ``instead`` says what to do.

    Raises
    ------
    NotImplementedError
        ``"nnmath.diagnostics.trace does not support a network of layers (Conv2D, ...) yet"``.
    """
    if getattr(net, "layered", False):
        kinds = sorted({type(layer).__name__ for layer in net.layers})
        raise NotImplementedError(
            f"{what} does not support a network of layers ({', '.join(kinds)}) yet"
            + (f": {instead}" if instead else "; it takes a dense Network(sizes)")
        )
