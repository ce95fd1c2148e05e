"""Input checks that turn bad input into one clear error naming the problem and the fix."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "check_memory",
    "check_sizes",
    "parameter_bytes",
    "physical_memory",
    "check_inputs",
    "check_targets",
    "check_inputs_on_device",
    "check_targets_on_device",
    "labels_of",
    "one_hot",
]


def check_sizes(sizes: Sequence[int]) -> list[int]:
    """Validate the layer sizes: at least two layers, every width a positive integer."""
    try:
        out = [int(s) for s in sizes]
    except (TypeError, ValueError):
        raise TypeError(f"sizes must be a sequence of integers, got {sizes!r}") from None
    if any(o != s for o, s in zip(out, sizes)):
        raise TypeError(f"sizes must be integers, got {list(sizes)!r}")
    if len(out) < 2:
        raise ValueError(
            f"sizes must list at least 2 layers (input and output), got {out}; e.g. [784, 30, 10]"
        )
    bad = [s for s in out if s <= 0]
    if bad:
        raise ValueError(f"every layer width must be positive, got sizes={out}")
    return out


def parameter_bytes(sizes: Sequence[int], dtype: Any) -> int:
    """Bytes of the weights and biases of ``sizes``: ``Σ_l (n_{l−1} + 1) n_l`` numbers."""
    return sum((a + 1) * b for a, b in zip(sizes, sizes[1:])) * np.dtype(dtype).itemsize


def physical_memory() -> int | None:
    """The machine's physical memory in bytes (``None`` where the system does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not a POSIX system
        return None


def check_memory(nbytes: int, what: str) -> None:
    """Refuse, before allocating, ``nbytes`` of ``what`` that cannot fit in the machine's
    physical memory (a layer of 10⁹ units), with the number of bytes it would need.

    Raises
    ------
    ValueError
    """
    total = physical_memory()
    if total is not None and nbytes > total:
        raise ValueError(
            f"{what} would need {nbytes:,} bytes ({nbytes / 1e9:.3g} GB), more than this "
            f"machine's {total / 1e9:.3g} GB of memory: use fewer or smaller layers "
            "(or a smaller mini-batch)"
        )


def _as_numeric(X: Any, name: str) -> np.ndarray:
    """``X`` as a NumPy array (torch / CuPy brought to the host; a pandas DataFrame or Series
    through ``np.asarray``, which keeps its values and drops its index)."""
    from .backend import to_numpy

    arr = to_numpy(X)
    if arr.dtype == object:
        _refuse_huge_integers(arr, name)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real, got dtype {arr.dtype}")
    return arr


def _refuse_huge_integers(arr: np.ndarray, name: str) -> None:
    """An object array of Python integers is what NumPy makes of integers beyond 64 bits:
    name the first such value instead of calling the array non-numeric."""
    flat = arr.reshape(-1)
    for v in flat[:1_000_000]:
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**63:
            raise ValueError(
                f"{name} holds the value {v}, beyond the range of a 64-bit integer "
                f"(±{2**63}); labels must be class numbers 0, 1, …"
            )


def _refuse_too_large(source: np.ndarray, dtype: Any, name: str) -> None:
    """Finite values of ``source`` that become ±inf in ``dtype`` (1e39 in float32): say so,
    rather than count them among NaN and infinite values."""
    if not np.issubdtype(source.dtype, np.number) or not np.isfinite(source).all():
        return
    top = float(np.finfo(dtype).max)
    big = np.abs(source.astype(np.float64)) > top
    if big.any():
        largest = float(np.max(np.abs(source[big]).astype(np.float64)))
        raise ValueError(
            f"{name} has {int(big.sum())} finite values too large for {np.dtype(dtype).name} "
            f"(largest magnitude {largest:.3g}; {np.dtype(dtype).name} holds up to {top:.3g}): "
            "scale the inputs (e.g. to [0, 1]), or use dtype='float64'"
        )


