"""MNIST as the book's ``mnist_loader`` hands it over: lists of ``(x, y)`` column vectors.

Nielsen's chapter 1 loads ``mnist.pkl.gz`` (the 60,000 MNIST training images split into the
first 50,000 for training and the last 10,000 for validation, plus the 10,000 test images)
and reshapes every image into a ``(784, 1)`` column. Here the same split comes from nnmath's
own reader of the original IDX files (:func:`nnmath.data.load_mnist`), with ``pixel / 256``,
which gives the pickle's values exactly.

The book's Python 3 ports wrap each ``zip(...)`` in ``list(...)``; here the three data sets
are lists already, and every function of :mod:`nnmath.nielsen` takes lists or any iterable
of ``(x, y)`` pairs.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["load_data", "load_data_wrapper", "vectorized_result"]

Pair = tuple[np.ndarray, Any]


def load_data(
    path: str | os.PathLike[str] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The book's ``(training_data, validation_data, test_data)`` as tuples of arrays.

    Parameters
    ----------
    path : path-like, optional
        Folder with the four MNIST IDX files; default: nnmath's search
        (``$NNMATH_DATA/mnist``, then the user cache; see :mod:`nnmath.data.mnist`).

    Returns
    -------
    training_data, validation_data, test_data : tuple of (X, y)
        ``X`` float32 of shape (50000, 784), (10000, 784), (10000, 784), pixel / 256; ``y``
        the int64 digit of each row.

    Raises
    ------
    nnmath.data.DataError
        When the files are not found (the message says where it looked and how to get them).
    """
    from ..data import load_mnist

    data = load_mnist(path, scale=256)  # /256: the values of the book's mnist.pkl.gz
    return data.train, data.validation, data.test


def vectorized_result(j: int) -> np.ndarray:
    """The desired output for digit ``j``: a (10, 1) column with 1.0 in row ``j``, else 0."""
    e = np.zeros((10, 1))
    e[int(j)] = 1.0
    return e


def load_data_wrapper(
    path: str | os.PathLike[str] | None = None,
) -> tuple[list[Pair], list[Pair], list[Pair]]:
    """MNIST in the form of the book's ``network.py``: lists of ``(x, y)`` pairs.

    Parameters
    ----------
    path : path-like, optional
        As for :func:`load_data`.

    Returns
    -------
    training_data : list of 50,000 (x, y)
        ``x`` a (784, 1) column of pixels, ``y`` the (10, 1) one-hot column of the digit
        (:func:`vectorized_result`).
    validation_data, test_data : list of 10,000 (x, y)
        ``x`` a (784, 1) column, ``y`` the digit as an integer.
    """
    training, validation, test = load_data(path)

    def columns(X: np.ndarray) -> list[np.ndarray]:
        return list(X.reshape(len(X), -1, 1))  # views into X, one (784, 1) column each

    one_hot = np.eye(10)[training[1]][:, :, None]  # (50000, 10, 1)
    training_data = list(zip(columns(training[0]), list(one_hot)))
    validation_data = list(zip(columns(validation[0]), validation[1].tolist()))
    test_data = list(zip(columns(test[0]), test[1].tolist()))
    return training_data, validation_data, test_data
