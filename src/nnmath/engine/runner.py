"""The compiled training epoch: the same mini-batch epoch as the reference loop, in C.

The readable reference is :meth:`nnmath.network.Network.backprop_columns` followed by
``optimizer.step``; it allocates fresh arrays for every z, a, δ and ∇ of every mini-batch and
pays Python's per-call overhead a few dozen times per mini-batch. The compiled epoch
(``src/nnmath/engine/_ckernels.c`` with ``_ckernels_real.h`` and ``_ckernels_epoch.h``, built as
the optional extension ``nnmath.engine._ckernels`` by ``pip install`` where a C compiler is at
hand, called once per epoch through :mod:`nnmath.engine.binding`) computes the same numbers
(``tests/test_engine.py`` checks them against the reference over the registries' whole
cross product) with no Python per mini-batch: BLAS ``?gemm`` straight into preallocated
buffers, plain SGD's update fused into the weight-gradient product, and for mini-batches of
64 or more threads that share each mini-batch (:class:`EpochRunner`'s ``threads``).

What it supports is read from the registries: an activation, cost or optimizer whose
``kernel`` id the built library knows (``nnm_knows``), NumPy float32 / float64 data and
dropout. :func:`unsupported_reason` says why anything else (a custom activation object, a
subclassed network, another array library, an entry with no kernel) trains on the
reference loop, and :func:`nnmath.train.fit` records it in ``history.extra``.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import dropout as _dropout
from .._fit_checks import check_array, check_network
from ..activations import is_builtin
from ..backend import aligned_zeros
from ..costs import COSTS
from ..optim import OPTIMIZERS, Optimizer
from . import binding
from .blas import blas_threads, gemm_addresses, one_blas_thread, thread_budget

__all__ = [
    "EpochRunner",
    "epoch_runner",
    "unsupported_reason",
    "c_available",
    "default_threads",
    "FAST_BACKENDS",
    "GEMM_ROWS",
]

#: the compiled backends ("auto" takes the first one available)
FAST_BACKENDS = ("c",)

#: Rows per BLAS call of a narrow layer's products in the threaded C epoch. A thread's share
#: of a mini-batch (64 rows at batch 128 on 2 threads) goes to ``?gemm`` in calls of this
#: many rows when the layer has at most 32 outputs, one call of the whole share would exceed
#: 10^6 multiply-adds and each call of this many rows would not (``nnm_call_rows`` in
#: ``_ckernels.c``): OpenBLAS takes such small products through kernels without packing,
#: and on this project's AVX-512 machine the book's 784 → 30 layer's are 1.2–1.4× faster so
#: (``benchmarks/gemm_calls.py``). One thread never cuts (BLAS keeps its own threads there).
#: The numbers are the same products; only the sum over the rows in δ aᵀ is split.
GEMM_ROWS = 32


def c_available() -> bool:
    """Whether the C extension ``nnmath.engine._ckernels`` is built (and BLAS was found)."""
    return binding.library() is not None


def unsupported_reason(net: Any, optimizer: Any, X: Any, Y: Any) -> str | None:
    """Why the compiled epoch cannot train this combination, or ``None`` when it can.

    Raises
    ------
    ValueError
        For a network whose per-layer attributes do not fit its architecture
        (:func:`nnmath._fit_checks.check_network`, as on the reference loop).
    """
    from ..network import Network

    if not c_available():
        return "the C extension nnmath.engine._ckernels is not built (reinstall with a C compiler)"
    if not isinstance(net, Network):
        return f"net is a {type(net).__name__}, not a Network"
    for method in ("forward", "backprop_columns"):
        if getattr(type(net), method) is not getattr(Network, method):
            return f"{type(net).__name__} overrides Network.{method}"
    check_network(net)  # before the activations are read: one clear error, as fit gives
    dtype = np.dtype(net.dtype)
    if dtype not in (np.float32, np.float64):
        return f"dtype {dtype} (only float32 and float64)"
    for name, arr in (("X", X), ("Y", Y)):
        if type(arr) is not np.ndarray:
            return f"{name} is a {type(arr).__name__}, not a NumPy array"
        if arr.dtype != dtype or not arr.flags.c_contiguous or arr.ndim != 2:
            return f"{name} is not a C-contiguous 2-D {dtype} array"
    return _kernel_reason(net, optimizer) or _array_reason(net, optimizer, dtype)


def _kernel_reason(net: Any, optimizer: Any) -> str | None:
    """Why an activation, the cost or the optimizer has no kernel in the built library."""
    for act in net.activation_functions:
        if not is_builtin(act):
            return f"activation {act.name!r} ({type(act).__name__}) is not a registry entry"
        if not binding.knows("activation", act.kernel):
            return f"activation {act.name!r} has no compiled kernel (kernel id {act.kernel})"
    cost = net.cost_function
    if type(cost) is not COSTS.get(cost.name):
        return f"cost {cost.name!r} ({type(cost).__name__}) is not a registry entry"
    if not binding.knows("cost", cost.kernel):
        return f"cost {cost.name!r} has no compiled kernel (kernel id {cost.kernel})"
    if type(optimizer) is not OPTIMIZERS.get(getattr(optimizer, "name", None)):
        return f"optimizer {type(optimizer).__name__} is not a registry entry"
    if not binding.knows("optimizer", optimizer.kernel):
        return f"optimizer {optimizer.name!r} has no compiled kernel (kernel id {optimizer.kernel})"
    if len(optimizer.kernel_hyper()) > 5 or len(optimizer.state_slots) > 4:
        return f"optimizer {optimizer.name!r} needs more hyper-parameters or state than C has"
    return None


def _array_reason(net: Any, optimizer: Any, dtype: np.dtype) -> str | None:
    state = [a for v in getattr(optimizer, "state", {}).values() if isinstance(v, list) for a in v]
    for arr in (*net.weights, *net.biases, *state):
        if type(arr) is not np.ndarray or arr.dtype != dtype or not arr.flags.c_contiguous:
            return "weights or optimizer state are not C-contiguous NumPy arrays of the dtype"
    return None


def epoch_runner(
    net: Any,
    optimizer: Optimizer,
    X: Any,
    Y: Any,
    mini_batch_size: int,
    backend: str = "auto",
    threads: int | None = None,
) -> EpochRunner | None:
    """An :class:`EpochRunner` for this training run, or ``None`` when it is not supported
    (:func:`unsupported_reason` says why).

    Parameters
    ----------
    backend : {"auto", "c"}
        ``"auto"`` takes the C epoch when it is built; ``"c"`` insists on it.
    threads : int, optional
        Threads that share each mini-batch; see :class:`EpochRunner`.

    Raises
    ------
    ValueError
        For an unknown backend (the Numba and NumPy loops of earlier versions are gone), or
        ``"c"`` when the extension is not built.
    """
    if backend not in ("auto", *FAST_BACKENDS):
        raise ValueError(
            f"unknown fast backend {backend!r}: choose 'auto' or 'c' (fast=True), or fast=False "
            "for the reference loop (the 'numba' and 'numpy' loops were removed)"
        )
    if backend == "c" and not c_available():
        raise ValueError(
            "the 'c' fast path needs the compiled extension nnmath.engine._ckernels: reinstall "
            "with a C compiler (pip install -e .)"
        )
    if unsupported_reason(net, optimizer, X, Y) is not None:
        return None
    return EpochRunner(net, optimizer, X, Y, mini_batch_size, "c", threads)


def default_threads(mini_batch_size: int) -> int:
    """The threads the compiled epoch shares each mini-batch between when not told
    (:class:`EpochRunner`'s ``threads=None``)."""
    return _epoch_threads(int(mini_batch_size), None)


def _epoch_threads(B: int, threads: int | None) -> int:
    """The threads that share each mini-batch (see :class:`EpochRunner`)."""
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int | np.integer) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        if threads > 1 and blas_threads() is None:
            raise ValueError(
                "threads > 1 needs the C epoch calling NumPy's OpenBLAS "
                f"(BLAS {getattr(gemm_addresses(), 'name', None)!r})"
            )
        return min(int(threads), 64, B)
    blas = blas_threads()
    if blas is None or B < 64:  # below ~64 rows the two barriers per mini-batch cost more
        return 1
    return min(thread_budget(blas), B)


