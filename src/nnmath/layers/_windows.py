"""The index arithmetic of sliding windows: the readable correlation, and im2col / col2im.

A window of ``k × k`` at stride ``s`` over an image padded by ``p`` covers, for output
position ``(y, x)``, the input pixels ``(s·y + i − p, s·x + j − p)``, ``0 ≤ i, j < k``.
:func:`correlate_naive` writes Nielsen's sum with exactly these indices; :func:`im2col` lays
every window out as one column, so that the whole correlation is one matrix product (BLAS),
and :func:`col2im` adds columns back onto the pixels they came from (its transpose).
Arrays keep the examples in their last axis: images are ``(C, H, W, m)``.

Everything but the naive sum is written with the array namespace (``xp``) and the k² strided
slices ``a[:, i::s, j::s]`` (:func:`offsets`), which NumPy, CuPy and torch tensors all take,
so the same code runs on every backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..backend import get_namespace

__all__ = ["col2im", "correlate_naive", "im2col", "offsets", "zeros"]


def zeros(like: Any, shape: tuple[int, ...], dtype: Any = None, fill: str = "zeros") -> Any:
    """Zeros of ``shape`` with the namespace and device (and dtype, unless given) of the
    array ``like`` (``fill="empty"``: left unset, for a buffer that is written whole)."""
    xp = get_namespace(like)
    dtype = like.dtype if dtype is None else dtype
    if xp is np:
        return getattr(np, fill)(shape, dtype)
    return getattr(xp, fill)(shape, dtype=dtype, device=like.device)


def _pad(a: Any, padding: int) -> Any:
    """``a`` (C, H, W, m) with ``padding`` zeros around each image: a C-ordered copy even
    for ``padding = 0``, so that im2col's k² slices read runs of ``W·m`` numbers (the
    network's input is a transposed view: one number per stride), 2.5× faster."""
    C, H, W, m = a.shape
    if padding == 0:
        out = zeros(a, (C, H, W, m), fill="empty")
        out[...] = a
        return out
    out = zeros(a, (C, H + 2 * padding, W + 2 * padding, m))
    out[:, padding : padding + H, padding : padding + W] = a
    return out


def offsets(k: int, stride: int, Ho: int, Wo: int) -> Iterator[tuple[int, int, slice, slice]]:
    """For each entry ``(i, j)`` of a window, the rows and columns it takes over all
    ``Ho × Wo`` windows: ``a[:, rows, cols][:, y, x] = a[:, s·y + i, s·x + j]``."""
    for i in range(k):
        rows = slice(i, i + stride * (Ho - 1) + 1, stride)
        for j in range(k):
            yield i, j, rows, slice(j, j + stride * (Wo - 1) + 1, stride)


def _out(n: int, k: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - k) // stride + 1


def im2col(a: Any, k: int, stride: int, padding: int) -> Any:
    """The windows of ``a`` (C, H, W, m) as columns ``(C·k·k, Ho·Wo·m)``: row ``(c, i, j)``
    (C order, as ``W.reshape(out, C·k·k)``), column ``(y, x, e)``; one copy of the data."""
    C = a.shape[0]
    ap = _pad(a, padding)
    Ho, Wo = _out(ap.shape[1], k, stride, 0), _out(ap.shape[2], k, stride, 0)
    cols = zeros(a, (C, k * k, Ho, Wo, a.shape[-1]), fill="empty")  # C-ordered
    for i, j, r, c in offsets(k, stride, Ho, Wo):
        cols[:, i * k + j] = ap[:, r, c]  # written whole: xp.stack's result may be strided
    return get_namespace(a).reshape(cols, (C * k * k, -1))  # a view


def col2im(cols: Any, input_shape: tuple[int, ...], k: int, stride: int, padding: int) -> Any:
    """The transpose of :func:`im2col`: each entry of ``cols`` ``(C·k·k, Ho·Wo·m)`` added onto
    the input pixel its window took it from (k² strided adds).

    Returns
    -------
    array (C, H, W, m), ``input_shape + (m,)``
    """
    C, H, W, m = input_shape
    Ho, Wo = _out(H, k, stride, padding), _out(W, k, stride, padding)
    g = get_namespace(cols).reshape(cols, (C, k, k, Ho, Wo, m))
    out = zeros(cols, (C, H + 2 * padding, W + 2 * padding, m))
    for i, j, rows, columns in offsets(k, stride, Ho, Wo):  # pixel (s·y + i, s·x + j)
        out[:, rows, columns] += g[:, i, j]
    return out[:, padding : padding + H, padding : padding + W]


def correlate_naive(a: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int, padding: int) -> Any:
    """Nielsen's convolution, loops as written (the reference im2col is tested against):
    ``z[o, y, x] = b_o + Σ_c Σ_i Σ_j w[o, c, i, j] · a_pad[c, s·y + i, s·x + j]``.

    Parameters
    ----------
    a : array (C, H, W, m)
    W : array (out, C, k, k)
    b : array (out,)

    Returns
    -------
    z : array (out, Ho, Wo, m)
    """
    ap = _pad(a, padding)
    n_out, C, k, _ = W.shape
    Ho = (ap.shape[1] - k) // stride + 1
    Wo = (ap.shape[2] - k) // stride + 1
    z = np.zeros((n_out, Ho, Wo, a.shape[3]), dtype=np.result_type(a, W))
    for o in range(n_out):
        for y in range(Ho):
            for x in range(Wo):
                patch = ap[:, stride * y : stride * y + k, stride * x : stride * x + k]  # (C,k,k,m)
                z[o, y, x] = b[o] + np.einsum("cij,cijm->m", W[o], patch)
    return z
