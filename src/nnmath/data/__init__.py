"""Data sets as ``(X, y)`` splits with examples as rows, X float32 in [0, 1], y integer labels."""

from __future__ import annotations

from .datasets import LOADERS, Dataset, load_dataset, load_digits

__all__ = ["Dataset", "LOADERS", "load_dataset", "load_digits"]
