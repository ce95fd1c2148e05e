"""The fast training path: the same mini-batch epoch as :func:`nnmath.train.fit`, without waste.

The readable reference is :meth:`nnmath.network.Network.backprop_columns` followed by
``optimizer.step``; it allocates fresh arrays for every z, a, δ and ∇ of every mini-batch, and
pays Python's per-call overhead a few dozen times per mini-batch. This module computes exactly
the same numbers (``tests/test_fast.py`` shows agreement to rounding) in one of three ways:

* ``"c"`` (default when the extension ``nnmath._ckernels`` is built, which ``pip install``
  does when a C compiler is at hand): the whole epoch is one C function
  (``src/nnmath/_ckernels.c``, called through :mod:`nnmath._cepoch`) calling BLAS ``?gemm``
  directly; no Python runs per mini-batch, plain SGD fuses its update into the
  weight-gradient product, and no Numba runtime is loaded.
  For mini-batches of 64 or more it starts threads that share each mini-batch (each its
  own rows, BLAS on one thread; :class:`EpochRunner`'s ``threads``), and hands a narrow
  layer's products to BLAS in calls of :data:`GEMM_ROWS` rows where that is faster.
* ``"numba"`` (default when the C extension is missing and Numba is installed): the same
  epoch as one Numba-compiled loop (:func:`nnmath._numba_kernels.train_epoch`).
* ``"numpy"``: a Python loop over mini-batches in which every NumPy call writes into a
  preallocated buffer (``out=``), including the gather ``np.take(X, idx, out=...)``.

Either way every buffer (z^l, a^l, δ^l, ∇w, ∇b, the mini-batch itself) is allocated once by
:class:`EpochRunner` and reused, so a warm epoch allocates nothing per mini-batch.

Supported: NumPy float32 / float64 data; the built-in activations and costs; :class:`SGD`
(with or without (Nesterov) momentum, with L2) and :class:`Adam`. Anything else (a custom
activation object, a subclassed network, another array library) returns ``None`` from
:func:`epoch_runner` and :func:`nnmath.train.fit` keeps the reference path.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from typing import Any

import numpy as np

from ._blas import blas_threads, gemm_addresses, thread_budget
from .activations import is_builtin
from .costs import COSTS
from .optim import SGD, Adam, Optimizer

__all__ = [
    "ACTIVATION_CODES",
    "COST_CODES",
    "EpochRunner",
    "epoch_runner",
    "unsupported_reason",
    "numba_available",
    "c_available",
    "FAST_BACKENDS",
    "GEMM_ROWS",
]

#: the fast backends, fastest first ("auto" takes the first one available)
FAST_BACKENDS = ("c", "numba", "numpy")

#: Rows per BLAS call of a narrow layer's products in the threaded C epoch. A thread's share
#: of a mini-batch (64 rows at batch 128 on 2 threads) goes to ``?gemm`` in calls of this
#: many rows when the layer has at most 32 outputs, one call of the whole share would exceed
#: 10^6 multiply-adds and each call of this many rows would not (``nnm_call_rows`` in
#: ``_ckernels.c``): OpenBLAS takes such small products through kernels without packing,
#: and on this project's AVX-512 machine the book's 784 → 30 layer's are 1.2–1.4× faster so
#: (``benchmarks/gemm_calls.py``).
#: The numbers are the same products; only the sum over the rows in δ aᵀ is split.
GEMM_ROWS = 32

#: activation name -> code used by the kernels
ACTIVATION_CODES = {
    "sigmoid": 0,
    "tanh": 1,
    "relu": 2,
    "leaky_relu": 3,
    "elu": 4,
    "identity": 5,
    "softmax": 6,
}
#: cost name -> code used by the kernels
COST_CODES = {"quadratic": 0, "cross_entropy": 1, "log_likelihood": 2}
_SOFTMAX = ACTIVATION_CODES["softmax"]


def c_available() -> bool:
    """Whether the C extension ``nnmath._ckernels`` is built (and BLAS was found)."""
    from ._cepoch import library

    return library() is not None


def numba_available() -> bool:
    """Whether the compiled backend can be used (Numba and SciPy's BLAS import)."""
    try:
        from . import _numba_kernels  # noqa: F401
    except ImportError:
        return False
    return True


def unsupported_reason(net: Any, optimizer: Any, X: Any, Y: Any) -> str | None:
    """Why the fast path cannot train this combination, or ``None`` when it can."""
    from .network import Network

    if not isinstance(net, Network):
        return f"net is a {type(net).__name__}, not a Network"
    for method in ("forward", "backprop_columns"):
        if getattr(type(net), method) is not getattr(Network, method):
            return f"{type(net).__name__} overrides Network.{method}"
    dtype = np.dtype(net.dtype)
    if dtype not in (np.float32, np.float64):
        return f"dtype {dtype} (only float32 and float64)"
    for name, arr in (("X", X), ("Y", Y)):
        if type(arr) is not np.ndarray:
            return f"{name} is a {type(arr).__name__}, not a NumPy array"
        if arr.dtype != dtype or not arr.flags.c_contiguous or arr.ndim != 2:
            return f"{name} is not a C-contiguous 2-D {dtype} array"
    for act in net.activation_functions:
        if act.name not in ACTIVATION_CODES or not is_builtin(act):
            return f"activation {act.name!r} ({type(act).__name__}) is not a built-in one"
    cost = net.cost_function
    if cost.name not in COST_CODES or type(cost) is not COSTS.get(cost.name):
        return f"cost {cost.name!r} ({type(cost).__name__}) is not a built-in one"
    if type(optimizer) not in (SGD, Adam):
        return f"optimizer {type(optimizer).__name__} is not SGD or Adam"
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
    """An :class:`EpochRunner` for this training run, or ``None`` when it is not supported.

    Parameters
    ----------
    backend : {"auto", "c", "numba", "numpy"}
        ``"auto"`` takes the C extension when it is built, else Numba when it is installed,
        else the in-place NumPy loop.
    threads : int, optional
        Threads that share each mini-batch in the C epoch; see :class:`EpochRunner`.

    Raises
    ------
    ValueError
        For an unknown backend, or ``"c"`` / ``"numba"`` when that one is not available.
    """
    available = {"c": c_available, "numba": numba_available, "numpy": lambda: True}
    if backend != "auto" and backend not in available:
        raise ValueError(
            f"unknown fast backend {backend!r}: choose 'auto', 'c', 'numba' or 'numpy'"
        )
    if backend == "c" and not c_available():
        raise ValueError(
            "the 'c' fast path needs the compiled extension nnmath._ckernels: reinstall with a "
            "C compiler (pip install -e .)"
        )
    if backend == "numba" and not numba_available():
        raise ValueError("the 'numba' fast path needs Numba and SciPy: pip install numba scipy")
    if unsupported_reason(net, optimizer, X, Y) is not None:
        return None
    if backend == "auto":
        backend = next(b for b in FAST_BACKENDS if available[b]())
    return EpochRunner(net, optimizer, X, Y, mini_batch_size, backend, threads)


def _epoch_threads(backend: str, B: int, threads: int | None) -> int:
    """The threads that share each mini-batch (see :class:`EpochRunner`)."""
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int | np.integer) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        if threads > 1 and (backend != "c" or blas_threads() is None):
            raise ValueError(
                "threads > 1 needs the C epoch calling NumPy's OpenBLAS "
                f"(backend {backend!r}, BLAS {getattr(gemm_addresses(), 'name', None)!r})"
            )
        return min(int(threads), 64, B)
    blas = blas_threads() if backend == "c" else None
    if blas is None or B < 64:  # below ~64 rows the two barriers per mini-batch cost more
        return 1
    return min(thread_budget(blas), B)


