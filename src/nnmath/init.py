"""Weight initialisations, each drawn from an explicit ``numpy.random.Generator``.

``W^l`` has shape ``(n_out, n_in)``. Draws are made in float64 and then cast, so the same
seed gives the same network in float32 and float64.

======================  ============================  ==========
name                    weights                       biases
======================  ============================  ==========
``normal``              N(0, 1)        (Nielsen ch.1)  N(0, 1)
``scaled_normal``       N(0, 1/n_in)   (Nielsen ch.3)  N(0, 1)
``glorot``              U(±√(6/(n_in+n_out)))          0
``he``                  N(0, 2/n_in)                   0
======================  ============================  ==========
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["INITS", "initialize", "normal", "scaled_normal", "glorot", "he"]

Layer = tuple[np.ndarray, np.ndarray]


def normal(n_in: int, n_out: int, rng: np.random.Generator) -> Layer:
    """W ~ N(0, 1), b ~ N(0, 1): the book's first network (chapter 1)."""
    return rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)


def scaled_normal(n_in: int, n_out: int, rng: np.random.Generator) -> Layer:
    """W ~ N(0, 1/n_in), b ~ N(0, 1): the book's improved initialisation (chapter 3)."""
    return rng.standard_normal((n_out, n_in)) / np.sqrt(n_in), rng.standard_normal(n_out)


def glorot(n_in: int, n_out: int, rng: np.random.Generator) -> Layer:
    """W ~ U(−r, r) with r = √(6/(n_in + n_out)) (Glorot & Bengio 2010), b = 0."""
    r = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-r, r, size=(n_out, n_in)), np.zeros(n_out)


def he(n_in: int, n_out: int, rng: np.random.Generator) -> Layer:
    """W ~ N(0, 2/n_in) (He et al. 2015, for ReLU layers), b = 0."""
    return rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in), np.zeros(n_out)


INITS: dict[str, Callable[[int, int, np.random.Generator], Layer]] = {
    "normal": normal,
    "scaled_normal": scaled_normal,
    "glorot": glorot,
    "he": he,
}


def initialize(
    sizes: list[int], init: str, rng: np.random.Generator, dtype: type = np.float32
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Draw ``weights`` (each ``(sizes[l+1], sizes[l])``) and ``biases`` (each ``(sizes[l+1],)``).

    Raises
    ------
    ValueError
        For an unknown ``init`` name (the message lists the valid ones).
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}: choose one of {sorted(INITS)}")
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W, b = INITS[init](n_in, n_out, rng)
        weights.append(np.ascontiguousarray(W, dtype=dtype))
        biases.append(np.ascontiguousarray(b, dtype=dtype))
    return weights, biases
