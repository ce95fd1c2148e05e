"""The expanded training set on disk: written once by ``nnmath data expand``, read by the loaders.

:func:`nnmath.data.expand` of a data set's training split (MNIST: the first 50,000 images)
is stored beside the original files as two IDX files of uint8 pixels and labels,
``train-images-expanded<k>-idx3-ubyte`` and ``train-labels-expanded<k>-idx1-ubyte``
(``k`` the ``shifts``, 1 for the book's 250,000 images; gzipped or not), so that it is
computed once and loads as fast as the originals. ``load_mnist(expanded=True)`` puts it in
place of the training split and checks that it was made from the images it replaces.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from .container import Dataset
from .idx import DataError, check_memory, read_idx, read_idx_header, write_idx
from .shifts import expand, expanded_size

__all__ = ["expanded_names", "find_expanded", "join_expanded", "write_expanded"]


def expanded_names(shifts: int = 1) -> dict[str, str]:
    """Role -> file name (without ``.gz``) of the training set expanded by ``shifts``."""
    return {
        "train_images": f"train-images-expanded{shifts}-idx3-ubyte",
        "train_labels": f"train-labels-expanded{shifts}-idx1-ubyte",
    }


def find_expanded(dirs: list[Path], shifts: int = 1) -> dict[str, Path] | None:
    """The expanded files of the first folder of ``dirs`` holding both, or ``None``."""
    for folder in dirs:
        found = {}
        for role, stem in expanded_names(shifts).items():
            for candidate in (folder / f"{stem}.gz", folder / stem):
                if candidate.is_file():
                    found[role] = candidate
                    break
        if len(found) == 2:
            return found
    return None


def write_expanded(
    files: dict[str, Path], n_train: int, out: Path, shifts: int = 1, compress: bool = False
) -> dict[str, Path]:
    """Expand the first ``n_train`` training images of ``files`` and write them to ``out``.

    Parameters
    ----------
    files : dict
        The original IDX files by role (:func:`nnmath.data.locate`).
    n_train : int
        The size of the loader's training split (the rest is the validation split, which
        is not expanded): 50,000 for MNIST.
    out : Path
        The folder to write to (created when missing).
    shifts : int
        As in :func:`nnmath.data.expand`.
    compress : bool
        gzip the two files (smaller, slower to write and read).

    Returns
    -------
    dict
        Role -> the file written, each atomically.
    """
    images, labels = read_idx(files["train_images"]), read_idx(files["train_labels"])
    if images.ndim != 3 or labels.ndim != 1 or len(labels) < n_train or len(images) < n_train:
        raise DataError(
            f"{files['train_images']}: expected {n_train} or more images (n, rows, cols) and "
            f"labels, got shapes {images.shape} and {labels.shape}"
        )
    X, y = expand(images[:n_train], labels[:n_train], shifts)
    out.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if compress else ""
    written = {role: out / f"{stem}{ext}" for role, stem in expanded_names(shifts).items()}
    write_idx(written["train_images"], X)
    write_idx(written["train_labels"], y)
    return written


def join_expanded(
    data: Dataset, dirs: list[Path], shifts: int, scale: int, command: str
) -> Dataset:
    """``data`` with its training split replaced by the expanded one found in ``dirs``.

    ``command`` is the ``nnmath data expand`` command line that writes the files where they
    are looked for (without ``--shifts``), for the messages.

    Raises
    ------
    DataError
        No folder has the files (the message says how to make them), or they were not made
        from ``data``'s training images (another data set, another ``shifts``).
    """
    files = find_expanded(dirs, shifts)
    command += "" if shifts == 1 else f" --shifts {shifts}"
    if files is None:
        looked = ", ".join(str(d) for d in dirs)
        raise DataError(
            f"no expanded training set of {data.name} (shifts={shifts}) in {looked}: make it "
            f"with `{command}`"
        )
    images, labels = _read_pair(files)
    X_train, y_train = data.train
    copies = expanded_size(1, shifts)
    if len(images) != len(X_train) * copies or images[0].size != X_train.shape[1]:
        raise DataError(
            f"{files['train_images']}: {images.shape} images, but {len(X_train)} training "
            f"images of {X_train.shape[1]} pixels expanded by shifts={shifts} make "
            f"{len(X_train) * copies}: make it again with `{command} --force`"
        )
    X = images.reshape(len(images), -1).astype(np.float32)
    X /= np.float32(scale)
    if not (np.array_equal(X[::copies], X_train) and np.array_equal(labels[::copies], y_train)):
        raise DataError(
            f"{files['train_images']}: not made from the training images of {data.name} found "
            f"beside it: make it again with `{command} --force`"
        )
    return replace(data, train=(X, labels.astype(np.int64)))


def _read_pair(files: dict[str, Path]) -> tuple[np.ndarray, np.ndarray]:
    """The expanded images and labels, their declared sizes (as read and as converted to
    float32 and int64) checked against the memory available first."""
    need = 0
    for role, path in files.items():
        shape, dtype = read_idx_header(path)
        need += math.prod(shape) * (dtype.itemsize + (4 if role == "train_images" else 8))
    check_memory(str(files["train_images"].parent), need, "the expanded training set")
    images, labels = read_idx(files["train_images"]), read_idx(files["train_labels"])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"{files['train_images']}, {files['train_labels']}: expected images (n, rows, "
            f"cols) and n labels, got shapes {images.shape} and {labels.shape}"
        )
    return images, labels
