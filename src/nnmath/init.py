"""Weight initialisations, each drawn from an explicit ``numpy.random.Generator``.

``W^l`` has shape ``(n_out, n_in)``. Draws are made in float64 and then cast, so the same
seed gives the same network in float32 and float64.

======================  ==============================  ==========
name                    weights                         biases
======================  ==============================  ==========
``normal``              N(0, 1)        (Nielsen ch.1)   N(0, 1)
``scaled_normal``       N(0, 1/n_in)   (Nielsen ch.3)   N(0, 1)
``glorot``              U(±√(6/(n_in+n_out)))           0
``he``                  N(0, 2/n_in)                    0
``standard``            U(±1/√n_in)   (Glorot 2010)     0
``glorot_normal``       N(0, 2/(n_in+n_out))            0
``lecun``               N(0, 1/n_in)                    0
``he_uniform``          U(±√(6/n_in))                   0
``orthogonal``          gain · Q, Q orthonormal         0
======================  ==============================  ==========

Each uniform U(−r, r) has variance r²/3, so ``standard`` has Var[W] = 1/(3 n_in), ``glorot``
2/(n_in + n_out) (the normalized initialisation of Glorot & Bengio 2010, their eq. 16, chosen
so that n_in Var[W] ≈ 1 forward and n_out Var[W] ≈ 1 backward), ``he_uniform`` 2/n_in (as
``he``: He et al. 2015's ½ n_l Var[w^l] = 1 for ReLU layers). ``orthogonal`` (Saxe et al.
2014) has orthonormal rows (or columns, when n_out > n_in) scaled by ``gain``, so each entry
has variance gain²/max(n_in, n_out).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .backend import aligned_copy

__all__ = [
    "INITS",
    "initialize",
    "initialize_layer",
    "normal",
    "scaled_normal",
    "glorot",
    "he",
    "standard",
    "glorot_normal",
    "lecun",
    "he_uniform",
    "orthogonal",
]

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


def standard(n_in: int, n_out: int, rng: np.random.Generator) -> Layer:
    """W ~ U(−1/√n_in, 1/√n_in), b = 0: Glorot & Bengio 2010's "standard" initialisation (their
    eq. 1), Var[W] = 1/(3 n_in), so n_in Var[W] = 1/3 and the variances shrink layer by layer."""
    r = 1.0 / np.sqrt(n_in)
    return rng.uniform(-r, r, size=(n_out, n_in)), np.zeros(n_out)


def glorot_normal(n_in: int, n_out: int, rng: np.random.Generator) -> Layer:
    """W ~ N(0, 2/(n_in + n_out)), b = 0: Glorot & Bengio's variance with a normal draw."""
    return rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / (n_in + n_out)), np.zeros(n_out)


def lecun(n_in: int, n_out: int, rng: np.random.Generator) -> Layer:
    """W ~ N(0, 1/n_in), b = 0 (LeCun et al. 1998): ``scaled_normal`` without the N(0, 1) biases."""
    return rng.standard_normal((n_out, n_in)) / np.sqrt(n_in), np.zeros(n_out)


def he_uniform(n_in: int, n_out: int, rng: np.random.Generator) -> Layer:
    """W ~ U(−r, r) with r = √(6/n_in), b = 0: He et al. 2015's Var[W] = 2/n_in, uniform."""
    r = np.sqrt(6.0 / n_in)
    return rng.uniform(-r, r, size=(n_out, n_in)), np.zeros(n_out)


def orthogonal(n_in: int, n_out: int, rng: np.random.Generator, gain: float = 1.0) -> Layer:
    """W = gain · Q with Q orthonormal (Saxe et al. 2014), b = 0.

    Q comes from the QR decomposition of an ``(max, min)`` matrix of N(0, 1) draws, with the
    signs of R's diagonal moved into Q so that Q is uniformly (Haar) distributed. Its rows are
    orthonormal when ``n_out ≤ n_in`` (W Wᵀ = gain² I), its columns otherwise (Wᵀ W = gain² I).

    Parameters
    ----------
    gain : float
        Scale of Q: 1 for linear and tanh layers, √2 for ReLU layers.
    """
    A = rng.standard_normal((max(n_in, n_out), min(n_in, n_out)))
    Q, R = np.linalg.qr(A)
    Q = Q * np.where(np.diag(R) < 0, -1.0, 1.0)  # Haar, not biased by QR's sign convention
    W = Q.T if n_out <= n_in else Q  # (n_out, n_in)
    return gain * W, np.zeros(n_out)


INITS: dict[str, Callable[[int, int, np.random.Generator], Layer]] = {
    "normal": normal,
    "scaled_normal": scaled_normal,
    "glorot": glorot,
    "he": he,
    "standard": standard,
    "glorot_normal": glorot_normal,
    "lecun": lecun,
    "he_uniform": he_uniform,
    "orthogonal": orthogonal,
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
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W, b = initialize_layer(n_in, n_out, init, rng, dtype)
        weights.append(W)
        biases.append(b)
    return weights, biases


def initialize_layer(
    n_in: int,
    n_out: int,
    init: str,
    rng: np.random.Generator,
    dtype: type = np.float32,
    shape: tuple[int, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one layer's ``W`` ``(n_out, n_in)`` and ``b`` ``(n_out,)`` by the name ``init``.

    Parameters
    ----------
    n_in, n_out : int
        Fan-in and fan-out: a convolution's ``W`` of shape ``(out, in, k, k)`` is drawn as the
        matrix ``(out, in·k·k)``, so its fan-in is ``in·k·k`` (what :mod:`torch.nn.init` calls
        ``fan_in``) and its fan-out ``out``.
    shape : tuple of int, optional
        The shape ``W`` is given after the draw (a reshape of the ``(n_out, n_in)`` matrix).

    Raises
    ------
    ValueError
        For an unknown ``init`` name (the message lists the valid ones).
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}: choose one of {sorted(INITS)}")
    W, b = INITS[init](n_in, n_out, rng)
    if shape is not None:
        W = W.reshape(shape)
    return aligned_copy(W, dtype), aligned_copy(b, dtype)  # aligned for the compiled epoch
