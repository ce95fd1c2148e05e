"""Array namespaces and backends: the same network code on NumPy, CuPy and PyTorch tensors.

The core asks ``xp = get_namespace(a)`` once and then calls only ``xp.*`` (the Python array
API standard). NumPy is the default and is returned without any indirection
(``type(a) is np.ndarray`` costs nanoseconds), so the hot loop pays nothing for the
abstraction. Other arrays (CuPy, PyTorch tensors) go through ``array_api_compat``.

A :class:`Backend` names where a network's arrays live: ``get_backend("torch", "cuda")``
knows its namespace ``xp``, moves host arrays to its device once (:meth:`Backend.asarray`)
and brings results back (:meth:`Backend.to_numpy`). Weights are always *drawn* on the host
with NumPy's generator and then moved, so the same seed gives the same network on every
backend.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._words import plural

__all__ = [
    "get_namespace",
    "to_numpy",
    "DTYPES",
    "resolve_dtype",
    "Backend",
    "BACKENDS",
    "BackendUnavailable",
    "DeviceUnavailable",
    "get_backend",
    "ALIGNMENT",
    "aligned_zeros",
    "aligned_copy",
]

DTYPES = {"float32": np.float32, "float64": np.float64}

#: the byte boundary the data of nnmath's own NumPy parameters, optimizer states and the
#: compiled epoch's buffers start on: a cache line, so no vector load straddles two
ALIGNMENT = 64


def aligned_zeros(shape: int | tuple[int, ...], dtype: Any) -> np.ndarray:
    """Zeros of ``shape`` and ``dtype`` whose data start on an :data:`ALIGNMENT`-byte boundary.

    NumPy aligns a small array's data to 16 bytes only, so where a row of ``W`` or of a
    mini-batch begins within a cache line changes from one allocation to the next; the
    compiled epoch's vector loads that straddle two lines slow a whole epoch down, depending
    on the allocation (``benchmarks/RESULTS.md``, "Cache-line aligned arrays";
    ``benchmarks/alignment.py``).
    """
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.zeros(nbytes + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def aligned_copy(a: Any, dtype: Any = None) -> np.ndarray:
    """A C-ordered copy of the NumPy array ``a`` (cast to ``dtype``) on an aligned buffer."""
    a = np.asarray(a, dtype=dtype)
    out = aligned_zeros(a.shape, a.dtype)
    out[...] = a
    return out


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


_NAMESPACES: dict[type, Any] = {}  # array type -> namespace (torch.Tensor -> compat torch)


def get_namespace(*arrays: Any) -> Any:
    """Return the array namespace of ``arrays`` (NumPy for NumPy arrays and scalars).

    The namespace of a torch tensor or CuPy array depends only on its type, so it is looked
    up once per type and cached (the core asks for it several times per mini-batch).
    """
    for a in arrays:
        if type(a) is np.ndarray or isinstance(a, (np.generic, float, int)):
            continue
        xp = _NAMESPACES.get(type(a))
        if xp is not None:
            return xp
        try:
            import array_api_compat
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise TypeError(
                f"arrays of type {type(a).__name__} need the 'array-api-compat' package: "
                "pip install array-api-compat"
            ) from exc
        xp = _NAMESPACES[type(a)] = array_api_compat.array_namespace(a)
        return xp
    return np


def to_numpy(a: Any) -> np.ndarray:
    """Copy any backend's array to a NumPy array on the host (NumPy arrays pass through)."""
    if isinstance(a, np.ndarray):
        return a
    kind = _array_library(a)
    if kind == "cupy":
        return a.get()
    if kind == "torch":
        return a.detach().cpu().numpy()
    return np.asarray(a)  # lists, pandas DataFrames and Series (their .get is not CuPy's)


def _array_library(a: Any) -> str | None:
    """``"cupy"`` or ``"torch"`` when ``a`` is an array of that library, else ``None``.

    Decided by the module of its type, not by its methods: a pandas DataFrame has a ``.get``
    as a CuPy array has, and is neither.
    """
    root = type(a).__module__.partition(".")[0]
    return root if root in ("cupy", "torch") else None