class EpochRunner:
    """Preallocated buffers for one training run, and :meth:`run_epoch` to use them.

    Buffers hold one mini-batch with examples as *rows*: ``A[l]`` is ``(B, sizes[l])``
    (``A[0]`` the gathered inputs), ``Z[i]`` and ``D[i]`` are ``(B, sizes[i+1])``; the
    transpose of each is the lecture's column matrix ``a^l``, ``z^l``, ``δ^l``.

    Parameters
    ----------
    net : Network
    optimizer : SGD or Adam
        Its ``state`` is created as in ``optimizer.step`` and updated in place.
    X, Y : C-contiguous arrays (n, sizes[0]), (n, sizes[-1]) of the network's dtype.
    mini_batch_size : int
    backend : {"c", "numba", "numpy"}
    threads : int, optional
        How many threads share each mini-batch in the C epoch (``"c"`` only; the others run
        on one thread, with BLAS on as many as it is allowed). Each thread gathers and
        backpropagates its own rows with BLAS on one thread; the update then uses the sum
        of all threads' gradients, the same mean over the mini-batch (to rounding). The
        default is the thread count NumPy's OpenBLAS is allowed (``OPENBLAS_NUM_THREADS``,
        ``threadpoolctl``), at most the cores this process may use; 1 for mini-batches
        under 64 (measured slower there: the threads meet twice per mini-batch) and when the
        epoch does not call NumPy's OpenBLAS, whose thread count it sets to 1 while the
        threads run.
    """

    def __init__(
        self,
        net: Any,
        optimizer: Optimizer,
        X: np.ndarray,
        Y: np.ndarray,
        mini_batch_size: int,
        backend: str,
        threads: int | None = None,
    ) -> None:
        self.net, self.optimizer, self.X, self.Y = net, optimizer, X, Y
        self.B, self.backend = int(mini_batch_size), backend
        self.threads = _epoch_threads(backend, self.B, threads)
        self.threads_run = self.threads  # how many the last epoch ran on (fewer if some failed)
        dtype = np.dtype(net.dtype)
        sizes, B = net.sizes, self.B
        self.A = tuple(np.zeros((B, s), dtype) for s in sizes)
        self.Z = tuple(np.zeros((B, s), dtype) for s in sizes[1:])
        self.D = tuple(np.zeros((B, s), dtype) for s in sizes[1:])
        self.Yb = np.zeros((B, sizes[-1]), dtype)
        self.NB = tuple(np.zeros(s, dtype) for s in sizes[1:])
        self.codes = np.array(
            [ACTIVATION_CODES[a.name] for a in net.activation_functions], np.int64
        )
        self.alphas = np.array(
            [float(a.params.get("alpha", 0.0)) for a in net.activation_functions], np.float64
        )
        cost = net.cost_function
        self.cost_code = COST_CODES[cost.name]
        self.fused = cost.fused_activation == net.activation_functions[-1].name
        if type(optimizer) is Adam:
            self.opt_code = 2
        else:
            self.opt_code = 1 if optimizer.momentum > 0 else 0
        needs_grad = self.opt_code != 0 or backend == "numpy"
        self.NW = tuple(np.zeros_like(W) for W in net.weights) if needs_grad else None
        if backend == "numpy":
            self.T = tuple(np.zeros((B, s), dtype) for s in sizes[1:])  # element-wise scratch
            self.T2 = np.zeros((B, sizes[-1]), dtype)
            self.mask = tuple(np.zeros((B, s), np.bool_) for s in sizes[1:])
            self.col = np.zeros((B, 1), dtype)
            self.TW = tuple(np.zeros_like(W) for W in net.weights) if self.opt_code else None
            self.TB = tuple(np.zeros_like(b) for b in net.biases) if self.opt_code else None
        elif backend == "numba":
            from ._numba_kernels import BLAS_INT

            self.iw = np.zeros(8, BLAS_INT)
            self.fw = np.zeros(2, dtype)
            self.cw = np.zeros(2, np.uint8)
        else:
            T = self.threads  # thread t's Σ δ aᵀ and Σ δ per layer (one thread: unused)
            self.NWT = tuple(np.zeros_like(W) for _ in range(T) for W in net.weights)
            self.NBT = tuple(np.zeros_like(b) for _ in range(T) for b in net.biases)
            self._c_epoch = self._c_struct()
        self.eps = float(np.finfo(dtype).eps)

    def _c_struct(self) -> Any:
        """The C epoch's struct, with the addresses of the buffers that never change."""
        from . import _cepoch

        X, Y, net = self.X, self.Y, self.net
        self._c_train = _cepoch.epoch_function(X.dtype)
        self._sizes = np.array(net.sizes, np.int64)
        self._c_keep = {
            name: _cepoch.pointers(arrays)
            for name, arrays in (
                ("A", self.A),
                ("Z", self.Z),
                ("D", self.D),
                ("NB", self.NB),
                ("NWT", self.NWT),
                ("NBT", self.NBT),
            )
        }
        c = _cepoch.CEpoch(
            n=X.shape[0],
            B=self.B,
            L=len(net.weights),
            cost=self.cost_code,
            fused=int(self.fused),
            opt=self.opt_code,
            blas64=int(gemm_addresses().int64),
            sizes=self._sizes.ctypes.data,
            codes=self.codes.ctypes.data,
            alphas=self.alphas.ctypes.data,
            X=X.ctypes.data,
            Y=Y.ctypes.data,
            Yb=self.Yb.ctypes.data,
            gemm=_cepoch.gemm_address(X.dtype),
            threads=self.threads,
            gemm_rows=GEMM_ROWS,
        )
        for name, array in self._c_keep.items():
            setattr(c, name, ctypes.addressof(array))
        return c

    def _c_run(self, perm: np.ndarray, state: tuple[Any, Any, Any, Any], t: int) -> int:
        """One epoch in C; the weights' and the state's addresses are read afresh each time."""
        from ._cepoch import pointers

        net, c = self.net, self._c_epoch
        hp = self._hyper()
        keep = {
            "W": pointers(net.weights),
            "b": pointers(net.biases),
            "NW": pointers(self.NW if self.NW is not None else net.weights),
            **{name: pointers(s) for name, s in zip(("S1W", "S1B", "S2W", "S2B"), state)},
        }
        for name, array in keep.items():
            setattr(c, name, ctypes.addressof(array))
        c.perm, c.hp, c.t, c.threads = perm.ctypes.data, hp.ctypes.data, t, self.threads
        with self.blas_on_one_thread():
            self._c_train(ctypes.byref(c))
        self.threads_run = int(c.threads)
        return int(c.t)

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
        before = blas.get()
        blas.set(1)
        try:
            yield
        finally:
            blas.set(before)

    # ------------------------------------------------------------------ optimizer state

    def _state(self) -> tuple[Any, Any, Any, Any]:
        """The optimizer's state arrays, created exactly as its ``step`` would create them."""
        opt, net = self.optimizer, self.net
        if self.opt_code == 0:
            return net.weights, net.biases, net.weights, net.biases  # unused placeholders
        if self.opt_code == 1:
            if not opt.state:
                opt.state = {
                    "velocity_w": opt._zeros(net.weights),
                    "velocity_b": opt._zeros(net.biases),
                }
            s = opt.state
            return s["velocity_w"], s["velocity_b"], net.weights, net.biases
        if not opt.state:
            opt.state = {
                "m_w": opt._zeros(net.weights),
                "m_b": opt._zeros(net.biases),
                "v_w": opt._zeros(net.weights),
                "v_b": opt._zeros(net.biases),
                "t": 0,
            }
        s = opt.state
        return s["m_w"], s["m_b"], s["v_w"], s["v_b"]

    def _hyper(self) -> np.ndarray:
        opt = self.optimizer
        return np.array(
            [
                opt.eta,
                opt.lmbda / opt.n,
                getattr(opt, "momentum", 0.0),
                float(getattr(opt, "nesterov", False)),
                getattr(opt, "beta1", 0.9),
                getattr(opt, "beta2", 0.999),
                getattr(opt, "epsilon", 1e-8),
                self.eps,
            ],
            np.float64,
        )

    # ------------------------------------------------------------------ one epoch

    def run_epoch(self, perm: np.ndarray) -> None:
        """Train on the mini-batches ``perm[k:k+B]`` in order, updating the network in place.

        Parameters
        ----------
        perm : (n,) integer array
            The epoch's shuffle (``rng.permutation(n)``, as the reference loop draws it).
        """
        n = self.X.shape[0]
        perm = np.ascontiguousarray(perm, dtype=np.int64)
        if perm.ndim != 1 or perm.shape[0] != n or (n and not 0 <= perm.min() <= perm.max() < n):
            raise ValueError(f"perm must be a permutation of {n} row indices")
        s1w, s1b, s2w, s2b = self._state()
        t = int(self.optimizer.state.get("t", 0)) if self.opt_code == 2 else 0
        net = self.net
        if self.backend == "c":
            t = self._c_run(perm, (s1w, s1b, s2w, s2b), t)
        elif self.backend == "numba":
            from ._numba_kernels import train_epoch

            nw = self.NW if self.NW is not None else tuple(net.weights)
            t = train_epoch(
                self.X,
                self.Y,
                perm,
                self.B,
                tuple(net.weights),
                tuple(net.biases),
                self.codes,
                self.alphas,
                self.cost_code,
                self.fused,
                self.opt_code,
                self._hyper(),
                t,
                self.A,
                self.Z,
                self.D,
                nw,
                self.NB,
                tuple(s1w),
                tuple(s1b),
                tuple(s2w),
                tuple(s2b),
                self.Yb,
                self.iw,
                self.fw,
                self.cw,
            )
        else:
            t = self._numpy_epoch(perm, s1w, s1b, s2w, s2b, t)
        if self.opt_code == 2:
            self.optimizer.state["t"] = int(t)

    def _numpy_epoch(self, perm: np.ndarray, s1w: Any, s1b: Any, s2w: Any, s2b: Any, t: int) -> int:
        """The in-place NumPy loop: the reference's lines with ``out=`` buffers."""
        net, opt, B = self.net, self.optimizer, self.B
        Ws, bs = net.weights, net.biases
        L = len(Ws)
        eta, decay = opt.eta, opt.lmbda / opt.n
        n = perm.shape[0]
        A, Z, D, T, M = self.A, self.Z, self.D, self.T, self.mask
        NW, NB = self.NW, self.NB
        views = [A, Z, D, T, M, self.Yb, self.T2, self.col]
        for k in range(0, n, B):
            idx = perm[k : k + B]
            m = idx.shape[0]
            if m != B:  # the last, shorter mini-batch: views of the first m rows
                A, Z, D, T, M = (tuple(x[:m] for x in group) for group in views[:5])
            Yb, T2, col = (x[:m] for x in views[5:]) if m != B else views[5:]
            np.take(self.X, idx, axis=0, out=A[0], mode="clip")  # "raise" would buffer
            np.take(self.Y, idx, axis=0, out=Yb, mode="clip")
            for i in range(L):  # z^l = W^l a^{l−1} + b^l ; a^l = σ(z^l)
                np.matmul(A[i], Ws[i].T, out=Z[i])
                np.copyto(T[i], bs[i])  # a broadcasting ufunc would allocate a buffer
                np.add(Z[i], T[i], out=Z[i])
                _np_sigma(self.codes[i], self.alphas[i], Z[i], A[i + 1], T[i], M[i], col)
            d = D[L - 1]  # δ^L
            if self.fused or self.cost_code == 0:
                np.subtract(A[L], Yb, out=d)
            else:
                a = np.clip(A[L], self.eps, 1.0 - self.eps, out=T[L - 1])
                if self.cost_code == 1:  # (a − y) / (a (1 − a))
                    np.subtract(a, Yb, out=d)
                    np.subtract(1.0, a, out=T2)
                    T2 *= a
                    d /= T2
                else:  # −y / a
                    np.divide(Yb, a, out=d)
                    np.negative(d, out=d)
            if not self.fused:
                _np_vjp(
                    self.codes[L - 1],
                    self.alphas[L - 1],
                    Z[L - 1],
                    A[L],
                    d,
                    T[L - 1],
                    M[L - 1],
                    col,
                )
            for i in range(L - 1, -1, -1):
                np.sum(D[i], axis=0, out=NB[i])  # ∂C/∂b = δ (mean over the columns)
                np.divide(NB[i], m, out=NB[i])
                np.matmul(D[i].T, A[i], out=NW[i])  # ∂C/∂w = δ aᵀ / m
                np.divide(NW[i], m, out=NW[i])
                if i > 0:  # δ^{l−1} = ((W^l)ᵀ δ^l) ⊙ σ'(z^{l−1})
                    np.matmul(D[i], Ws[i], out=D[i - 1])
                    _np_vjp(
                        self.codes[i - 1],
                        self.alphas[i - 1],
                        Z[i - 1],
                        A[i],
                        D[i - 1],
                        T[i - 1],
                        M[i - 1],
                        col,
                    )
            t += 1
            if self.opt_code == 0:
                for W, b, nw, nb in zip(Ws, bs, NW, NB, strict=True):
                    if decay:
                        W *= 1.0 - eta * decay  # (1 − ηλ/n) w
                    nw *= eta
                    W -= nw  # w ← w − η ∂C/∂w
                    nb *= eta
                    b -= nb  # b ← b − η ∂C/∂b
            elif self.opt_code == 1:
                self._np_momentum(Ws, NW, s1w, self.TW, decay)
                self._np_momentum(bs, NB, s1b, self.TB, 0.0)
            else:
                self._np_adam(Ws, NW, s1w, s2w, self.TW, decay, t)
                self._np_adam(bs, NB, s1b, s2b, self.TB, 0.0, t)
        return t

    def _np_momentum(self, ps: Any, gs: Any, vs: Any, ts: Any, l2: float) -> None:
        eta, mu = self.optimizer.eta, self.optimizer.momentum
        for p, g, v, tmp in zip(ps, gs, vs, ts, strict=True):
            if l2:
                np.multiply(p, l2, out=tmp)
                g += tmp  # g + (λ/n) w
            v *= mu  # v ← μ v − η g
            g *= eta
            v -= g
            if self.optimizer.nesterov:
                np.multiply(v, mu, out=tmp)  # w ← w + μ v − η g
                tmp -= g
                p += tmp
            else:
                p += v  # w ← w + v

    def _np_adam(self, ps: Any, gs: Any, ms: Any, vs: Any, ts: Any, l2: float, t: int) -> None:
        opt = self.optimizer
        b1, b2 = opt.beta1, opt.beta2
        step = opt.eta * np.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        eps_hat = opt.epsilon * np.sqrt(1.0 - b2**t)
        for p, g, m, v, tmp in zip(ps, gs, ms, vs, ts, strict=True):
            if l2:
                np.multiply(p, l2, out=tmp)
                g += tmp
            m *= b1  # m ← β1 m + (1 − β1) g
            np.multiply(g, 1.0 - b1, out=tmp)
            m += tmp
            v *= b2  # v ← β2 v + (1 − β2) g²
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - b2
            v += tmp
            np.sqrt(v, out=tmp)  # w ← w − step m / (√v + ε̂)
            tmp += eps_hat
            np.divide(m, tmp, out=tmp)
            tmp *= step
            p -= tmp


