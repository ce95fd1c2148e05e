"""Where the compiled epochs find BLAS ``sgemm`` / ``dgemm`` (Fortran interface).

NumPy's wheels bundle an OpenBLAS with 64-bit integers (ILP64, symbols ``scipy_?gemm_64_``),
found among the loaded libraries by threadpoolctl; it is newer than SciPy's and faster on
the tiny products of a mini-batch of 10 (``benchmarks/RESULTS.md``, "Facts moved out of the
engine's source"), so it comes first. SciPy's ``scipy.linalg.cython_blas`` (32-bit integers)
is the fallback. Nothing here imports Numba.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

__all__ = [
    "BlasThreads",
    "Gemm",
    "blas_threads",
    "gemm_addresses",
    "one_blas_thread",
    "thread_budget",
    "user_threads",
]


@dataclass(frozen=True)
class Gemm:
    """Addresses of ``sgemm`` and ``dgemm`` and the width of their integer arguments."""

    sgemm: int
    dgemm: int
    int64: bool
    name: str

    @property
    def int_dtype(self) -> type[np.signedinteger]:
        return np.int64 if self.int64 else np.int32


def _numpy_openblas_paths() -> list[Path]:
    """The ILP64 OpenBLAS that NumPy has loaded (its wheels' ``libscipy_openblas64_*``), as
    threadpoolctl finds it among the process's libraries; none without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    found = (Path(lib["filepath"]) for lib in threadpool_info() if "filepath" in lib)
    return sorted(path for path in found if path.name.startswith("libscipy_openblas64_"))


def _numpy_openblas() -> Gemm | None:
    for path in _numpy_openblas_paths():
        try:
            lib = ctypes.CDLL(str(path))
            s, d = (
                ctypes.cast(getattr(lib, f"scipy_{t}gemm_64_"), ctypes.c_void_p).value for t in "sd"
            )
        except (OSError, AttributeError):
            continue
        if s and d:
            return Gemm(s, d, True, "numpy-openblas64")
    return None


def _scipy_cython_blas() -> Gemm | None:
    try:
        from scipy.linalg import cython_blas
    except ImportError:
        return None
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    name = ctypes.pythonapi.PyCapsule_GetName
    name.restype, name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    capsules = [cython_blas.__pyx_capi__[f"{t}gemm"] for t in "sd"]
    s, d = (get(c, name(c)) for c in capsules)
    return Gemm(s, d, False, "scipy-cython-blas")


@cache
def gemm_addresses() -> Gemm | None:
    """NumPy's bundled OpenBLAS, else SciPy's BLAS, else ``None``."""
    return _numpy_openblas() or _scipy_cython_blas()


@dataclass(frozen=True)
class BlasThreads:
    """The thread count of NumPy's OpenBLAS (the one :func:`gemm_addresses` prefers): what
    ``OPENBLAS_NUM_THREADS`` or ``threadpoolctl`` set, read and changed in place."""

    get: ctypes._CFuncPtr
    set: ctypes._CFuncPtr


@cache
def blas_threads() -> BlasThreads | None:
    """Get and set the thread count of NumPy's OpenBLAS, or ``None`` when the compiled
    epochs do not call that OpenBLAS (then nnmath runs them on one thread)."""
    g = gemm_addresses()
    if g is None or g.name != "numpy-openblas64":
        return None
    for path in _numpy_openblas_paths():
        try:
            lib = ctypes.CDLL(str(path))
            get, set_ = lib.scipy_openblas_get_num_threads64_, lib.scipy_openblas_set_num_threads64_
        except (OSError, AttributeError):
            continue
        get.restype, get.argtypes = ctypes.c_int, []
        set_.restype, set_.argtypes = None, [ctypes.c_int]
        return BlasThreads(get, set_)
    return None


class _Hold:
    """How many blocks of :func:`one_blas_thread` are open, in every thread of the process,
    and the count OpenBLAS had before the first of them set it to one."""

    lock = threading.Lock()
    holders = 0
    saved = 1


def user_threads(blas: BlasThreads) -> int:
    """The thread count the user gave NumPy's OpenBLAS: while some ``fit`` holds it on one
    thread (:func:`one_blas_thread`), the count it had before, so that a second ``fit`` in
    another thread sizes its work as it would alone."""
    with _Hold.lock:
        return _Hold.saved if _Hold.holders else blas.get()


@contextmanager
def one_blas_thread(blas: BlasThreads) -> Iterator[None]:
    """Hold NumPy's OpenBLAS on one thread inside the block (nnmath's own threads then call it
    on their rows).

    OpenBLAS's thread count is one number for the whole process, so the hold is counted
    under a lock: the first block to open saves the count and sets one, the last to close
    puts the saved count back. Two ``fit`` calls in two threads thus never leave OpenBLAS
    on one thread, whatever order they end in, and neither reads the other's one.
    """
    with _Hold.lock:
        if _Hold.holders == 0:
            _Hold.saved = blas.get()
            blas.set(1)
        _Hold.holders += 1
    try:
        yield
    finally:
        with _Hold.lock:
            _Hold.holders -= 1
            if _Hold.holders == 0:
                blas.set(_Hold.saved)


def thread_budget(blas: BlasThreads) -> int:
    """How many threads nnmath's own work may run on: the count NumPy's OpenBLAS is allowed
    (:func:`user_threads`), at most the cores this process may use, at most 64 (the C
    epoch's limit)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(user_threads(blas), cores or 1, 64))