def _refuse_book_pairs(X: Any, n_features: int) -> None:
    """The book's data, a list (or zip) of ``(x, y)`` pairs, named as such: ``np.asarray``
    would fail on it deep inside NumPy ("inhomogeneous shape")."""
    pairs = (
        isinstance(X, list | tuple)
        and len(X) > 0
        and isinstance(X[0], tuple)
        and len(X[0]) == 2
        and np.ndim(X[0][0]) >= 1  # a list of (x1, x2) numbers is two features, not the book's
    )
    if pairs or isinstance(X, zip):
        kind = "a list of (x, y) tuples" if pairs else "a zip object"
        raise ValueError(
            f"X is {kind} as the book's mnist_loader gives: use nnmath.nielsen.Network (the "
            f"book's network.py on nnmath's engine), or stack the x's into an (n, {n_features}) "
            "array, one example per row, and the y's into labels"
        )


def _book_layout_hint(shape: tuple[int, ...], n: int, name: str = "X") -> str:
    """A hint when ``shape`` is the book's column layout of examples of ``n`` numbers."""
    if len(shape) == 3 and shape[1:] == (n, 1):
        fix = f"{name}.reshape(len({name}), -1)"
        return (
            f"; {name} is a stack of ({n}, 1) column vectors, the book's layout: nnmath takes "
            f"one example per row, {fix}, or use nnmath.nielsen for the book's code"
        )
    if len(shape) == 2 and shape[0] == n and shape[1] != n:
        return (
            f"; its examples look like columns, the book's layout (a ({n}, 1) column is one "
            f"example): nnmath takes one example per row, pass {name}.T, or use nnmath.nielsen "
            "for the book's code"
        )
    return ""


def check_inputs(X: Any, n_features: int, dtype: Any) -> np.ndarray:
    """Return ``X`` as a C-ordered 2-D array of ``dtype``, rows are examples.

    A Fortran-ordered or strided ``X`` (``DataFrame.to_numpy()`` gives one) is copied once to
    C order here, so that training takes the compiled epoch on it as on any array.

    Raises
    ------
    TypeError
        When ``X`` is not numeric.
    ValueError
        Wrong number of dimensions or features, or NaN / inf values.
    """
    _refuse_book_pairs(X, n_features)
    arr = _as_numeric(X, "X")
    if arr.ndim == 1 and arr.shape[0] == n_features:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features) with examples as rows, got shape {arr.shape}"
            + _book_layout_hint(arr.shape, n_features)
        )
    if arr.shape[1] != n_features:
        raise ValueError(
            f"X has {arr.shape[1]} features, the network expects {n_features} (sizes[0])"
            + _book_layout_hint(arr.shape, n_features)
        )
    if arr.shape[0] == 0:
        raise ValueError("X has no rows")
    source = arr
    with np.errstate(over="ignore"):  # too large for dtype: reported below, by value
        arr = np.ascontiguousarray(arr, dtype=dtype)
    # NaN and ±inf reach the sum, which allocates nothing the size of X; the exact count runs
    # only when the sum is not finite. On one thread: why, in benchmarks/RESULTS.md ("Issue
    # 17's speed bar", check_inputs sums X on one thread again).
    with np.errstate(over="ignore", invalid="ignore"):  # a sum past float32's range is fine
        total = np.sum(arr)
    if not np.isfinite(total) and not np.isfinite(arr).all():
        _refuse_too_large(source, dtype, "X")
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"X contains {bad} NaN or infinite values; clean or impute them first")
    return arr


def one_hot(labels: np.ndarray, n_classes: int, dtype: Any) -> np.ndarray:
    """Rows ``e_{y}`` of the identity, shape (n, n_classes)."""
    Y = np.zeros((labels.shape[0], n_classes), dtype=dtype)
    Y[np.arange(labels.shape[0]), labels] = 1
    return Y


def _integer_labels(y: np.ndarray, n_classes: int) -> np.ndarray:
    if not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinite values")
    if np.issubdtype(y.dtype, np.floating) and not np.all(y == np.round(y)):
        raise ValueError("y must hold integer class labels or one-hot rows; got non-integer values")
    # the range is checked on the values as given: a cast first would turn 1e20 into -2**63
    outside = (y < 0) | (y >= n_classes)
    if y.size and outside.any():
        row = int(np.argmax(outside))
        value = y[row].item()
        shown = int(value) if isinstance(value, float) and abs(value) < 2**63 else value
        raise ValueError(
            f"labels out of range: label {shown} at row {row} ({int(outside.sum())} outside "
            f"0..{n_classes - 1}, from {y.min().item()} to {y.max().item()}); the output layer "
            f"has {n_classes} units, so labels must be in 0..{n_classes - 1}"
        )
    return y.astype(np.int64)


