"""The data set container and the embedded default, scikit-learn's 8×8 ``digits``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "LOADERS", "load_dataset", "load_digits"]

Split = tuple[np.ndarray, np.ndarray]


@dataclass
class Dataset:
    """Train / validation / test splits, each ``(X, y)``: X (n, n_features) float32, y (n,) int64.

    Attributes
    ----------
    name : str
    train, validation, test : tuple of arrays
    n_classes : int
    image_shape : tuple of int or None
        Shape of one image (``(28, 28)`` for MNIST), for plots.
    """

    name: str
    train: Split
    validation: Split
    test: Split
    n_classes: int
    image_shape: tuple[int, ...] | None = None

    @property
    def n_features(self) -> int:
        return int(self.train[0].shape[1])

    def __repr__(self) -> str:
        sizes = ", ".join(
            f"{k}={len(getattr(self, k)[1])}" for k in ("train", "validation", "test")
        )
        return f"Dataset({self.name!r}, {sizes}, n_features={self.n_features})"


def load_digits(n_test: int = 360, n_validation: int = 180, seed: int = 0) -> Dataset:
    """scikit-learn's 1,797 handwritten digits (8×8 pixels, values 0–16), scaled to [0, 1].

    Shipped with scikit-learn, so it needs no download: nnmath's default data set. The rows
    are shuffled once with ``seed`` and split into test (``n_test``), validation
    (``n_validation``) and train (the rest, 1,257 by default).
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    X = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(y))
    X, y = X[perm], y[perm]
    n_train = len(y) - n_test - n_validation
    if n_train <= 0:
        raise ValueError(f"n_test + n_validation must be below {len(y)}")
    v = n_train + n_validation
    return Dataset(
        name="digits",
        train=(X[:n_train], y[:n_train]),
        validation=(X[n_train:v], y[n_train:v]),
        test=(X[v:], y[v:]),
        n_classes=10,
        image_shape=(8, 8),
    )


LOADERS = {"digits": load_digits}


def load_dataset(name: str) -> Dataset:
    """Load a data set by name (``digits``, ...).

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones).
    """
    key = name.lower().replace("_", "-")
    if key not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {sorted(LOADERS)}")
    return LOADERS[key]()