# ---------------------------------------------------------------------------- backends


class BackendUnavailable(ImportError):
    """The backend's package is not installed (the message says what to install)."""


class DeviceUnavailable(ValueError):
    """The device asked for is not present (e.g. ``device="cuda"`` on a machine with no GPU)."""


@dataclass(frozen=True)
class Backend:
    """Where a network's arrays live: a package (``name``), its namespace ``xp``, a device.

    Attributes
    ----------
    name : {"numpy", "cupy", "torch"}
    device : str
        ``"cpu"`` or ``"cuda"`` (``"cuda:1"`` picks a GPU).
    xp : module
        The array-API namespace: ``numpy`` itself, ``array_api_compat.torch`` or
        ``array_api_compat.cupy``.
    """

    name: str
    device: str
    xp: Any = field(repr=False, compare=False)
    _native: Any = field(repr=False, compare=False, default=None)  # torch / cupy module

    def asarray(self, x: Any, dtype: Any = None, copy: bool = False) -> Any:
        """``x`` as an array of this backend on its device (one host-to-device copy).

        Parameters
        ----------
        x : array-like
            A NumPy array, any other backend's array (copied through the host), or a list.
        dtype : NumPy dtype, optional
            ``np.float32`` / ``np.float64`` / ``np.int64``; ``None`` keeps ``x``'s dtype.
        copy : bool
            Always return new memory. Otherwise a CPU array may share memory with ``x``
            (NumPy arrays and CPU tensors convert without a copy where they can).
        """
        if self.name == "numpy":
            if copy:  # new memory: on an aligned buffer, like the network's own arrays
                return aligned_copy(to_numpy(x), dtype)
            return np.asarray(to_numpy(x), dtype=dtype)
        if self.name == "torch":
            torch = self._native
            tdtype = None if dtype is None else _TORCH_DTYPES[np.dtype(dtype).name]
            is_tensor = isinstance(x, torch.Tensor)
            t = torch.as_tensor(x if is_tensor else to_numpy(x), dtype=tdtype, device=self.device)
            return t.clone() if copy and (is_tensor or self.device == "cpu") else t
        cupy = self._native  # cupy
        with cupy.cuda.Device(_cuda_index(self.device)):
            if not isinstance(x, cupy.ndarray):
                x = to_numpy(x)
            return cupy.array(x, dtype=dtype, copy=True) if copy else cupy.asarray(x, dtype=dtype)

    def owns(self, a: Any) -> bool:
        """Whether ``a`` is already an array of this backend on its device."""
        if self.name == "numpy":
            return type(a) is np.ndarray
        if self.name == "torch":
            torch = self._native
            return isinstance(a, torch.Tensor) and _same_torch_device(a.device, self.device)
        return isinstance(a, self._native.ndarray) and a.device.id == _cuda_index(self.device)

    def to_numpy(self, a: Any) -> np.ndarray:
        """``a`` copied to the host as a NumPy array (NumPy arrays pass through)."""
        return to_numpy(a)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        """Copied or pickled (scikit-learn clones estimators) by name and device."""
        return get_backend, (self.name, self.device)

    def copy(self, a: Any) -> Any:
        """A new array with ``a``'s values on the same device."""
        return a.clone() if self.name == "torch" else a.copy()

    def synchronize(self) -> None:
        """Wait for queued GPU work, so that wall-clock timings are honest (no-op on a CPU)."""
        if self.device == "cpu":
            return
        if self.name == "torch":
            self._native.cuda.synchronize(self.device)
        else:
            self._native.cuda.Device(_cuda_index(self.device)).synchronize()


_TORCH_DTYPES: dict[str, Any] = {}

