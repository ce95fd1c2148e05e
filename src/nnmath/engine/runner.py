"""The compiled training epoch: the same mini-batch epoch as the reference loop, in C.

The readable reference is :meth:`nnmath.network.Network.backprop_columns` followed by
``optimizer.step``; it allocates fresh arrays for every z, a, δ and ∇ of every mini-batch and
pays Python's per-call overhead a few dozen times per mini-batch. The compiled epoch
(``src/nnmath/engine/_ckernels.c`` with its headers, built as
the optional extension ``nnmath.engine._ckernels`` by ``pip install`` where a C compiler is at
hand, called once per epoch through :mod:`nnmath.engine.binding`) computes the same numbers
(``tests/test_engine.py`` checks them against the reference over the registries' whole
cross product) with no Python per mini-batch: BLAS ``?gemm`` straight into preallocated
buffers, plain SGD's update fused into the weight-gradient product, and for mini-batches of
64 or more threads that share each mini-batch (:class:`EpochRunner`'s ``threads``).

What it supports is read from the built library (:mod:`nnmath.engine.support`); anything
else trains on the reference loop, and :func:`nnmath.train.fit` records why in
``history.extra``.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import dropout as _dropout
from .._fit_checks import check_array, check_network
from ..backend import aligned_zeros
from ..optim import Optimizer
from . import binding, layered
from .blas import blas_threads, gemm_addresses, one_blas_thread
from .sharing import GEMM_ROWS, epoch_threads, product_parts
from .support import c_available, unsupported_reason

__all__ = [
    "EpochRunner",
    "epoch_runner",
    "unsupported_reason",
    "c_available",
    "FAST_BACKENDS",
]

#: the compiled backends ("auto" takes the first one available)
FAST_BACKENDS = ("c",)


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
    if unsupported_reason(net, optimizer, X, Y, mini_batch_size) is not None:
        return None
    return EpochRunner(net, optimizer, X, Y, mini_batch_size, "c", threads)


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
        under 64 (slower there, as the threads meet twice per mini-batch: ``RESULTS.md``,
        "The threaded C epoch") and when the epoch does not call NumPy's OpenBLAS. A thread
        that finds another's share not started yet (another process holds that thread's
        core) runs it itself, with the same result bit for bit; after each epoch
        ``threads_run`` says how many threads started and ``parts_taken`` how many shares
        ran on another thread than their own. With one thread, each large product (at least
        ``NNM_SPLIT_MIN`` multiply-adds) is cut into ``product_parts`` parts of its output
        (as many as OpenBLAS may use threads), each a BLAS call on one thread, run by
        whichever of that many threads gets to it first (``_crew.h``); ``parts_taken`` then
        counts the parts the epoch's own thread ran for a helper kept off its core.
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
        self.plan = layered.plan_of(net) if getattr(net, "layered", False) else None
        if isinstance(self.plan, str):
            raise ValueError(f"the compiled epoch cannot train this network: {self.plan}")
        self.threads = epoch_threads(self.B, threads)
        self.product_parts = product_parts(self.threads)
        self.threads_run = self.threads  # how many the last epoch ran on (fewer if some failed)
        self.parts_taken = 0  # of the last epoch's parts, how many ran on another's thread
        self.dtype = dtype = np.dtype(net.dtype)
        # what the buffers are built for
        self.sizes = sizes = list(self.plan.sizes if self.plan else net.sizes)
        B = self.B
        self.A = tuple(aligned_zeros((B, s), dtype) for s in sizes)
        self.Z = tuple(aligned_zeros((B, s), dtype) for s in sizes[1:])
        self.D = tuple(aligned_zeros((B, s), dtype) for s in sizes[1:])
        self.y_batch = aligned_zeros((B, sizes[-1]), dtype)
        T = self.threads  # thread t's Σ δ aᵀ and Σ δ per layer
        weights, biases = net.weights, net.biases
        self.nabla_w_parts = tuple(
            aligned_zeros(W.shape, W.dtype) for _ in range(T) for W in weights
        )
        self.nabla_b_parts = tuple(
            aligned_zeros(b.shape, b.dtype) for _ in range(T) for b in biases
        )
        hidden = self.plan.dropout[:-1] if self.plan else net.dropout  # the output never drops
        self.drop = _dropout.layout(sizes, hidden)
        self.layer_buffers = layered.LayerBuffers(self.plan, len(sizes) - 1, B, dtype, self.threads)
        active = zip(sizes[1:], self.drop.active)
        self.mask = tuple(aligned_zeros((B, s), dtype) if on else None for s, on in active)
        passed_on = tuple(  # each hidden layer's output as its successor reads it
            aligned_zeros((B, s), dtype) if on else a
            for s, on, a in zip(sizes[1:], self.drop.active, self.A[1:])
        )
        self.layer_input = (self.A[0], *passed_on)  # each layer's input: a^l, or a^l ⊙ mask^l
        self.compiled = binding.required()  # the library's structs, fields and kernels
        self.kernel = binding.optimizer_kernel(optimizer.name, self._state())
        if self.kernel is None:
            raise ValueError(f"optimizer {optimizer.name!r} has no compiled kernel in this build")
        self._c_epoch = self._c_struct()

    def _c_struct(self) -> Any:
        """The C epoch's struct, with the addresses of the buffers that never change."""
        net, drop = self.net, self.drop
        acts = self.plan.activations if self.plan else net.activation_functions
        self._c_train = binding.epoch_function(self.dtype)
        self._arrays = {  # kept alive: the struct points into them
            "sizes": np.array(self.sizes, np.int64),
            "activation": np.array(
                [binding.kernel_id("activation", a.name) for a in acts], np.int64
            ),
            "alphas": np.array([a.kernel_param for a in acts], np.float64),
            "drop_thresh": np.array(drop.thresholds, np.uint64),
            "drop_scale": np.array(drop.scales, np.float64),
            "drop_offset": np.array(drop.offsets, np.int64),
        }
        own = [getattr(self, name) for name in _OWN]
        self._c_keep = {name: binding.pointers(arrays) for name, arrays in zip(_OWN, own)}
        cost = net.cost_function
        c = binding.epoch_struct()(
            B=self.B,
            L=len(self.sizes) - 1,
            cost=binding.kernel_id("cost", cost.name),
            fused=int(cost.fused_activation == acts[-1].name),
            opt=self.kernel.id,
            blas64=int(gemm_addresses().int64),
            clip_eps=float(np.finfo(self.dtype).eps),
            y_batch=self.y_batch.ctypes.data,
            gemm=binding.gemm_address(self.dtype),
            gemm_rows=GEMM_ROWS if self.threads > 1 else 0,
            product_parts=self.product_parts,
            drop_words=drop.words,
        )
        for name, array in (self._arrays | self.layer_buffers.small).items():
            setattr(c, name, array.ctypes.data)
        running = self.layer_buffers.running()  # NULLs but for batch norms: set per epoch
        own = (self.layer_buffers.xhat, self.layer_buffers.inv_std)
        for name, arrays in zip(layered.LayerBuffers.POINTERS, (*running, *own)):
            self._c_keep[name] = binding.pointers(arrays)
            setattr(c, name, ctypes.addressof(self._c_keep[name]))
        for name, array in self._c_keep.items():
            setattr(c, name, ctypes.addressof(array))
        return c

    def _own_lengths(self) -> list[int]:
        """The elements of the epoch's own buffers, in ``nnm_epoch.lens``' order (``NNM_OWN``
        in ``_checks.h``): y_batch, each A[l], each layer's Z, D, layer_input and mask (0:
        none), then each thread's parts of every layer's ∂C/∂w and ∂C/∂b."""
        own = [self.y_batch, *self.A]
        own += [a for layer in zip(self.Z, self.D, self.layer_input, self.mask) for a in layer]
        own += [a for parts in zip(self.nabla_w_parts, self.nabla_b_parts) for a in parts]
        return [0 if a is None else binding.length(a, self.dtype) for a in own]

    def close(self) -> None:
        """Nothing to let go: the epoch's threads end with each epoch (fit calls it at the
        end of a run, as for :class:`~nnmath.engine.PartsRunner`)."""

    @contextlib.contextmanager
    def blas_on_one_thread(self) -> Iterator[None]:
        """Hold NumPy's OpenBLAS on one thread inside the block when this runner's epoch
        starts threads of its own (each then calls BLAS on its rows); else do nothing.

        :func:`nnmath.train.fit` holds it over all its epochs and evaluations: after a call
        on several threads OpenBLAS's workers keep spinning for a while, and the next
        epoch's threads would share the cores with them (``benchmarks/RESULTS.md``,
        "OpenBLAS keeps spinning").
        """
        blas = blas_threads() if self.threads > 1 or self.product_parts > 1 else None
        if blas is None:
            yield
            return
        with one_blas_thread(blas):  # counted: a fit in another thread keeps its own count
            yield

    def _state(self) -> dict[str, Any]:
        """The optimizer's state, created by its ``init_state`` as its ``step`` would."""
        opt = self.optimizer
        if not opt.state:
            opt.state = opt.init_state(self.net)
        return opt.state

    def _state_fields(self) -> dict[str, str]:
        """The library's state fields (name: ``"w"`` or ``"b"``) that this optimizer's kernel
        reads and writes."""
        fields = self.compiled.state_fields
        return {name: shape for name, shape in fields.items() if name in self.kernel.state}

    def _parameters(self) -> tuple[Any, ...]:
        """W, b and each of the library's state fields (``None`` where the kernel keeps no
        such state) as they stand now, as tuples of the very arrays the epoch will write
        into, checked by :meth:`_check_arrays`: held by the caller until the epoch returns,
        they stay alive whatever another thread puts into ``net.weights`` meanwhile."""
        net, state, used = self.net, self._state(), self._state_fields()
        names = self.compiled.state_fields
        states = (_frozen(state[name]) if name in used else None for name in names)
        lists = (_frozen(net.weights), _frozen(net.biases), *states)
        self._check_arrays(lists)
        return lists

    def _lengths(self, params: tuple, perm: np.ndarray, scores: Any, running: tuple) -> Any:
        """The length of every array the C epoch is given, in ``nnm_epoch.lens``' order
        (``_checks.h``): per layer W, b and each state field (0 where there is none), X, Y
        and perm (-1 where the dtype or C order is not the epoch's), the small arrays'
        entries, the pointer arrays' entries, the epoch's own buffers
        (:meth:`_own_lengths`), then the batch norms' (:class:`layered.LayerBuffers`)."""
        dtype, small, L = self.dtype, self._arrays, len(self.sizes) - 1
        columns = [
            [0] * L if arrays is None else [binding.length(a, dtype) for a in arrays]
            for arrays in params
        ]
        lens = [n for layer in zip(*columns) for n in layer]
        lens += [binding.length(self.X, dtype), binding.length(self.Y, dtype)]
        lens.append(binding.length(perm, np.int64))
        lens += [a.size for a in small.values()] + [0 if scores is None else scores.size]
        lens += [a.size for a in self.layer_buffers.small.values()]
        lens += [0 if a is None else len(a) for a in params]
        lens += [len(self._c_keep[name].arrays) for name in _OWN]
        lens += [L] * len(layered.LayerBuffers.POINTERS)
        lens += self._own_lengths() + self.layer_buffers.lengths(running, dtype)
        return np.array(lens, np.int64)

    def _check_arrays(self, lists: tuple) -> None:
        """Every array the compiled epoch reads or writes has the shape the layer sizes imply,
        the network's dtype and C order, and what it writes is writeable (else a ValueError
        naming it; nothing is changed).

        The C epoch also refuses buffers of the wrong length (bad_length); this names the
        tensor, and also catches what has the right length in the wrong shape (a transposed
        ``W`` or state tensor) and what C must not write into (a read-only memory map)."""
        dtype, sizes = self.dtype, self.sizes
        L = len(sizes) - 1
        shapes = {"weights": "w", "biases": "b"}
        fields = self.compiled.state_fields
        shapes |= {f"optimizer state {name!r}": shape for name, shape in fields.items()}
        named = [(name, arrays, shape) for (name, shape), arrays in zip(shapes.items(), lists)]
        named = [entry for entry in named if entry[1] is not None]
        for name, arrays, _ in named:
            if len(arrays) != L:
                raise ValueError(
                    f"{name} has {len(arrays)} tensors, the network has {L} layers "
                    f"(sizes {sizes}); nothing was changed"
                )
        for name, arrays, shape in named:
            for i, a in enumerate(arrays):
                dense = self.plan is None or self.plan.kinds[i] == "dense"
                want = (sizes[i + 1], sizes[i]) if shape == "w" and dense else (sizes[i + 1],)
                check_array(f"{name}[{i}]", a, want, dtype, sizes, c_order=True)
        n = self.X.shape[0]
        for name, a, want in (("X", self.X, (n, sizes[0])), ("Y", self.Y, (n, sizes[-1]))):
            check_array(name, a, want, dtype, sizes, c_order=True, writeable=False)

    def _running(self) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """Each batch norm's running mean and variance, which the epoch updates in place in
        its layer (so the layer's state is current whenever Python reads it): writeable
        C-contiguous arrays of the dtype (a layer holding anything else is given a copy
        first), each checked against its layer's width."""
        for layer in self.layer_buffers.norms:
            state = layer.state() if layer is not None else {}
            if any(not _writeable(a, self.dtype) for a in state.values()):
                layer.set_state({k: np.array(v, self.dtype) for k, v in state.items()})
        running = self.layer_buffers.running()
        for name, arrays in zip(("running_mean", "running_var"), running):
            for i, a in enumerate(arrays):
                if a is not None:
                    want = (self.sizes[i + 1],)
                    check_array(f"{name}[{i}]", a, want, self.dtype, self.sizes, c_order=True)
        return running

    def _fill(self, c: Any, params: tuple) -> dict[str, Any]:
        """Point the struct at W, b and the state, and give it the optimizer's
        hyper-parameters and scalar state (its step count t) by name; returns the pointer
        arrays, which the caller keeps until the epoch returns."""
        opt, kernel = self.optimizer, self.kernel
        fields = self.compiled.state_fields
        keep = {"W": binding.pointers(params[0]), "b": binding.pointers(params[1])}
        for name, arrays in zip(fields, params[2:]):
            keep[name] = None if arrays is None else binding.pointers(arrays)
            setattr(c.state, name, None if arrays is None else ctypes.addressof(keep[name]))
        c.W, c.b = ctypes.addressof(keep["W"]), ctypes.addressof(keep["b"])
        hyper = self.compiled.hyper_fields
        for name in hyper:
            setattr(c.hyper, name, float(getattr(opt, name)) if name in kernel.hyper else 0.0)
        for name in kernel.state:  # the scalars of the state (arrays are fields above)
            if name not in fields:
                setattr(c, name, int(opt.state[name]))
        return keep

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
        running = self._running()  # the batch norms' running statistics, likewise
        scores = np.zeros(2 * self.threads) if score else None
        lens = self._lengths(params, perm, scores, running)  # C refuses what sizes do not imply
        _keep = self._fill(c, params)  # the pointer arrays, alive until the epoch returns
        if any(x is not None for x in self.layer_buffers.norms):  # as the layers hold them now
            for name, arrays in zip(("running_mean", "running_var"), running):
                _keep[name] = binding.pointers(arrays)
                setattr(c, name, ctypes.addressof(_keep[name]))
        c.n, c.X, c.Y = n, X.ctypes.data, Y.ctypes.data
        c.lens, c.n_lens = lens.ctypes.data, lens.size
        c.perm, c.threads = perm.ctypes.data, self.threads
        c.drop_key = int(dropout_key or 0) % 2**64
        c.scores = None if scores is None else scores.ctypes.data
        with self.blas_on_one_thread():
            status = self._c_train(ctypes.byref(c))
        word = binding.status_name(status)
        if word in ("bad_length", "bad_value"):
            raise ValueError(
                "the compiled epoch refused an array or a value (a tensor of another shape, "
                f"dtype or C order than the layer sizes {self.sizes} imply for {self.dtype}, "
                "a row index or a dropout probability out of range); nothing was changed"
            )
        if status:
            raise ValueError(
                f"the compiled epoch does not know this {word.removeprefix('unknown_')}'s "
                "kernel id: rebuild nnmath.engine._ckernels (pip install -e .)"
            )
        self.threads_run = int(c.threads)
        split = self.threads_run == 1 and self.product_parts > 1
        self.parts_taken = binding.parts_taken() if self.threads_run > 1 or split else 0
        fields = self.compiled.state_fields
        for name in self.kernel.state:  # the scalars of the state come back (t)
            if name not in fields:
                self.optimizer.state[name] = int(getattr(c, name))
        if scores is None:
            return None
        return float(scores[0::2].sum()), int(scores[1::2].sum())


#: the struct's pointer arrays of the epoch's own buffers (attributes of EpochRunner too)
_OWN = ("A", "Z", "D", "layer_input", "mask", "nabla_w_parts", "nabla_b_parts")


def _writeable(a: Any, dtype: Any) -> bool:
    """Whether the C epoch may write into ``a`` as an array of ``dtype``."""
    return type(a) is np.ndarray and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable


def _frozen(arrays: Any) -> Any:
    """A list's entries as a tuple taken at once (anything else as it is, for the check)."""
    return tuple(arrays) if isinstance(arrays, list | tuple) else arrays