def _np_sigma(code: int, alpha: float, z: Any, a: Any, tmp: Any, mask: Any, col: Any) -> None:
    """a = σ(z) into ``a``, with scratch ``tmp`` / ``mask`` (see activations.py for each σ)."""
    if code == 0:  # sigmoid: 1/(1+e) for z ≥ 0, e/(1+e) for z < 0, e = exp(−|z|)
        np.abs(z, out=tmp)
        np.negative(tmp, out=tmp)
        np.exp(tmp, out=tmp)
        np.add(tmp, 1.0, out=a)
        np.reciprocal(a, out=a)
        np.less(z, 0, out=mask)
        np.multiply(a, tmp, out=a, where=mask)
    elif code == 1:
        np.tanh(z, out=a)
    elif code == 2:
        np.maximum(z, 0.0, out=a)
    elif code == 3:
        np.copyto(a, z)
        np.less(z, 0, out=mask)
        np.multiply(z, alpha, out=a, where=mask)
    elif code == 4:  # α (e^z − 1) for z ≤ 0
        np.copyto(a, z)
        np.less_equal(z, 0, out=mask)
        np.expm1(z, out=a, where=mask)
        np.multiply(a, alpha, out=a, where=mask)
    elif code == 5:
        np.copyto(a, z)
    else:  # softmax of each row, its max subtracted first
        np.max(z, axis=1, keepdims=True, out=col)
        np.copyto(tmp, col)  # broadcast by copyto: ufuncs would allocate a buffer
        np.subtract(z, tmp, out=a)
        np.exp(a, out=a)
        np.sum(a, axis=1, keepdims=True, out=col)
        np.copyto(tmp, col)
        np.divide(a, tmp, out=a)


