"""ctypes binding of the C training epoch (``_ckernels.c``, built as ``nnmath.engine._ckernels``).

The extension is optional: ``pip install`` builds it when a C compiler is at hand, and
:func:`library` returns ``None`` when it is missing, so :func:`nnmath.train.fit` trains on the
readable reference loop instead.

Nothing here is copied by hand from the C side: the struct an epoch is given (with its
optimizer's hyper-parameters and state as named fields) is built at load from the layout the
library exports (``nnm_field_*``, declared once in ``_layout.h``), and kernels are found by
the registry entry's name in the tables it exports (``nnm_kernel_name``).
"""

from __future__ import annotations

import ctypes
import importlib.util
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from .blas import gemm_addresses

__all__ = [
    "Compiled",
    "OptimizerKernel",
    "compiled",
    "epoch_struct",
    "kernel_id",
    "length",
    "library",
    "optimizer_kernel",
    "parts_taken",
    "pointers",
    "required",
    "status_name",
]

_I64, _P, _S = ctypes.c_int64, ctypes.c_void_p, ctypes.c_char_p
#: the ctypes of the type words of ``nnm_field_type`` (a state field is an array of L arrays)
_TYPES = {"i64": _I64, "u64": ctypes.c_uint64, "f64": ctypes.c_double, "ptr": _P}
_TYPES |= {"state_w": _P, "state_b": _P}


@dataclass(frozen=True)
class OptimizerKernel:
    """One optimizer kernel of the library: its id, the registry name it serves, and the
    names of the hyper-parameters (optimizer attributes) and state (``optimizer.state``
    keys) it reads."""

    id: int
    name: str
    hyper: tuple[str, ...]
    state: tuple[str, ...]


@dataclass(frozen=True)
class Compiled:
    """The loaded library, the structs it takes, and the kernels it has, by name."""

    lib: ctypes.CDLL
    epoch: type[ctypes.Structure]
    hyper_fields: tuple[str, ...]
    #: each state field's name and the parameter it is shaped like ("w" or "b"), in order
    state_fields: dict[str, str]
    kernels: dict[str, dict[str, int]]
    optimizers: tuple[OptimizerKernel, ...]


def _fields(lib: ctypes.CDLL, which: str) -> list[tuple[str, str, int]]:
    """Each field of struct ``which`` as the library exports it: name, type word, offset."""
    fields: list[tuple[str, str, int]] = []
    while (name := lib.nnm_field_name(which.encode(), len(fields))) is not None:
        word = lib.nnm_field_type(which.encode(), len(fields)).decode()
        fields.append((name.decode(), word, lib.nnm_field_offset(which.encode(), len(fields))))
    return fields


def _struct(lib: ctypes.CDLL, which: str, nested: dict[str, Any]) -> Any:
    """The ctypes twin of struct ``which`` as the library describes it, or ``None`` when
    ctypes would lay it out otherwise (offsets or size), or it names a type unknown here."""
    fields = _fields(lib, which)
    types = {**_TYPES, **nested}
    if any(word not in types for _, word, _ in fields):
        return None
    layout = [(name, types[word]) for name, word, _ in fields]
    struct = type(f"nnm_{which}", (ctypes.Structure,), {"_fields_": layout})
    laid_out = [getattr(struct, name).offset for name, _ in layout]
    if laid_out != [offset for _, _, offset in fields]:
        return None
    return struct if ctypes.sizeof(struct) == lib.nnm_struct_size(which.encode()) else None


def _names(lib: ctypes.CDLL, kind: str) -> list[str]:
    """The names of the kernels of ``kind`` in the library's table, in id order."""
    names: list[str] = []
    while (name := lib.nnm_kernel_name(kind.encode(), len(names))) is not None:
        names.append(name.decode())
    return names


def _typed(lib: ctypes.CDLL) -> None:
    """Give the library's functions their C types."""
    for name, restype, argtypes in (
        ("nnm_field_name", _S, [_S, _I64]),
        ("nnm_field_type", _S, [_S, _I64]),
        ("nnm_field_offset", _I64, [_S, _I64]),
        ("nnm_struct_size", _I64, [_S]),
        ("nnm_kernel_name", _S, [_S, _I64]),
        ("nnm_optimizer_hyper", _S, [_I64]),
        ("nnm_optimizer_state", _S, [_I64]),
        ("nnm_status_name", _S, [_I64]),
        ("nnm_parts_taken", _I64, []),
    ):
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes


