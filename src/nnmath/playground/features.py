"""The input features a playground network may see, as TensorFlow Playground offers them.

A point of the plane is ``(x1, x2)``; the network's input layer is the features chosen, in
the order of :data:`FEATURES`, each a column computed from the two coordinates. The sines
take ``π x`` so that, on data in ``[-1, 1]``, they bend once each way instead of being
almost straight.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["FEATURES", "LABELS", "ONE_D_FEATURES", "feature_columns"]

#: every feature by name: a function of the rows ``X`` (n, 2)
FEATURES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "x1": lambda X: X[:, 0],
    "x2": lambda X: X[:, 1],
    "x1sq": lambda X: X[:, 0] ** 2,
    "x2sq": lambda X: X[:, 1] ** 2,
    "x1x2": lambda X: X[:, 0] * X[:, 1],
    "sinx1": lambda X: np.sin(np.pi * X[:, 0]),
    "sinx2": lambda X: np.sin(np.pi * X[:, 1]),
}
#: how the page writes each feature
LABELS = {
    "x1": "x₁",
    "x2": "x₂",
    "x1sq": "x₁²",
    "x2sq": "x₂²",
    "x1x2": "x₁x₂",
    "sinx1": "sin πx₁",
    "sinx2": "sin πx₂",
}
#: the features of a function of x1 alone (x2 is 0 on every row there)
ONE_D_FEATURES = ("x1", "x1sq", "sinx1")


def feature_columns(X: np.ndarray, names: list[str]) -> np.ndarray:
    """The rows ``X`` (n, 2) as the network's inputs: one column per feature in ``names``."""
    return np.stack([FEATURES[name](X) for name in names], axis=1).astype(np.float64)
