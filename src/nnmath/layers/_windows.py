"""The index arithmetic of sliding windows: the readable correlation, and im2col / col2im.

A window of ``k × k`` at stride ``s`` over an image padded by ``p`` covers, for output
position ``(y, x)``, the input pixels ``(s·y + i − p, s·x + j − p)``, ``0 ≤ i, j < k``.
:func:`correlate_naive` writes Nielsen's sum with exactly these indices; :func:`im2col` lays
every window out as one column, so that the whole correlation is one matrix product (BLAS),
and :func:`col2im` adds columns back onto the pixels they came from (its transpose).
Arrays keep the examples in their last axis: images are ``(C, H, W, m)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["col2im", "correlate_naive", "im2col", "windows"]


def _pad(a: np.ndarray, padding: int) -> np.ndarray:
    """``a`` (C, H, W, m) with ``padding`` zeros around each image."""
    if padding == 0:
        return a
    return np.pad(a, ((0, 0), (padding, padding), (padding, padding), (0, 0)))


def windows(a: np.ndarray, k: int, stride: int, padding: int = 0) -> np.ndarray:
    """Every window of ``a``, a view ``(C, Ho, Wo, m, k, k)``:
    ``windows[c, y, x, e, i, j] = a_pad[c, s·y + i, s·x + j, e]``."""
    view = sliding_window_view(_pad(a, padding), (k, k), axis=(1, 2))
    return view[:, ::stride, ::stride]


def im2col(a: np.ndarray, k: int, stride: int, padding: int) -> np.ndarray:
    """The windows of ``a`` (C, H, W, m) as columns ``(C·k·k, Ho·Wo·m)``: row ``(c, i, j)``
    (C order, as ``W.reshape(out, C·k·k)``), column ``(y, x, e)``."""
    C = a.shape[0]
    v = windows(a, k, stride, padding)  # (C, Ho, Wo, m, k, k)
    return np.ascontiguousarray(v.transpose(0, 4, 5, 1, 2, 3)).reshape(C * k * k, -1)


def col2im(cols: Any, input_shape: tuple[int, ...], k: int, stride: int, padding: int) -> Any:
    """The transpose of :func:`im2col`: each entry of ``cols`` ``(C·k·k, Ho·Wo·m)`` (or already
    ``(C, k, k, Ho, Wo, m)``) added onto the input pixel its window took it from.

    Returns
    -------
    array (C, H, W, m), ``input_shape + (m,)``
    """
    C, H, W, m = input_shape
    Ho = (H + 2 * padding - k) // stride + 1
    Wo = (W + 2 * padding - k) // stride + 1
    g = cols.reshape(C, k, k, Ho, Wo, m)
    out = np.zeros((C, H + 2 * padding, W + 2 * padding, m), dtype=cols.dtype)
    for i in range(k):  # k² strided adds: pixel (s·y + i, s·x + j) gets entry (i, j) of (y, x)
        rows = slice(i, i + stride * (Ho - 1) + 1, stride)
        for j in range(k):
            out[:, rows, j : j + stride * (Wo - 1) + 1 : stride] += g[:, i, j]
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