@cache
def compiled() -> Compiled | None:
    """The compiled ``nnmath.engine._ckernels`` with its functions typed and its structs and
    kernel tables read, or ``None`` when it is not built (or is stale, or BLAS cannot be
    found)."""
    spec = importlib.util.find_spec("nnmath.engine._ckernels")
    if spec is None or not spec.origin or gemm_addresses() is None:
        return None
    try:
        lib = ctypes.CDLL(spec.origin)
        _typed(lib)
    except (OSError, AttributeError):  # not built, or built before the layout was exported
        return None
    hyper, state = _struct(lib, "hyper", {}), _struct(lib, "state", {})
    epoch = hyper and state and _struct(lib, "epoch", {"hyper": hyper, "state": state})
    if not epoch:
        return None
    for t in ("f32", "f64"):
        train = getattr(lib, f"nnm_train_epoch_{t}")
        train.restype, train.argtypes = ctypes.c_int, [ctypes.POINTER(epoch)]
        floor = getattr(lib, f"nnm_floor_epoch_{t}")
        floor.restype, floor.argtypes = ctypes.c_int, [ctypes.POINTER(epoch), _I64]
    optimizers = tuple(
        OptimizerKernel(
            k,
            name,
            tuple(lib.nnm_optimizer_hyper(k).decode().split()),
            tuple(lib.nnm_optimizer_state(k).decode().split()),
        )
        for k, name in enumerate(_names(lib, "optimizer"))
    )
    kernels = {kind: {} for kind in ("activation", "cost", "layer")}
    for kind, table in kernels.items():
        for k, name in enumerate(_names(lib, kind)):
            table.setdefault(name, k)
    return Compiled(
        lib,
        epoch,
        tuple(name for name, _ in hyper._fields_),
        {name: word[-1] for name, word, _ in _fields(lib, "state")},
        kernels,
        optimizers,
    )


def library() -> ctypes.CDLL | None:
    """The compiled library with its functions typed, or ``None`` (see :func:`compiled`)."""
    c = compiled()
    return None if c is None else c.lib


def required() -> Compiled:
    """:func:`compiled`, or an ImportError saying how to build it."""
    c = compiled()
    if c is None:
        raise ImportError(
            "nnmath.engine._ckernels is not built (pip install -e . with a C compiler)"
        )
    return c


def epoch_struct() -> type[ctypes.Structure]:
    """``nnm_epoch`` of ``_layout.h`` as a ctypes Structure, built from the library's layout."""
    return required().epoch


def kernel_id(kind: str, name: str) -> int | None:
    """The id of the library's kernel for registry entry ``name`` of ``kind``
    (``"activation"``, ``"cost"``; ``"layer"``: a kind of layer, ``"dense"`` or
    ``"batchnorm"``), or ``None`` when this build has none."""
    c = compiled()
    return None if c is None else c.kernels[kind].get(name)


def optimizer_kernel(name: str, state: Any) -> OptimizerKernel | None:
    """The library's kernel for optimizer ``name`` whose state is the keys ``state`` (plain
    SGD keeps none, SGD with momentum its velocities), or ``None`` when this build has none."""
    c = compiled()
    keys = set(state)
    found = (k for k in (c.optimizers if c else ()) if k.name == name and set(k.state) == keys)
    return next(found, None)


def status_name(status: int) -> str:
    """The library's word for what an epoch returned (``"ok"``, ``"bad_length"``, ...)."""
    lib = library()
    name = None if lib is None else lib.nnm_status_name(status)
    return f"status {status}" if name is None else name.decode()


def parts_taken() -> int:
    """How many parts of its mini-batches the last epoch this OS thread started ran on
    another thread than their own (``_threads.h``); 0 when the library is not built."""
    lib = library()
    return 0 if lib is None else int(lib.nnm_parts_taken())


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
    C-contiguous NumPy array of ``dtype``, else -1 (which the epoch refuses as a bad length,
    whatever the sizes say)."""
    ok = isinstance(a, np.ndarray) and a.dtype == np.dtype(dtype) and a.flags.c_contiguous
    return int(a.size) if ok else -1


def epoch_function(dtype: Any, name: str = "train") -> Any:
    """``nnm_train_epoch_f32`` / ``_f64`` (or ``floor``) of the library for ``dtype``."""
    suffix = "f32" if np.dtype(dtype) == np.float32 else "f64"
    return getattr(required().lib, f"nnm_{name}_epoch_{suffix}")


def gemm_address(dtype: Any) -> int:
    """Address of the BLAS ``?gemm`` for ``dtype``."""
    g = gemm_addresses()
    assert g is not None  # library() checked it
    return g.sgemm if np.dtype(dtype) == np.float32 else g.dgemm
