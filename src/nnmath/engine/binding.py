"""ctypes binding of the C training epoch (``_ckernels.c``, built as ``nnmath.engine._ckernels``).

The extension is optional: ``pip install`` builds it when a C compiler is at hand, and
:func:`library` returns ``None`` when it is missing, so :func:`nnmath.train.fit` trains on the
readable reference loop instead.
"""

from __future__ import annotations

import ctypes
import importlib.util
from functools import cache
from typing import Any

import numpy as np

from .blas import gemm_addresses

__all__ = [
    "ABI_VERSION",
    "BAD_LENGTH",
    "BAD_VALUE",
    "CEpoch",
    "KINDS",
    "UNKNOWN_IDS",
    "knows",
    "length",
    "library",
    "pointers",
]

#: The struct layout this module expects; ``nnm_abi_version()`` of the library must agree.
ABI_VERSION = 7
_I64, _P = ctypes.c_int64, ctypes.c_void_p


class CEpoch(ctypes.Structure):
    """``nnm_epoch`` of ``_ckernels.c``: everything one epoch needs, as addresses."""

    _fields_ = [
        *((name, _I64) for name in ("n", "B", "L", "cost", "fused", "opt", "blas64", "t")),
        *(
            (name, _P)
            for name in (
                "sizes",
                "perm",
                "codes",
                "alphas",
                "hp",
                "X",
                "Y",
                "W",
                "b",
                "A",
                "Z",
                "D",
                "S1W",
                "S1B",
                "S2W",
                "S2B",
                "Yb",
                "gemm",
            )
        ),
        ("threads", _I64),
        ("NWT", _P),
        ("NBT", _P),
        ("gemm_rows", _I64),
        ("drop_key", ctypes.c_uint64),
        ("drop_words", _I64),
        *((name, _P) for name in ("drop_thresh", "drop_scale", "drop_offset", "AIN", "MK")),
        ("lens", _P),
        ("scores", _P),
        ("n_lens", _I64),
    ]


#: What ``nnm_train_epoch_*`` returns: 0, or the kind of kernel id it does not know ...
UNKNOWN_IDS = {1: "activation", 2: "cost", 3: "optimizer"}
#: ... or this: an array does not hold what the layer sizes say (see :func:`length`) ...
BAD_LENGTH = 4
#: ... or this: a row index outside X, a dropout probability not below 1, threads not 1..64.
BAD_VALUE = 5
#: The registries of ``nnm_knows(kind, id)``.
KINDS = {"activation": 0, "cost": 1, "optimizer": 2}


# TEMPORARY until the engine looks kernels up by name (the merge replaces this): the ids of
# the activations' `case`s in _ckernels_real.h, in their order, kept out of the declarations
_ACTIVATION_IDS = {
    name: i
    for i, name in enumerate(
        "sigmoid tanh relu leaky_relu elu identity softmax gelu softplus silu softsign".split()
    )
}


def activation_id(act: Any) -> int | None:
    """TEMPORARY: the C id of ``act`` by its name, or its own ``kernel`` (a test's entry)."""
    return _ACTIVATION_IDS.get(act.name, getattr(act, "kernel", None))


def pointers(arrays: Any) -> ctypes.Array:
    """A C array of the data addresses of ``arrays``, which holds the arrays themselves (its
    ``arrays``): whoever keeps it until the C call returns keeps the memory it points into
    alive, whatever happens meanwhile to the lists the arrays came from. ``None`` entries
    become NULL."""
    arrays = tuple(arrays)
    addresses = (_P * len(arrays))(*(None if a is None else a.ctypes.data for a in arrays))
    addresses.arrays = arrays  # type: ignore[attr-defined]
    return addresses


def length(a: Any, dtype: Any) -> int:
    """The elements the C epoch may read and write at ``a``'s address: its size when it is a
    C-contiguous NumPy array of ``dtype``, else -1 (which the epoch refuses as
    ``BAD_LENGTH``, whatever the sizes say)."""
    ok = isinstance(a, np.ndarray) and a.dtype == np.dtype(dtype) and a.flags.c_contiguous
    return int(a.size) if ok else -1


@cache
def library() -> ctypes.CDLL | None:
    """The compiled ``nnmath.engine._ckernels`` with its functions typed, or ``None`` when it is not
    built (or is stale, or BLAS cannot be found)."""
    spec = importlib.util.find_spec("nnmath.engine._ckernels")
    if spec is None or not spec.origin or gemm_addresses() is None:
        return None
    try:
        lib = ctypes.CDLL(spec.origin)
    except OSError:
        return None
    lib.nnm_abi_version.restype = _I64
    if lib.nnm_abi_version() != ABI_VERSION:
        return None
    lib.nnm_knows.restype, lib.nnm_knows.argtypes = _I64, [_I64, _I64]
    for t in ("f32", "f64"):
        train = getattr(lib, f"nnm_train_epoch_{t}")
        train.restype, train.argtypes = ctypes.c_int, [ctypes.POINTER(CEpoch)]
        floor = getattr(lib, f"nnm_floor_epoch_{t}")
        floor.restype, floor.argtypes = ctypes.c_int, [ctypes.POINTER(CEpoch), _I64]
    return lib


def knows(kind: str, kernel: int | None) -> bool:
    """Whether the built library implements ``kernel``, the id of a registry entry of ``kind``
    (``"activation"``, ``"cost"``, ``"optimizer"``); ``None`` (no kernel) is never known."""
    lib = library()
    return lib is not None and kernel is not None and bool(lib.nnm_knows(KINDS[kind], kernel))


def epoch_function(dtype: Any, name: str = "train") -> Any:
    """``nnm_train_epoch_f32`` / ``_f64`` (or ``floor``) of the library for ``dtype``."""
    lib = library()
    if lib is None:
        raise ImportError(
            "nnmath.engine._ckernels is not built (pip install -e . with a C compiler)"
        )
    suffix = "f32" if np.dtype(dtype) == np.float32 else "f64"
    return getattr(lib, f"nnm_{name}_epoch_{suffix}")


def gemm_address(dtype: Any) -> int:
    """Address of the BLAS ``?gemm`` for ``dtype``."""
    g = gemm_addresses()
    assert g is not None  # library() checked it
    return g.sgemm if np.dtype(dtype) == np.float32 else g.dgemm
