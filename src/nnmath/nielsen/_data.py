"""The book's lists of ``(x, y)`` column pairs turned, once, into nnmath's row matrices."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Examples", "as_list", "stack"]


@dataclass
class Examples:
    """A data set as nnmath trains on it: one example per row.

    Attributes
    ----------
    X : array (n, sizes[0])
        The inputs ``x``, C-contiguous, of the network's dtype.
    Y : array (n, sizes[-1])
        The desired outputs ``y(x)`` as rows (labels become one-hot rows).
    labels : array (n,) of int
        The digit of each example: the label, or the argmax of a one-hot ``y``.
    """

    X: np.ndarray
    Y: np.ndarray
    labels: np.ndarray


def as_list(data: Iterable[Any], name: str) -> list[Any]:
    """``data`` as a list (the book's Python 3 ports call ``list(zip(...))``)."""
    if isinstance(data, list):
        return data
    try:
        return list(data)
    except TypeError:
        raise TypeError(
            f"{name} must be a list (or iterable) of (x, y) pairs, got {type(data).__name__}"
        ) from None


def _pair(item: Any, i: int, name: str) -> tuple[Any, Any]:
    if not isinstance(item, tuple | list) or len(item) != 2:
        raise ValueError(
            f"{name}[{i}] is a {type(item).__name__}, not an (x, y) pair as the book's "
            "mnist_loader gives"
        )
    return item[0], item[1]


def _rows(items: list[Any], n: int, dtype: Any, what: str, name: str) -> np.ndarray:
    """The (n, 1) columns (or flat vectors) ``items`` as the rows of one matrix.

    ``what`` ("x" or "y") names the item in errors, with its index in ``name``.
    """
    if all(type(a) is np.ndarray and a.shape == (n, 1) for a in items):
        out = np.asarray(items, dtype=dtype).reshape(len(items), n)  # one copy, in C
    else:
        out = np.empty((len(items), n), dtype=dtype)
        for i, a in enumerate(items):
            a = np.asarray(a)
            if a.size != n or a.ndim not in (1, 2) or (a.ndim == 2 and a.shape[1] != 1):
                raise ValueError(
                    f"{what} of {name}[{i}] has shape {a.shape}; the network expects a ({n}, 1) "
                    f"column ({'sizes[0]' if what == 'x' else 'sizes[-1]'} = {n})"
                )
            out[i] = a.reshape(n)
    if not np.isfinite(out).all():
        raise ValueError(f"{name} holds NaN or infinite values of {what}; clean them first")
    return out


def _targets(ys: list[Any], n_out: int, dtype: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """One-hot rows and labels from ys that are all labels or all (n_out, 1) columns."""
    if all(np.ndim(y) == 0 for y in ys):
        labels = np.asarray(ys)
        if not np.issubdtype(labels.dtype, np.integer) or (
            labels.size and (labels.min() < 0 or labels.max() >= n_out)
        ):
            raise ValueError(
                f"the labels y of {name} must be integers 0..{n_out - 1} (the output layer "
                f"has {n_out} units)"
            )
        Y = np.zeros((len(ys), n_out), dtype=dtype)
        Y[np.arange(len(ys)), labels] = 1.0
        return Y, labels.astype(np.int64)
    Y = _rows(ys, n_out, dtype, "y", name)
    return Y, np.argmax(Y, axis=1)


def stack(data: list[Any], sizes: list[int], dtype: Any, name: str) -> Examples:
    """Rows ``X``, ``Y`` and ``labels`` from a list of ``(x, y)`` column pairs.

    Parameters
    ----------
    data : list of (x, y)
        ``x`` a (sizes[0], 1) column (a flat vector is taken too); ``y`` a (sizes[-1], 1)
        column or an integer label, the same kind for every pair.
    sizes : list of int
    dtype : the network's dtype
    name : str
        How errors call ``data`` (``"training_data"``).

    Raises
    ------
    ValueError
        An item that is not a pair, or an ``x`` or ``y`` of the wrong shape, naming its index.
    """
    if not data:
        raise ValueError(f"{name} is empty: it needs at least one (x, y) pair")
    pairs = [_pair(item, i, name) for i, item in enumerate(data)]
    X = _rows([x for x, _ in pairs], sizes[0], dtype, "x", name)
    Y, labels = _targets([y for _, y in pairs], sizes[-1], dtype, name)
    return Examples(X, Y, labels)
