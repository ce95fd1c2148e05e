"""MNIST for the experiments: found once, cached per folder and scale, cut to a protocol's size."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["mnist", "first"]


@lru_cache(maxsize=4)
def _load(path: str | None, scale: int) -> Any:
    from ..data import load_mnist

    return load_mnist(path, scale=scale)


def mnist(data_dir: str | os.PathLike[str] | None, scale: int = 255) -> Any:
    """MNIST (50,000 / 10,000 / 10,000) from ``data_dir`` or the usual search.

    ``data_dir`` may be the folder of the four IDX files or one holding ``mnist/``; pixel
    values are divided by ``scale`` (256 for the book's numbers exactly, 255 otherwise).
    """
    if data_dir is None:
        return _load(None, scale)
    folder = Path(data_dir)
    if (folder / "mnist").is_dir():
        folder = folder / "mnist"
    return _load(str(folder), scale)


def first(pair: tuple[Any, Any], n: int | None) -> tuple[Any, Any]:
    """The first ``n`` rows of ``(X, y)`` (all of them for ``None``)."""
    X, y = pair
    return (X, y) if n is None else (X[:n], y[:n])
