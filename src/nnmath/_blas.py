"""Where the compiled epochs find BLAS ``sgemm`` / ``dgemm`` (Fortran interface).

NumPy's wheels bundle an OpenBLAS with 64-bit integers (ILP64, symbols ``scipy_?gemm_64_``);
on our machines it is newer than SciPy's and ~30 % faster on the tiny products of a
mini-batch of 10, so it comes first. SciPy's ``scipy.linalg.cython_blas`` (32-bit integers)
is the fallback. Nothing here imports Numba.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

__all__ = ["Gemm", "gemm_addresses"]


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


def _numpy_openblas() -> Gemm | None:
    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for path in sorted(libs.glob("libscipy_openblas64_*.so*")):
        try:
            lib = ctypes.CDLL(str(path))
            s, d = (ctypes.cast(getattr(lib, f"scipy_{t}gemm_64_"), ctypes.c_void_p).value
                    for t in "sd")
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
