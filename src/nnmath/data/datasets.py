"""The embedded default, scikit-learn's 8×8 ``digits``, and loading any data set by name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .container import Dataset
from .mnist import load_fashion_mnist, load_idx_folder, load_mnist
from .names import dataset_key

__all__ = ["Dataset", "LOADERS", "load_dataset", "load_digits"]


def load_digits(n_test: int = 360, n_validation: int = 180, seed: int = 0) -> Dataset:
    """scikit-learn's 1,797 handwritten digits (8×8 pixels, values 0–16), scaled to [0, 1].

    Shipped with scikit-learn, so it needs no download: nnmath's default data set. The rows
    are shuffled once with ``seed`` and split into test (``n_test``), validation
    (``n_validation``) and train (the rest, 1,257 by default).
    """
    data, target = _digits_arrays()
    X = (data / 16.0).astype(np.float32)
    y = target.astype(np.int64)
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


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 rows of 64 pixels and their labels, as ``sklearn.datasets.load_digits``
    gives them, read from the CSV file that scikit-learn ships (``datasets/data/
    digits.csv.gz``: 64 pixel columns, then the label) without importing scikit-learn, whose
    import takes seconds; through scikit-learn itself should that file not be where
    expected."""
    import gzip
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # finds the package; imports nothing
    roots = (spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt") as f:
                table = np.loadtxt(f, delimiter=",")
            if table.shape == (1797, 65):
                return table[:, :-1], table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    return bunch.data, bunch.target


#: The registry of data sets: name -> loader returning a :class:`Dataset`. The command line's
#: ``--dataset`` help, the sweeps and :func:`load_dataset` read their names from here.
LOADERS: dict[str, Callable[..., Dataset]] = {
    "digits": load_digits,
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
}


#: ``(input_shape, n_classes)`` of each data set of :data:`LOADERS`, known before it is
#: loaded (a sweep checks its layer descriptions up front): ``Dataset.input_shape`` once loaded
SHAPES: dict[str, tuple[tuple[int, ...], int]] = {
    "digits": ((1, 8, 8), 10),
    "mnist": ((1, 28, 28), 10),
    "fashion-mnist": ((1, 28, 28), 10),
}


def load_dataset(name: str, **kwargs: Any) -> Dataset:
    """Load a data set by name (``digits``, ``mnist``, ``fashion-mnist``) or from a folder.

    Parameters
    ----------
    name : str
        A key of :data:`LOADERS`, or a folder holding the four MNIST-style IDX files
        (``train-images-idx3-ubyte[.gz]`` and so on), loaded with
        :func:`nnmath.data.mnist.load_idx_folder`.
    **kwargs
        Passed to the loader (``path=``, ``download=``, ``scale=`` for MNIST).

    Raises
    ------
    ValueError
        For an unknown name that is not a folder (the message lists the valid ones).
    """
    key = dataset_key(name)
    if key in LOADERS:
        return LOADERS[key](**kwargs)
    if Path(name).expanduser().is_dir():
        return load_idx_folder(Path(name).expanduser(), **kwargs)
    raise ValueError(
        f"unknown dataset {name!r}: choose one of {sorted(LOADERS)} or give a folder with the "
        "four IDX files"
    )
