"""The playground's toy data sets, two registries, and the split.

Classification (:data:`TOY_DATASETS`): each generator takes the number of points ``n``, the
noise and an explicit generator ``rng`` and returns ``X`` of shape ``(n, 2)`` (both features
roughly in ``[-1, 1]``) and the integer class of every row, ``y`` of shape ``(n,)``.
Regression (:data:`REGRESSION_DATASETS`, Nielsen's chapter 4: a network approximates any
function): the same, but ``y`` is a real target; a 1-D function has ``x2 = 0`` on every row
(:data:`ONE_D` names them), so that the rest of the playground keeps two columns.
The same seed gives the same points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["TOY_DATASETS", "REGRESSION_DATASETS", "ONE_D", "ToyData", "make_toy", "split"]

Generator = Callable[[int, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _labels(n: int, k: int) -> np.ndarray:
    """``n`` labels, as equal as can be over ``k`` classes: 0, 0, …, 1, 1, …"""
    return np.repeat(np.arange(k), -(-n // k))[:n]


def circle(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class 0 inside the radius 0.5, class 1 on a ring from 0.7 to 1."""
    y = _labels(n, 2)
    r = np.where(y == 0, 0.5 * np.sqrt(rng.random(n)), rng.uniform(0.7, 1.0, n))
    angle = rng.uniform(0.0, 2 * np.pi, n)
    X = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
    return X + noise * rng.standard_normal((n, 2)), y


def xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points of the square; the class is whether the two signs differ."""
    X = rng.uniform(-1.0, 1.0, (n, 2))
    X += np.sign(X) * 0.05  # a small gap along the axes
    y = (X[:, 0] * X[:, 1] < 0).astype(np.int64)
    return X + noise * rng.standard_normal((n, 2)), y


def gaussians(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian clouds centred at (±0.5, ±0.5), spread 0.15 + noise."""
    y = _labels(n, 2)
    centres = np.array([[-0.5, -0.5], [0.5, 0.5]])
    return centres[y] + (0.15 + noise) * rng.standard_normal((n, 2)), y


def spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved arms of a spiral (one and a half turns each)."""
    y = _labels(n, 2)
    t = np.sqrt(rng.random(n))  # radius in (0, 1), denser outside
    angle = 3 * np.pi * t + np.pi * y
    X = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    return X + noise * rng.standard_normal((n, 2)), y


def moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles."""
    y = _labels(n, 2)
    angle = rng.uniform(0.0, np.pi, n)
    upper = np.stack([np.cos(angle) - 0.5, np.sin(angle) - 0.25], axis=1)
    lower = np.stack([0.5 - np.cos(angle), 0.25 - np.sin(angle)], axis=1)
    X = np.where((y == 0)[:, None], upper, lower) * 0.8
    return X + noise * rng.standard_normal((n, 2)), y


#: the playground's data sets by name; the page's menu and the checks read this
TOY_DATASETS: dict[str, Generator] = {
    "circle": circle,
    "xor": xor,
    "gaussians": gaussians,
    "spiral": spiral,
    "moons": moons,
}


def _line(n: int, noise: float, rng: np.random.Generator, f: Callable) -> tuple:
    """``n`` points of ``x1`` in [-1, 1] (``x2 = 0``) and ``f(x1)`` plus noise."""
    x = rng.uniform(-1.0, 1.0, n)
    X = np.stack([x, np.zeros(n)], axis=1)
    return X, f(x) + noise * rng.standard_normal(n)


def sine(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """y = sin(πx1): one bump up and one down (Nielsen, chapter 4)."""
    return _line(n, noise, rng, lambda x: np.sin(np.pi * x))


def absolute(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """y = |x1|, a kink in the middle: two straight pieces."""
    return _line(n, noise, rng, np.abs)


def surface(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """y = sin(πx1) cos(πx2 / 2) over the square: a hill and a valley."""
    X = rng.uniform(-1.0, 1.0, (n, 2))
    y = np.sin(np.pi * X[:, 0]) * np.cos(np.pi * X[:, 1] / 2)
    return X, y + noise * rng.standard_normal(n)


#: data sets with a real target (quadratic cost, one output unit), by name
REGRESSION_DATASETS: dict[str, Generator] = {
    "sine": sine,
    "abs": absolute,
    "surface": surface,
}
#: the regression data sets of one input, x1 (x2 is 0)
ONE_D = frozenset({"sine", "abs"})


@dataclass
class ToyData:
    """A data set split into training and test rows; ``classes`` names the labels."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    #: "classes" (integer labels) or "regression" (real targets)
    kind: str = "classes"
    #: 1 for a function of x1 alone (x2 = 0 on every row), else 2
    dims: int = 2

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_outputs(self) -> int:
        """The units of the output layer: one per class, or one for a real target."""
        return 1 if self.kind == "regression" else self.n_classes

    def bounds(self) -> tuple[float, float, float, float]:
        """``(x0, x1, y0, y1)``: the box of every point, with a margin of a tenth."""
        X = np.concatenate([self.X_train, self.X_test])
        if self.dims == 1:  # the plane of a curve: x1 across, the target up
            X = np.stack([X[:, 0], np.concatenate([self.y_train, self.y_test])], axis=1)
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = 0.1 * np.maximum(hi - lo, 1e-6)
        lo, hi = lo - pad, hi + pad
        return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def split(
    X: np.ndarray, y: np.ndarray, train_fraction: float, rng: np.random.Generator, classes: list
) -> ToyData:
    """Shuffle the rows with ``rng`` and keep ``train_fraction`` of them for training."""
    perm = rng.permutation(len(X))
    n_train = min(max(int(round(train_fraction * len(X))), 1), len(X) - 1)
    tr, te = perm[:n_train], perm[n_train:]
    X = X.astype(np.float64)
    return ToyData(X[tr], y[tr], X[te], y[te], [str(c) for c in classes])


def make_toy(name: str, n: int, noise: float, train_fraction: float, seed: int) -> ToyData:
    """The data set ``name`` of :data:`TOY_DATASETS` or :data:`REGRESSION_DATASETS`, ``n``
    points, split, from ``seed``."""
    rng = np.random.default_rng(seed)
    if name in REGRESSION_DATASETS:
        X, y = REGRESSION_DATASETS[name](n, noise, rng)
        data = split(X, y, train_fraction, rng, classes=[])
        data.kind, data.dims = "regression", 1 if name in ONE_D else 2
        return data
    X, y = TOY_DATASETS[name](n, noise, rng)
    return split(X, y, train_fraction, rng, classes=sorted(set(y.tolist())))