class EpochRunner:
    """Preallocated buffers for one training run, and :meth:`run_epoch` to use them.

    Buffers hold one mini-batch with examples as *rows*: ``A[l]`` is ``(B, sizes[l])``
    (``A[0]`` the gathered inputs), ``Z[i]`` and ``D[i]`` are ``(B, sizes[i+1])``; the
    transpose of each is the lecture's column matrix ``a^l``, ``z^l``, ``δ^l``. A layer with
    dropout also has its mask and the masked activations its successor reads.

    Parameters
    ----------
    net : Network
    optimizer : Optimizer
        A registry optimizer with a kernel; its ``state`` is created by its ``init_state``
        as ``step`` would create it, and updated in place.
    X, Y : C-contiguous arrays (n, sizes[0]), (n, sizes[-1]) of the network's dtype.
    mini_batch_size : int
    backend : {"c"}
    threads : int, optional
        How many threads share each mini-batch. Each thread gathers and backpropagates its
        own rows with BLAS on one thread; the update then uses the sum of all threads'
        gradients, the same mean over the mini-batch (to rounding). The default is the
        thread count NumPy's OpenBLAS is allowed (``OPENBLAS_NUM_THREADS``,
        ``threadpoolctl``), at most the cores this process may use; 1 for mini-batches
        under 64 (measured slower there: the threads meet twice per mini-batch) and when the
        epoch does not call NumPy's OpenBLAS. A thread that finds another's share not
        started yet (another process holds that thread's core) runs it itself, with the
        same result bit for bit; after each epoch ``threads_run`` says how many threads
        started and ``parts_taken`` how many shares ran on another thread than their own.
    """

    def __init__(
        self,
        net: Any,
        optimizer: Optimizer,
        X: np.ndarray,
        Y: np.ndarray,
        mini_batch_size: int,
        backend: str = "c",
        threads: int | None = None,
    ) -> None:
        check_network(net)
        self.net, self.optimizer, self.X, self.Y = net, optimizer, X, Y
        # the buffers hold the rows that exist: a mini-batch above n is the whole set, once
        self.B, self.backend = max(1, min(int(mini_batch_size), X.shape[0])), backend
        self.threads = _epoch_threads(self.B, threads)
        self.threads_run = self.threads  # how many the last epoch ran on (fewer if some failed)
        self.parts_taken = 0  # of the last epoch's parts, how many ran on another's thread
        self.dtype = dtype = np.dtype(net.dtype)
        self.sizes = sizes = list(net.sizes)  # what the buffers are built for
        B = self.B
        self.A = tuple(aligned_zeros((B, s), dtype) for s in sizes)
        self.Z = tuple(aligned_zeros((B, s), dtype) for s in sizes[1:])
        self.D = tuple(aligned_zeros((B, s), dtype) for s in sizes[1:])
        self.Yb = aligned_zeros((B, sizes[-1]), dtype)
        T = self.threads  # thread t's Σ δ aᵀ and Σ δ per layer
        self.NWT = tuple(aligned_zeros(W.shape, W.dtype) for _ in range(T) for W in net.weights)
        self.NBT = tuple(aligned_zeros(b.shape, b.dtype) for _ in range(T) for b in net.biases)
        self.drop = _dropout.layout(sizes, net.dropout)
        active = zip(sizes[1:], self.drop.active)
        self.MK = tuple(aligned_zeros((B, s), dtype) if on else None for s, on in active)
        passed_on = tuple(  # each hidden layer's output as its successor reads it
            aligned_zeros((B, s), dtype) if on else a
            for s, on, a in zip(sizes[1:], self.drop.active, self.A[1:])
        )
        self.AIN = (self.A[0], *passed_on)  # each layer's input: a^l, or a^l ⊙ mask^l
        self.eps = float(np.finfo(dtype).eps)
        self._c_epoch = self._c_struct()

    def _c_struct(self) -> Any:
        """The C epoch's struct, with the addresses of the buffers that never change."""
        net, drop = self.net, self.drop
        acts = net.activation_functions
        self._c_train = binding.epoch_function(self.dtype)
        self._arrays = {  # kept alive: the struct points into them
            "sizes": np.array(self.sizes, np.int64),
            "codes": np.array([a.kernel for a in acts], np.int64),
            "alphas": np.array([a.kernel_param for a in acts], np.float64),
            "drop_thresh": np.array(drop.thresholds, np.uint64),
            "drop_scale": np.array(drop.scales, np.float64),
            "drop_offset": np.array(drop.offsets, np.int64),
        }
        own = (self.A, self.Z, self.D, self.AIN, self.MK, self.NWT, self.NBT)
        self._c_keep = {name: binding.pointers(arrays) for name, arrays in zip(_OWN, own)}
        cost = net.cost_function
        c = binding.CEpoch(
            B=self.B,
            L=len(self.sizes) - 1,
            cost=cost.kernel,
            fused=int(cost.fused_activation == acts[-1].name),
            opt=self.optimizer.kernel,
            blas64=int(gemm_addresses().int64),
            Yb=self.Yb.ctypes.data,
            gemm=binding.gemm_address(self.dtype),
            gemm_rows=GEMM_ROWS if self.threads > 1 else 0,
            drop_words=drop.words,
        )
        for name, array in self._arrays.items():
            setattr(c, name, array.ctypes.data)
        for name, array in self._c_keep.items():
            setattr(c, name, ctypes.addressof(array))
        return c

    def _own_lengths(self) -> list[int]:
        """The elements of the epoch's own buffers, in ``nnm_epoch.lens``' order (``NNM_OWN``
        in ``_ckernels.c``): Yb, each A[l], each layer's Z, D, AIN and MK (0: none), then
        each thread's parts of every layer's ∂C/∂w and ∂C/∂b."""
        own = [self.Yb, *self.A]
        own += [a for layer in zip(self.Z, self.D, self.AIN, self.MK) for a in layer]
        own += [a for parts in zip(self.NWT, self.NBT) for a in parts]
        return [0 if a is None else binding.length(a, self.dtype) for a in own]

    @contextlib.contextmanager
    def blas_on_one_thread(self) -> Iterator[None]:
        """Hold NumPy's OpenBLAS on one thread inside the block when this runner's epoch
        starts threads of its own (each then calls BLAS on its rows); else do nothing.

        :func:`nnmath.train.fit` holds it over all its epochs and evaluations: after a call
        on several threads OpenBLAS's workers keep spinning for a while (about 0.1 s here),
        and the next epoch's threads would share the cores with them.
        """
        blas = blas_threads() if self.threads > 1 else None
        if blas is None:
            yield
            return
        with one_blas_thread(blas):  # counted: a fit in another thread keeps its own count
            yield

    def _state(self) -> tuple[Any, Any, Any, Any]:
        """The optimizer's state lists in the kernel's order (s1_w, s1_b, s2_w, s2_b), created
        by its ``init_state`` as its ``step`` would; the parameters stand in for unused ones."""
        opt, net = self.optimizer, self.net
        if not opt.state:
            opt.state = opt.init_state(net)
        slots = [opt.state[name] for name in opt.state_slots]
        fill = (net.weights, net.biases) * 2
        return tuple(slots + list(fill[len(slots) :]))  # type: ignore[return-value]

    def _parameters(self) -> tuple[tuple[Any, ...], ...]:
        """W, b and the four optimizer-state slots as they stand now, as tuples of the very
        arrays the epoch will write into, checked by :meth:`_check_arrays`: held by the
        caller until the epoch returns, they stay alive whatever another thread puts into
        ``net.weights`` meanwhile."""
        net = self.net
        lists = tuple(_frozen(a) for a in (net.weights, net.biases, *self._state()))
        self._check_arrays(lists)
        return lists

    def _lengths(self, params: tuple, perm: np.ndarray, hp: np.ndarray, scores: Any) -> Any:
        """The length of every array the C epoch is given, in ``nnm_epoch.lens``' order
        (``_ckernels.c``): per layer W, b and the four state slots, X, Y and perm (-1 where
        the dtype or C order is not the epoch's), the small arrays' entries, the pointer
        arrays' entries, then the epoch's own buffers (:meth:`_own_lengths`)."""
        dtype, small = self.dtype, self._arrays
        lens = [binding.length(a, dtype) for arrays in zip(*params) for a in arrays]
        lens += [binding.length(self.X, dtype), binding.length(self.Y, dtype)]
        lens.append(binding.length(perm, np.int64))
        arrays = [small["sizes"], small["codes"], small["alphas"], hp]
        arrays += [small["drop_thresh"], small["drop_scale"], small["drop_offset"]]
        lens += [a.size for a in arrays] + [0 if scores is None else scores.size]
        lens += [len(a) for a in params] + [len(self._c_keep[name].arrays) for name in _OWN]
        return np.array(lens + self._own_lengths(), np.int64)

    def _check_arrays(self, lists: tuple) -> None:
        """Every array the compiled epoch reads or writes has the shape the layer sizes imply,
        the network's dtype and C order, and what it writes is writeable (else a ValueError
        naming it; nothing is changed).

        The C epoch also refuses buffers of the wrong length (``BAD_LENGTH``); this names the
        tensor, and also catches what has the right length in the wrong shape (a transposed
        ``W`` or state tensor) and what C must not write into (a read-only memory map)."""
        dtype, sizes = self.dtype, self.sizes
        L = len(sizes) - 1
        names = ("weights", "biases", *(f"optimizer state {s!r}" for s in self._slot_names()))
        for name, arrays in zip(names, lists):
            if len(arrays) != L:
                raise ValueError(
                    f"{name} has {len(arrays)} tensors, the network has {L} layers "
                    f"(sizes {sizes}); nothing was changed"
                )
        for k, (name, arrays) in enumerate(zip(names, lists)):
            for i, a in enumerate(arrays):
                shape = (sizes[i + 1], sizes[i]) if k % 2 == 0 else (sizes[i + 1],)
                check_array(f"{name}[{i}]", a, shape, dtype, sizes, c_order=True)
        n = self.X.shape[0]
        for name, a, shape in (("X", self.X, (n, sizes[0])), ("Y", self.Y, (n, sizes[-1]))):
            check_array(name, a, shape, dtype, sizes, c_order=True, writeable=False)

    def _slot_names(self) -> tuple[str, ...]:
        """The names of the four state slots (the parameters' names where a slot is unused)."""
        slots = tuple(self.optimizer.state_slots)
        return slots + ("weights", "biases", "weights", "biases")[len(slots) :]

    def _hyper(self) -> np.ndarray:
        """η, λ/n, the optimizer's own p0..p4, and the dtype's ε (clipping of ln a)."""
        opt = self.optimizer
        own = list(opt.kernel_hyper()) + [0.0] * (5 - len(opt.kernel_hyper()))
        return np.array([opt.eta, opt.lmbda / opt.n, *own, self.eps], np.float64)

    def run_epoch(
        self, perm: np.ndarray, dropout_key: int | None = None, score: bool = False
    ) -> tuple[float, int] | None:
        """Train on the mini-batches ``perm[k:k+B]`` in order, updating the network in place.

        Parameters
        ----------
        perm : (n,) integer array
            The epoch's shuffle (``rng.permutation(n)``, as the reference loop draws it).
        dropout_key : int, optional
            The epoch's dropout key (:mod:`nnmath.dropout`); needed when the network drops.
        score : bool
            Also add up, over the epoch's forward passes, ``Σ_x C_x`` and the rows whose
            ``argmax a^L`` is that of ``y``, each as the weights stood for its mini-batch.

        Returns
        -------
        (float, int) or None
            With ``score``: that sum of costs and that number of hits.

        Raises
        ------
        ValueError
            For a ``perm`` that is not a permutation of the rows, a missing dropout key, a
            parameter or state tensor that is not a writeable C-contiguous array of its
            layer's shape and the dtype, or (should the library lack one) a kernel id the
            compiled epoch does not know.
        """
        X, Y = self.X, self.Y
        n = X.shape[0]
        perm = np.ascontiguousarray(perm, dtype=np.int64)
        if perm.ndim != 1 or perm.shape[0] != n or (n and not 0 <= perm.min() <= perm.max() < n):
            raise ValueError(f"perm must be a permutation of {n} row indices")
        if self.drop.words and dropout_key is None:
            raise ValueError("this network drops units: run_epoch needs the epoch's dropout_key")
        c = self._c_epoch
        params = self._parameters()  # checked, and alive until the epoch returns
        hp = self._hyper()
        scores = np.zeros(2 * self.threads) if score else None
        lens = self._lengths(params, perm, hp, scores)  # C refuses any the sizes do not imply
        keep = {name: binding.pointers(arrays) for name, arrays in zip(_PARAMS, params)}
        for name, array in keep.items():
            setattr(c, name, ctypes.addressof(array))
        c.n, c.X, c.Y = n, X.ctypes.data, Y.ctypes.data
        c.lens, c.n_lens = lens.ctypes.data, lens.size
        c.perm, c.hp, c.threads = perm.ctypes.data, hp.ctypes.data, self.threads
        c.t = int(self.optimizer.state.get("t", 0))
        c.drop_key = int(dropout_key or 0) % 2**64
        c.scores = None if scores is None else scores.ctypes.data
        with self.blas_on_one_thread():
            status = self._c_train(ctypes.byref(c))
        if status in (binding.BAD_LENGTH, binding.BAD_VALUE):
            raise ValueError(
                "the compiled epoch refused an array or a value (a tensor of another shape, "
                f"dtype or C order than the layer sizes {self.sizes} imply for {self.dtype}, "
                "a row index or a dropout probability out of range); nothing was changed"
            )
        if status:
            raise ValueError(
                f"the compiled epoch does not know this {binding.UNKNOWN_IDS.get(status)}'s "
                "kernel id: rebuild nnmath.engine._ckernels (pip install -e .)"
            )
        self.threads_run = int(c.threads)
        self.parts_taken = _parts_taken() if self.threads_run > 1 else 0
        if "t" in self.optimizer.state:
            self.optimizer.state["t"] = int(c.t)
        if scores is None:
            return None
        return float(scores[0::2].sum()), int(scores[1::2].sum())


#: the struct's pointer arrays of the caller's tensors, and of the epoch's own buffers
_PARAMS = ("W", "b", "S1W", "S1B", "S2W", "S2B")
_OWN = ("A", "Z", "D", "AIN", "MK", "NWT", "NBT")


def _parts_taken() -> int:
    """How many parts of its mini-batches (a thread's rows, or its slice of the step) the
    last C epoch started on this thread ran on another thread than their own, which had not
    got to them (bit for bit the same result); see ``_threads.h``."""
    report = getattr(binding.library(), "nnm_parts_taken", None)
    if report is None:
        return 0
    report.restype = ctypes.c_int64
    return int(report())


def _frozen(arrays: Any) -> Any:
    """A list's entries as a tuple taken at once (anything else as it is, for the check)."""
    return tuple(arrays) if isinstance(arrays, list | tuple) else arrays