#: backend name -> (module to import, what to install, devices it runs on)
BACKENDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "numpy": ("numpy", "pip install numpy", ("cpu",)),
    "torch": ("torch", 'pip install "nnmath[torch]" (torch==2.13.0)', ("cpu", "cuda")),
    "cupy": ("cupy", 'pip install "nnmath[cupy]" (cupy-cuda12x, needs an NVIDIA GPU)', ("cuda",)),
}

_NO_GPU = "no GPU present: {what} found no CUDA device; use device='cpu' (--device cpu)"


def _cuda_index(device: str) -> int:
    return int(device.partition(":")[2] or 0)


def _same_torch_device(dev: Any, device: str) -> bool:
    if dev.type != device.partition(":")[0]:
        return False
    return dev.type == "cpu" or (dev.index or 0) == _cuda_index(device)


def get_backend(name: str | Backend = "numpy", device: str | None = None) -> Backend:
    """The backend ``name`` on ``device``, checked to be usable on this machine.

    Parameters
    ----------
    name : {"numpy", "torch", "cupy"} or Backend
        ``"numpy"`` (default, CPU), ``"torch"`` (PyTorch tensors, CPU or CUDA) or ``"cupy"``
        (NVIDIA GPUs only). A :class:`Backend` passes through (``device`` must then be None
        or agree).
    device : {"cpu", "cuda", "cuda:N"}, optional
        Defaults to ``"cpu"`` for numpy and torch, ``"cuda"`` for cupy.

    Returns
    -------
    Backend

    Raises
    ------
    ValueError
        An unknown backend name, or a device that backend cannot use (numpy on "cuda").
    BackendUnavailable
        (an ``ImportError``) The backend's package is not installed; says what to install.
    DeviceUnavailable
        (a ``ValueError``) ``"cuda"`` was asked for and no GPU is present.
    """
    if isinstance(name, Backend):
        if device is not None and device != name.device:
            return get_backend(name.name, device)
        return name
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of {sorted(BACKENDS)}")
    name = name.lower()
    module, install, devices = BACKENDS[name]
    device = devices[0] if device is None else str(device).lower()
    kind = device.partition(":")[0]
    if kind not in ("cpu", "cuda") or (kind == "cpu" and device != "cpu"):
        raise ValueError(f"unknown device {device!r}: use 'cpu' or 'cuda' (or 'cuda:N')")
    if kind not in devices:
        hint = {
            "numpy": "use backend='torch' or 'cupy' for a GPU",
            "cupy": "CuPy runs on NVIDIA GPUs only; use backend='numpy' or 'torch' on a CPU",
        }
        raise ValueError(
            f"backend {name!r} does not run on device {device!r}: {hint.get(name, '')}"
        )
    if name == "numpy":
        return Backend("numpy", "cpu", np, np)
    try:
        native = importlib.import_module(module)
        compat = importlib.import_module(f"array_api_compat.{module}")
    except ImportError as exc:
        missing = getattr(exc, "name", None) or module
        what = install if missing == module else "pip install array-api-compat"
        raise BackendUnavailable(
            f"backend {name!r} needs the package {missing!r}, which is not installed: {what}"
        ) from exc
    if name == "torch":
        _TORCH_DTYPES.update(float32=native.float32, float64=native.float64, int64=native.int64)
        if kind == "cuda":
            if not native.cuda.is_available():
                raise DeviceUnavailable(_NO_GPU.format(what="PyTorch"))
            if _cuda_index(device) >= native.cuda.device_count():
                raise DeviceUnavailable(
                    f"device {device!r} does not exist: PyTorch sees "
                    f"{plural(native.cuda.device_count(), 'GPU')}"
                )
    else:  # cupy
        try:
            count = native.cuda.runtime.getDeviceCount()
        except Exception:  # CUDA driver missing or broken: CuPy raises its own errors
            count = 0
        if count == 0:
            raise DeviceUnavailable(_NO_GPU.format(what="CuPy"))
        if _cuda_index(device) >= count:
            raise DeviceUnavailable(
                f"device {device!r} does not exist: CuPy sees {plural(count, 'GPU')}"
            )
    return Backend(name, device, compat, native)
