"""The data set container: train / validation / test splits of ``(X, y)``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "Split"]

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

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example as a network of layers takes it (``Input(data.input_shape)``): one
        channel ``(1, H, W)`` for images, ``(n_features,)`` otherwise."""
        shape = self.image_shape
        if shape is not None and len(shape) == 2 and shape[0] * shape[1] == self.n_features:
            return (1, *shape)
        return (self.n_features,)

    def __repr__(self) -> str:
        sizes = ", ".join(
            f"{k}={len(getattr(self, k)[1])}" for k in ("train", "validation", "test")
        )
        return f"Dataset({self.name!r}, {sizes}, n_features={self.n_features})"
