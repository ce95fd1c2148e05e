"""Expanding a training set by shifting each image a pixel up, down, left and right.

Nielsen, chapter 6 ("Expanding the training data"): his ``expand_mnist.py`` keeps every
training image and adds four copies of it, each ``np.roll``-ed by one pixel along the rows
or the columns with the row or column that wrapped round set to zero, which takes MNIST's
50,000 training images to 250,000 (and his convolutional network's accuracy up). His script
then shuffles the pairs once; :func:`expand` keeps each image followed by its copies
(deterministic), since training shuffles the mini-batches every epoch anyway.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._memory import available_memory, format_bytes

__all__ = ["BOOK_SHIFTS", "expand", "expanded_size", "shifted"]

#: the book's four (step, axis) pairs, in its order: down, up (axis 0: rows), right, left
BOOK_SHIFTS: tuple[tuple[int, int], ...] = ((1, 0), (-1, 0), (1, 1), (-1, 1))


def expanded_size(n: int, shifts: int = 1) -> int:
    """How many images :func:`expand` makes of ``n``: ``n · (1 + 4·shifts)``."""
    return n * (1 + 4 * shifts)


def shifted(images: np.ndarray, step: int, axis: int) -> np.ndarray:
    """``images`` moved ``step`` pixels along ``axis`` (0: rows, 1: columns), zeros let in.

    The same as ``np.roll(image, step, axis)`` with the ``|step|`` rows (or columns) that
    wrapped round set to zero, for every image at once.

    Parameters
    ----------
    images : array, shape (..., rows, cols)
    step : int
        Positive: down (axis 0) or right (axis 1); negative: up or left.
    axis : {0, 1}

    Returns
    -------
    array, the shape and dtype of ``images``
    """
    out = np.zeros_like(images)
    size = images.shape[images.ndim - 2 + axis]
    if abs(step) >= size:
        return out  # every pixel moved out of the frame
    into = [slice(None)] * images.ndim
    outof = [slice(None)] * images.ndim
    at = images.ndim - 2 + axis
    into[at], outof[at] = _overlap(step, size)
    out[tuple(into)] = images[tuple(outof)]
    return out


def _overlap(step: int, size: int) -> tuple[slice, slice]:
    """(destination, source) slices of one axis for a move by ``step`` (``step ≠ 0``)."""
    if step > 0:
        return slice(step, None), slice(None, size - step)
    return slice(None, size + step), slice(-step, None)


def expand(
    X: Any,
    y: Any,
    shifts: int = 1,
    image_shape: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The training data expanded by shifts of 1..``shifts`` pixels in the four directions.

    Each image is followed by its copies moved by ``s = 1, …, shifts`` pixels down, up,
    right and left (the book's order, :data:`BOOK_SHIFTS`), zero-filled where the image
    moved away from the edge; ``shifts=1`` is the book's ``expand_mnist.py`` (50,000 → 250,000
    images for MNIST), ``shifts=0`` a copy.

    Parameters
    ----------
    X : array-like, shape (n, rows·cols), (n, rows, cols) or (n, channels, rows, cols)
        The images; any dtype (uint8 pixels stay uint8). Rows of a square number of pixels
        (784 = 28²) are square images; other rows need ``image_shape``.
    y : array-like, shape (n,) or (n, n_classes)
        Labels (or one-hot rows), repeated for each copy.
    shifts : int
        The largest shift in pixels, ``0 ≤ shifts <`` the image's shorter side.
    image_shape : (rows, cols), optional
        The shape of one image when ``X`` is rows (default: the square one).

    Returns
    -------
    X_expanded : array, shape ``(n · (1 + 4·shifts),) + X.shape[1:]``, X's dtype
    y_expanded : array, shape ``(n · (1 + 4·shifts),) + y.shape[1:]``

    Raises
    ------
    ValueError
        Rows that are not square images and no ``image_shape`` (or one that does not fit),
        ``shifts`` negative or not below the image's side, ``y`` of another length than
        ``X``, or a result larger than the memory available (checked before allocating).
    """
    X, y = np.asarray(X), np.asarray(y)
    shifts = _check_shifts(shifts)
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"X must hold images as rows, (n, pixels) with n ≥ 1; got {X.shape}")
    if y.ndim == 0 or len(y) != len(X):
        raise ValueError(
            f"y has {y.shape[0] if y.ndim else 'no'} labels but X has {len(X)} images: give "
            "one label (or one-hot row) per image"
        )
    rows, cols = _image_shape(X.shape, image_shape)
    if shifts >= min(rows, cols):
        raise ValueError(
            f"shifts={shifts} would move {rows}x{cols} images out of the frame: use shifts "
            f"below {min(rows, cols)}"
        )
    copies = 1 + 4 * shifts
    _check_room(len(X), copies, X, y)
    images = X.reshape(len(X), -1, rows, cols)  # (n, channels, rows, cols), a view
    out = np.empty((len(X), copies, *images.shape[1:]), dtype=X.dtype)
    out[:, 0] = images
    k = 1
    for s in range(1, shifts + 1):
        for step, axis in BOOK_SHIFTS:
            out[:, k] = shifted(images, step * s, axis)
            k += 1
    return out.reshape(len(X) * copies, *X.shape[1:]), np.repeat(y, copies, axis=0)


def _check_shifts(shifts: Any) -> int:
    if isinstance(shifts, bool) or not isinstance(shifts, int | np.integer):
        raise TypeError(
            f"shifts must be a whole number of pixels (1 is the book's), got {shifts!r}"
        )
    if shifts < 0:
        raise ValueError(f"shifts must be 0 or more pixels (1 is the book's), got {shifts}")
    return int(shifts)


def _image_shape(shape: tuple[int, ...], image_shape: tuple[int, int] | None) -> tuple[int, int]:
    """(rows, cols) of one image of an ``X`` of ``shape``."""
    if len(shape) > 2:
        found = (int(shape[-2]), int(shape[-1]))
        if image_shape is not None and tuple(image_shape) != found:
            raise ValueError(f"image_shape={tuple(image_shape)} but X holds {found} images")
        return found
    n_features = int(shape[1])
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"X has {n_features} features, not a square image: give image_shape=(rows, "
                "cols) of one image"
            )
        return side, side
    rows, cols = (int(s) for s in image_shape)
    if rows * cols == 0 or n_features % (rows * cols):
        raise ValueError(
            f"image_shape={tuple(image_shape)} does not fit rows of {n_features} pixels "
            f"({n_features} must be a multiple of rows·cols)"
        )
    return rows, cols


def _check_room(n: int, copies: int, X: np.ndarray, y: np.ndarray) -> None:
    """Refuse a result larger than the memory available, before allocating it."""
    need = n * copies * (X[0].nbytes + y[0].nbytes)
    free = available_memory()
    if free is not None and need > free:
        raise ValueError(
            f"expanding {n:,} images into {n * copies:,} needs {format_bytes(need)}, more "
            f"than the {format_bytes(free)} of memory available: expand a part at a time "
            "(X[i:j]), give uint8 pixels, or use fewer shifts"
        )
