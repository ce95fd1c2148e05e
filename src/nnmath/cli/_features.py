"""Feature files for ``nnmath predict``: a ``.csv`` of feature columns (a header row or not),
a ``.npy`` array, or an IDX images file (gzip or not), read into a float64 matrix with one
row per example, after checking what the file declares and before trusting its contents."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .._words import is_number
from ._common import CLIError, plural

__all__ = ["read_features"]

_NPY_MAGIC = b"\x93NUMPY"
_GZIP_MAGIC = b"\x1f\x8b"
_TEXT_SUFFIXES = (".csv", ".txt")
#: a cell takes at least 2 bytes of the file ("0,") and 16 of memory (its row, then the matrix)
_CSV_BYTES_PER_FILE_BYTE = 8
_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def read_features(path_text: str, n_inputs: int) -> np.ndarray:
    """The examples of ``path_text`` as a float64 array of shape (n, ``n_inputs``).

    Parameters
    ----------
    path_text : str
        The file as the user gave it (named so in every error). Its format is read from its
        first bytes (``.npy`` magic, gzip or IDX header), else a ``.csv`` / ``.txt`` suffix.
    n_inputs : int
        The model's ``sizes[0]``; a 1-D array of that length is one example, images are
        flattened to one row each.

    Returns
    -------
    numpy.ndarray
        Finite float64 features, one row per example.

    Raises
    ------
    CLIError
        A missing file, an unknown format, a wrong number of features (naming the expected
        count), a non-numeric cell, NaN or infinity, an empty file, more than memory holds.
    """
    path = Path(path_text).expanduser()
    if not path.exists():
        raise CLIError(f"{path_text}: no such file")
    if not path.is_file():
        raise CLIError(f"{path_text}: not a file; give a .csv, .npy or IDX images file")
    with open(path, "rb") as fh:
        head = fh.read(6)
    if head.startswith(_NPY_MAGIC):
        X = _read_npy(path, path_text)
    elif head.startswith(_GZIP_MAGIC) or (len(head) >= 4 and head[:2] == b"\x00\x00"):
        X = _read_idx_images(path, path_text)
    elif path.suffix.lower() in _TEXT_SUFFIXES:
        X = _read_csv(path, path_text)
    else:
        raise CLIError(
            f"{path_text}: not a .csv, .npy or IDX file; give feature columns as CSV, a NumPy "
            ".npy array, or MNIST-style IDX images"
        )
    return _checked(X, path_text, n_inputs)


def _checked(X: np.ndarray, name: str, n_inputs: int) -> np.ndarray:
    """``X`` as rows of ``n_inputs`` finite features, or a one-line error saying what is off."""
    if X.ndim == 1:  # one example, or one feature per example
        X = X.reshape(1, -1) if X.size == n_inputs and n_inputs > 1 else X.reshape(-1, 1)
    elif X.ndim > 2:  # images: one row of pixels per image
        X = X.reshape(X.shape[0], -1)
    if X.shape[0] == 0:
        raise CLIError(f"{name}: holds no examples")
    if X.shape[1] != n_inputs:
        raise CLIError(
            f"{name}: {plural(X.shape[1], 'feature')} per example, but the model expects "
            f"{n_inputs} (sizes[0]): give the features the model was trained on"
        )
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        what = "NaN" if np.isnan(X[row, col]) else "infinite"
        raise CLIError(
            f"{name}: example {row + 1}, feature {col + 1} is {what} "
            f"({plural(int(bad.sum()), 'such value')} in all); predictions need finite features"
        )
    return X


def _read_npy(path: Path, name: str) -> np.ndarray:
    """A ``.npy`` array: its header (shape, dtype) checked against the file's size and the
    machine's memory before any data is read; never unpickled."""
    from ..validation import check_memory

    with open(path, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            read_header = _NPY_HEADER_READERS.get(version)
            if read_header is None:
                raise ValueError(f"format version {version[0]}.{version[1]} is not supported")
            shape, _, dtype = read_header(fh)
        except (ValueError, SyntaxError, EOFError) as exc:
            raise CLIError(f"{name}: not a readable .npy file ({exc})") from None
        data_start = fh.tell()
    if dtype.hasobject or dtype.kind not in "biuf":
        raise CLIError(f"{name}: holds {dtype} values; predictions need numbers (ints or floats)")
    if not 1 <= len(shape) <= 3:
        raise CLIError(
            f"{name}: an array of {len(shape)} dimensions; give one row per example "
            "(2-D), or images (3-D)"
        )
    declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if declared > path.stat().st_size - data_start:
        raise CLIError(
            f"{name}: the header declares shape {'x'.join(map(str, shape))} of {dtype} "
            f"({declared:,} bytes), more than the file holds (truncated?)"
        )
    try:
        check_memory(declared + int(np.prod(shape, dtype=np.int64)) * 8, f"{name}'s array")
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    array = np.load(path, allow_pickle=False)
    return np.asarray(array, dtype=np.float64)


def _read_idx_images(path: Path, name: str) -> np.ndarray:
    """An IDX file (gzip or not) of images or rows, pixels scaled to [0, 1] as the MNIST
    loaders scale them."""
    from ..data.idx import DataError, read_idx
    from ..validation import check_memory

    try:
        array = read_idx(path)
    except DataError as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
    if array.ndim < 2:
        raise CLIError(
            f"{name}: an IDX file of {array.ndim} dimension (labels?); give the images file "
            "(e.g. t10k-images-idx3-ubyte.gz)"
        )
    try:  # the float64 copy is up to 8 times the file's declared bytes
        check_memory(array.size * 8, f"{name}'s images as float64")
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    X = array.astype(np.float64)
    return X / 255.0 if array.dtype == np.uint8 else X


def _read_csv(path: Path, name: str) -> np.ndarray:
    """Feature columns separated by commas, one example a line; a first line with no number
    in it is a header. A cell that is not a number is named by its line and column."""
    from ..validation import check_memory

    try:
        check_memory(path.stat().st_size * _CSV_BYTES_PER_FILE_BYTE, f"{name}'s rows")
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    rows: list[np.ndarray] = []
    first = True
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            for line, cells in enumerate(csv.reader(fh), start=1):
                if not any(c.strip() for c in cells):
                    continue  # blank lines, a trailing newline
                if first and not any(is_number(c) for c in cells):
                    first = False
                    continue  # a header row of column names
                first = False
                rows.append(_row(cells, line, name, rows[0].size if rows else None))
    except UnicodeDecodeError:
        raise CLIError(f"{name}: not a text file; give feature columns as CSV") from None
    except csv.Error as exc:
        raise CLIError(f"{name}: not readable as CSV ({exc})") from None
    if not rows:
        raise CLIError(f"{name}: holds no examples (no rows of numbers)")
    return np.vstack(rows)


def _row(cells: list[str], line: int, name: str, width: int | None) -> np.ndarray:
    """One line of the CSV file as numbers, or an error naming the line and the column."""
    if width is not None and len(cells) != width:
        raise CLIError(
            f"{name}: line {line} has {plural(len(cells), 'column')}, the first row of numbers has "
            f"{width}; give the same feature columns on every line"
        )
    try:
        return np.array(cells, dtype=np.float64)
    except ValueError:
        j = next(j for j, cell in enumerate(cells) if not is_number(cell))
        raise CLIError(
            f"{name}: line {line}, column {j + 1}: '{cells[j].strip()}' is not a number; "
            "give numeric feature columns only (a first line of column names is fine)"
        ) from None
