"""Array namespaces: the core asks ``xp = get_namespace(a)`` once and then calls only ``xp.*``.

NumPy is the default and is returned without any indirection (``type(a) is np.ndarray``
costs nanoseconds), so the hot loop pays nothing for the abstraction. Other arrays (CuPy,
PyTorch tensors) go through ``array_api_compat`` when it is installed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["get_namespace", "to_numpy", "DTYPES", "resolve_dtype"]

DTYPES = {"float32": np.float32, "float64": np.float64}


def resolve_dtype(dtype: Any) -> type[np.floating]:
    """Turn ``"float32"``, ``"float64"`` or a NumPy dtype into a NumPy scalar type.

    Raises
    ------
    ValueError
        For anything but float32 / float64.
    """
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}: choose one of {sorted(DTYPES)}")
    return DTYPES[name]


def get_namespace(*arrays: Any) -> Any:
    """Return the array namespace of ``arrays`` (NumPy for NumPy arrays and scalars)."""
    for a in arrays:
        if type(a) is np.ndarray or isinstance(a, (np.generic, float, int)):
            continue
        try:
            import array_api_compat
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise TypeError(
                f"arrays of type {type(a).__name__} need the 'array-api-compat' package: "
                "pip install array-api-compat"
            ) from exc
        return array_api_compat.array_namespace(*arrays)
    return np


def to_numpy(a: Any) -> np.ndarray:
    """Copy any backend's array to a NumPy array on the host (NumPy arrays pass through)."""
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "get"):  # CuPy
        return a.get()
    if hasattr(a, "detach"):  # PyTorch
        return a.detach().cpu().numpy()
    return np.asarray(a)
