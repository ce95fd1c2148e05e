"""Inverted dropout of hidden units (Nielsen, chapter 3), with masks any path can recompute.

During training each hidden unit is dropped with probability ``p`` and the kept ones are
scaled by ``1/(1 − p)``, so that ``E[a ⊙ mask] = a`` and nothing changes at test time:
``feedforward``, ``predict`` and ``cost`` never drop. A mask is ``mask = keep / (1 − p)``
and a hidden layer passes ``a^l ⊙ mask^l`` on, so backpropagation gains one factor,
``δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ mask^l ⊙ σ'(z^l)``.

The masks come from a counter-based generator rather than a stream: unit ``u`` of hidden
layer ``l`` of the example at position ``j`` of the epoch's shuffle is kept when its 32-bit
draw is at least ``⌊p · 2^32⌋``, the draw being one half of :func:`draw` ``(key, word)`` with
``word = j · words + offset_l + ⌊u/2⌋``. ``fit`` draws one ``key`` per epoch from its
generator, so a seed gives the same masks on the reference loop, in the compiled epoch
(``nnm_draw`` in ``_ckernels.c``) and on any number of threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DropoutLayout", "check_dropout", "draw", "layout", "masks"]

_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # splitmix64's increment, ⌊2^64 / φ⌋ (odd)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_LOW32 = np.uint64(0xFFFFFFFF)


def check_dropout(dropout: float | Sequence[float] | None, n_hidden: int) -> tuple[float, ...]:
    """The drop probability of each hidden layer, from one number or one per hidden layer.

    Raises
    ------
    ValueError
        For a probability outside [0, 1) or not a number, or a list whose length is not
        ``n_hidden``.
    """
    if dropout is None:
        dropout = 0.0
    if isinstance(dropout, int | float | np.floating | np.integer):
        if dropout and not n_hidden:
            raise ValueError(
                f"dropout={dropout} needs a hidden layer to drop units of; this network has none"
            )
        probs = (float(dropout),) * n_hidden
    else:
        try:
            probs = tuple(float(p) for p in dropout)
        except (TypeError, ValueError):
            raise ValueError(
                f"dropout must be a probability or one per hidden layer, got {dropout!r:.80}"
            ) from None
        if len(probs) != n_hidden:
            raise ValueError(
                f"dropout has {len(probs)} probabilities; the network has {n_hidden} hidden "
                "layers: give one number for all, or one per hidden layer"
            )
    for p in probs:
        if not 0.0 <= p < 1.0:
            raise ValueError(
                f"dropout probability {p} is not in [0, 1): it is the chance of dropping a "
                "hidden unit (0.5 is Nielsen's choice)"
            )
    if probs and not any(probs):
        return (0.0,) * n_hidden
    return probs


@dataclass(frozen=True)
class DropoutLayout:
    """Where each layer's draws sit in an example's, per layer of weights (output: none).

    Attributes
    ----------
    thresholds : tuple of int
        ``⌊p · 2^32⌋``: a unit is kept when its 32-bit draw is at least this.
    scales : tuple of float
        ``1/(1 − p)``, the kept units' factor.
    offsets : tuple of int
        The first 64-bit draw of the layer's units (two units a draw).
    words : int
        64-bit draws per example.
    active : tuple of bool
        Whether the layer drops units at all (``p > 0``).
    """

    thresholds: tuple[int, ...]
    scales: tuple[float, ...]
    offsets: tuple[int, ...]
    words: int
    active: tuple[bool, ...]


def layout(sizes: Sequence[int], dropout: Sequence[float]) -> DropoutLayout:
    """The :class:`DropoutLayout` of a network with ``sizes`` and hidden ``dropout``."""
    probs = [*dropout, 0.0]  # the output layer never drops
    thresholds, scales, offsets, words = [], [], [], 0
    for n_out, p in zip(sizes[1:], probs):
        thresholds.append(int(p * 2.0**32))  # exact: p · 2^32 is a double, floored
        scales.append(1.0 / (1.0 - p))
        offsets.append(words)
        words += -(-n_out // 2) if p > 0 else 0
    return DropoutLayout(
        tuple(thresholds), tuple(scales), tuple(offsets), words, tuple(p > 0 for p in probs)
    )


def draw(key: int, word: np.ndarray) -> np.ndarray:
    """64 uniform bits for each counter in ``word`` (uint64): splitmix64's output function of
    ``key + (word + 1) γ``, arithmetic modulo 2^64."""
    z = np.uint64(key) + (word + np.uint64(1)) * _GAMMA
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def masks(
    sizes: Sequence[int], dropout: Sequence[float], key: int, start: int, m: int, dtype: Any
) -> list[np.ndarray | None]:
    """The mask of every layer of weights' output, ``(sizes[i+1], m)``, for the ``m`` examples
    at positions ``start, …, start + m − 1`` of the epoch: ``1/(1 − p)`` where a unit is kept,
    0 where it is dropped, ``None`` for a layer without dropout (always the output)."""
    lay = layout(sizes, dropout)
    j = np.arange(start, start + m, dtype=np.uint64)[None, :]
    out: list[np.ndarray | None] = []
    for i, n_out in enumerate(sizes[1:]):
        if not lay.active[i]:
            out.append(None)
            continue
        u = np.arange(n_out, dtype=np.uint64)[:, None]
        word = j * np.uint64(lay.words) + np.uint64(lay.offsets[i]) + u // np.uint64(2)
        h = draw(key, word)
        bits = np.where(u % np.uint64(2) == 0, h & _LOW32, h >> np.uint64(32))
        keep = bits >= np.uint64(lay.thresholds[i])
        out.append(keep.astype(dtype) * np.asarray(lay.scales[i], dtype))
    return out