def _np_vjp(code: int, alpha: float, z: Any, a: Any, g: Any, tmp: Any, mask: Any, col: Any) -> None:
    """g ← (∂a/∂z)ᵀ g in place: g ⊙ σ'(z), or a ⊙ (g − Σ a g) for softmax."""
    if code == 0:
        np.subtract(1.0, a, out=tmp)  # σ(1 − σ)
        tmp *= a
        g *= tmp
    elif code == 1:
        np.multiply(a, a, out=tmp)  # 1 − tanh²
        np.subtract(1.0, tmp, out=tmp)
        g *= tmp
    elif code == 2:
        np.less_equal(z, 0, out=mask)  # g ⊙ [z > 0]
        np.copyto(g, 0.0, where=mask)
    elif code == 3:
        tmp.fill(1.0)
        np.less(z, 0, out=mask)
        np.copyto(tmp, alpha, where=mask)
        g *= tmp
    elif code == 4:  # α e^z for z ≤ 0, 1 for z > 0
        np.minimum(z, 0.0, out=tmp)
        np.exp(tmp, out=tmp)
        tmp *= alpha
        np.greater(z, 0, out=mask)
        np.copyto(tmp, 1.0, where=mask)
        g *= tmp
    elif code == _SOFTMAX:
        np.multiply(a, g, out=tmp)
        np.sum(tmp, axis=1, keepdims=True, out=col)
        np.copyto(tmp, col)
        g -= tmp
        g *= a
