"""Diagnostics: per-layer gradient norms ("speed of learning") and vanishing-gradient measures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .backend import to_numpy

__all__ = ["GradientNorms", "gradient_norms"]


@dataclass
class GradientNorms:
    """Per layer of weights, first hidden layer first, output layer last.

    Attributes
    ----------
    nabla_b : list of float
        ‖∂C/∂b^l‖, the norm of the bias gradient averaged over the examples: Nielsen's
        "speed of learning" of layer l (chapter 5).
    nabla_w : list of float
        ‖∂C/∂w^l‖ (Frobenius norm).
    """

    nabla_b: list[float]
    nabla_w: list[float]


def gradient_norms(net: Any, X: Any, Y: Any) -> GradientNorms:
    """‖∂C/∂b^l‖ and ‖∂C/∂w^l‖ for every layer, from one backward pass over ``X``.

    Parameters
    ----------
    net : Network
    X : array-like, shape (n, sizes[0])
    Y : array-like, shape (n, sizes[-1]) or labels (n,)

    Returns
    -------
    GradientNorms
    """
    g = net.backprop(X, Y)
    return GradientNorms(
        nabla_b=[float(np.linalg.norm(to_numpy(nb))) for nb in g.nabla_b],
        nabla_w=[float(np.linalg.norm(to_numpy(nw))) for nw in g.nabla_w],
    )