def check_targets(Y: Any, n: int, n_outputs: int, dtype: Any) -> np.ndarray:
    """Return targets as rows of shape (n, n_outputs); integer labels become one-hot.

    Raises
    ------
    ValueError
        Length mismatch with X, wrong width, labels out of range, NaN values.
    """
    arr = _as_numeric(Y, "Y")
    if arr.shape[:1] != (n,):
        raise ValueError(f"X has {n} rows but Y has {arr.shape[0] if arr.ndim else 0}")
    if arr.ndim == 1:
        if n_outputs == 1:
            arr = arr[:, None]
        else:
            return one_hot(_integer_labels(arr, n_outputs), n_outputs, dtype)
    if arr.ndim != 2 or arr.shape[1] != n_outputs:
        raise ValueError(
            f"Y has shape {arr.shape}; expected ({n}, {n_outputs}) one-hot rows "
            f"or ({n},) integer labels" + _book_layout_hint(arr.shape, n_outputs, "Y")
        )
    source = arr
    with np.errstate(over="ignore"):
        arr = np.ascontiguousarray(arr, dtype=dtype)
    if not np.isfinite(arr).all():
        _refuse_too_large(source, dtype, "Y")
        raise ValueError("Y contains NaN or infinite values")
    return arr


def labels_of(y: Any, n: int, n_outputs: int) -> np.ndarray:
    """Integer labels from labels ``(n,)`` or one-hot rows ``(n, n_outputs)``."""
    arr = _as_numeric(y, "y")
    if arr.shape[:1] != (n,):
        raise ValueError(f"X has {n} rows but y has {arr.shape[0] if arr.ndim else 0}")
    if arr.ndim == 2:
        if arr.shape[1] != n_outputs:
            raise ValueError(f"y has {arr.shape[1]} columns, the network has {n_outputs} outputs")
        return np.argmax(arr, axis=1) if n_outputs > 1 else arr[:, 0]
    if n_outputs == 1:
        return arr
    return _integer_labels(arr, n_outputs)


def _on_device(arr: Any, name: str, dtype: Any, xp: Any) -> Any:
    """``arr`` (already a torch / CuPy array on the right device) cast to ``dtype`` there."""
    if xp.isdtype(arr.dtype, "complex floating") or not xp.isdtype(
        arr.dtype, ("real floating", "integral", "bool")
    ):
        raise TypeError(f"{name} must be real and numeric, got an array of dtype {arr.dtype}")
    target = getattr(xp, np.dtype(dtype).name)
    if arr.dtype != target:
        arr = xp.astype(arr, target)
    if not bool(xp.all(xp.isfinite(arr))):  # one reduction on the device, one bool back
        raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first")
    return arr


def check_inputs_on_device(X: Any, n_features: int, dtype: Any, xp: Any) -> Any:
    """:func:`check_inputs` for an array already on a GPU / in torch: no copy to the host.

    Parameters
    ----------
    X : torch tensor or CuPy array, shape (n_samples, n_features) or (n_features,)
    xp : array namespace of ``X``
    """
    if X.ndim == 1 and X.shape[0] == n_features:
        X = X[None, :]
    if X.ndim != 2:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features) with examples as rows, got shape "
            f"{tuple(X.shape)}"
        )
    if X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, the network expects {n_features} (sizes[0])"
        )
    if X.shape[0] == 0:
        raise ValueError("X has no rows")
    return _on_device(X, "X", dtype, xp)


def check_targets_on_device(Y: Any, n: int, n_outputs: int, dtype: Any, xp: Any) -> Any:
    """:func:`check_targets` for 2-D targets already on the device (labels go via the host)."""
    if Y.shape[:1] != (n,):
        raise ValueError(f"X has {n} rows but Y has {Y.shape[0] if Y.ndim else 0}")
    if Y.ndim != 2 or Y.shape[0] != n or Y.shape[1] != n_outputs:
        raise ValueError(
            f"Y has shape {tuple(Y.shape)}; expected ({n}, {n_outputs}) one-hot rows "
            f"or ({n},) integer labels"
        )
    return _on_device(Y, "Y", dtype, xp)
