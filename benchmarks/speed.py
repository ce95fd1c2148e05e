"""Seconds per training epoch: nnmath against PyTorch, scikit-learn, JAX and the matmul floor.

One epoch is 60,000 MNIST-shaped synthetic examples (784 inputs uniform in [0, 1), 10 random
classes). Each system trains each row in its *own subprocess*, limited to the same number of
threads (environment variables set before any import, plus threadpoolctl / torch), so that the
peak resident memory (``ru_maxrss``) is that system's alone. A row's workers run at the same
time and take turns: one timed epoch each, in rotating order, ``--settle`` seconds apart, so
that the drift of a shared host hits every system of a row alike. A row's time is the median
of ``--epochs`` epochs after one warm-up epoch.

Rows
----
book, relu100 and deep are dense networks (``Network(sizes)``). bn100, bn_deep and res_deep
are relu100 and deep with batch normalisation (each hidden ``Dense(100, "relu",
batch_norm=True)``) or identity paths (deep's last three hidden layers in a two-layer and a
one-layer ``Residual`` block): networks of layers, which only nnmath and torch (eager, on
``nm.to_torch``'s copy: ``BatchNorm1d``, nnmath's residual module) train; the other
systems' cells are "-".

Systems
-------
nnmath      ``Network.fit`` (the public API; the fast path is chosen automatically).
torch       PyTorch eager: ``nn.Sequential``, ``torch.optim.SGD``, a plain loop over mini-batch
            tensors made before each timed epoch.
sklearn     ``MLPClassifier(solver="sgd", momentum=0, batch_size=B)``, one ``fit`` with
            ``max_iter=1, warm_start=True`` per epoch (its softmax + log-loss output on every
            row: scikit-learn has no quadratic-cost classifier).
jax_loop    JAX: one jitted SGD step per mini-batch in a Python loop.
jax_scan    JAX: the whole epoch jitted as one ``lax.scan`` over the mini-batches.
floor       Only the matrix products of backprop, in a tight loop: per mini-batch and layer
            ``z = W a``, ``∇w = δ aᵀ``, and ``Wᵀ δ`` for every layer above the first (the
            input layer's ``Wᵀ δ`` is never needed). Measured up to three times, as a NumPy
            loop with ``out=`` and as nnmath's C loop (with each product in one BLAS call, and
            with a narrow layer's cut into calls of ``nnmath.engine.GEMM_ROWS`` rows as the
            threaded epoch cuts them); the fastest is the floor. (Until nnmath's Numba epoch
            was removed a Numba loop was a fourth way; it made the C loop's BLAS calls.)
            Beside it, the "split floor": the same products with each
            mini-batch's rows split between the threads (BLAS on one thread in each, in the
            calls nnmath's threaded epoch makes at 64 rows or more), the threads
            never waiting for each other. It is lower than any SGD can reach (a mini-batch's
            products cannot start before the previous update) and is not the targets' floor;
            it shows what that way of using the cores could give at most.

previous    With ``--previous SRC``: ``Network.fit`` as nnmath's system, but importing nnmath
            from SRC, another checkout's ``src`` with its extension built in place (``python
            setup.py build_ext --inplace``). It trains in the same run, interleaved with the
            others, so that nnmath's ratio to the floor can be set against the previous
            build's ratio to the *same* floor, taken at the same moments (a ratio recorded
            on another day was taken against that day's floor and host); the column "nnmath
            ÷ previous" is nnmath's time over the previous build's (= the one ratio over
            the other), and "previous wait s" its fit(epochs=3) per epoch.

Usage::

    flock /tmp/nnmath-heavy.lock python benchmarks/speed.py --markdown table.md --json table.json
    git worktree add /tmp/prev <commit> && (cd /tmp/prev && python setup.py build_ext --inplace)
    python benchmarks/speed.py --previous /tmp/prev/src --markdown table.md --json table.json
    python benchmarks/speed.py --rows book --batches 10 --dtypes float32 --systems nnmath,floor
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROWS = {
    "book": dict(
        sizes=[784, 30, 10],
        hidden="sigmoid",
        output="sigmoid",
        cost="quadratic",
        init="scaled_normal",
        eta=3.0,
    ),
    "relu100": dict(
        sizes=[784, 100, 10],
        hidden="relu",
        output="softmax",
        cost="log_likelihood",
        init="he",
        eta=0.1,
    ),
    "deep": dict(
        sizes=[784, 100, 100, 100, 100, 10],
        hidden="relu",
        output="softmax",
        cost="log_likelihood",
        init="he",
        eta=0.1,
    ),
}
# relu100 and deep with batch normalisation / identity paths: the same widths, each hidden
# Dense(100, relu) written Dense(100, "relu", batch_norm=True), or deep's last three in a
# two-layer and a one-layer residual block (_layers). Only
# nnmath (a network of layers) and torch eager (its to_torch copy) train these rows.
ROWS["bn100"] = dict(ROWS["relu100"], layers="batch_norm")
ROWS["bn_deep"] = dict(ROWS["deep"], layers="batch_norm")
ROWS["res_deep"] = dict(ROWS["deep"], layers="residual")
LAYER_SYSTEMS = ("nnmath", "previous", "torch")
SYSTEMS = ["floor", "nnmath", "jax_scan", "jax_loop", "sklearn", "torch"]
#: epochs of the "what a user waits for" measurement: nnmath's fit(epochs=3), 3 of each peer's
WAIT_EPOCHS = 3
N_EXAMPLES, N_CLASSES = 60_000, 10


# ---------------------------------------------------------------------------- worker side


def _data(n: int, dtype: str):
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.random((n, 784), dtype=np.dtype(dtype).type)
    y = rng.integers(0, N_CLASSES, n)
    return X, y


def _layers(row: dict, variant: str | None = None) -> list:
    """The layers of a row with ``layers`` (or of ``variant``: "plain", "batch_norm",
    "residual" for the same widths): Dense(n, σ) per hidden width, with batch_norm=True, or
    with the hidden layers after the first in residual blocks, two Dense layers to a block
    (``Residual([Dense(n, σ), Dense(n, "identity")], activation=σ)``) and a last one alone
    (``Residual([Dense(n, "identity")], activation=σ)``): each block's work is its Dense
    layers' and one sum."""
    from nnmath.layers import Dense, Input, Residual

    sizes, act = row["sizes"], row["hidden"]
    variant = variant or row["layers"]
    hidden = sizes[1:-1]
    if variant == "residual":
        if len(hidden) < 2 or len(set(hidden)) != 1:
            raise ValueError(f"{sizes}: residual blocks need 2 or more hidden layers of one width")
        n, pairs, alone = hidden[0], (len(hidden) - 1) // 2, (len(hidden) - 1) % 2
        blocks = [
            Residual([Dense(n, act), Dense(n, "identity")], activation=act) for _ in range(pairs)
        ]
        blocks += [Residual([Dense(n, "identity")], activation=act) for _ in range(alone)]
        body = [Dense(n, act), *blocks]
    else:
        body = [Dense(n, act, batch_norm=variant == "batch_norm") for n in hidden]
    return [Input(sizes[0]), *body, Dense(sizes[-1], row["output"])]


def _nnmath_net(row: dict, dtype: str, **extra):
    from nnmath.network import Network

    if "layers" in row or "variant" in extra:
        layers = _layers(row, extra.pop("variant", None))
        return Network(layers, cost=row["cost"], init=row["init"], seed=1, dtype=dtype, **extra)
    return Network(
        row["sizes"],
        activation=row["hidden"],
        output_activation=row["output"],
        cost=row["cost"],
        init=row["init"],
        seed=1,
        dtype=dtype,
        **extra,
    )


def _timed(run_epoch):
    """``run_epoch`` wrapped so that it returns its own wall time in seconds."""

    def epoch() -> float:
        t0 = time.perf_counter()
        run_epoch()
        return time.perf_counter() - t0

    return epoch


# Each bench_<system>(row, B, dtype, n) sets its system up and returns (epoch, info): epoch()
# trains one epoch and returns the seconds it took (anything untimed, such as PyTorch's
# pre-made mini-batches, it does before starting its clock); info() is a dict for the JSON.


def bench_nnmath(row, B, dtype, n):
    import numpy as np

    X, y = _data(n, dtype)
    net = _nnmath_net(row, dtype)
    rng = np.random.default_rng(2)
    paths, threads = set(), set()

    def epoch() -> float:  # Network.fit's own clock: the epoch without its cost evaluation
        history = net.fit(X, y, epochs=1, mini_batch_size=B, eta=row["eta"], rng=rng)
        paths.add(history.extra.get("train_path"))
        threads.add(history.extra.get("train_threads"))
        return history.epoch_time[0]

    def wait() -> dict:  # what a user waits for: fit(epochs=3), its default monitoring included
        t0 = time.perf_counter()
        history = net.fit(X, y, epochs=WAIT_EPOCHS, mini_batch_size=B, eta=row["eta"], rng=rng)
        seconds = (time.perf_counter() - t0) / WAIT_EPOCHS
        return {"seconds": seconds, "epoch_time": float(np.mean(history.epoch_time))}

    info = lambda: {"path": "/".join(sorted(paths)), "threads": sorted(threads)}  # noqa: E731
    return epoch, info, wait


def bench_previous(row, B, dtype, n):
    """nnmath's own benchmark, run by the worker whose nnmath is the ``--previous`` build's."""
    return bench_nnmath(row, B, dtype, n)


def _c_floor_struct(Ws, sizes, m, dtype, buffers=None, gemm_rows=0):
    """nnmath's C floor loop set up for mini-batches of ``m`` rows (the struct and what it
    points into, which must outlive it); ``gemm_rows`` > 0 makes a narrow layer's products
    in calls of that many rows, as the threaded epoch makes them."""
    import numpy as np

    from nnmath.engine import binding as _cepoch
    from nnmath.engine.blas import gemm_addresses

    if buffers is None:
        buffers = _floor_buffers(Ws, sizes, m, dtype)
    A, D, Z, G, NW = buffers
    arrays = (("W", Ws), ("A", A), ("D", D), ("Z", Z), ("layer_input", [A[0], *G]))
    keep = {name: _cepoch.pointers(a) for name, a in (*arrays, ("nabla_w_parts", NW))}
    sizes_arr = np.array(sizes, np.int64)
    c = _cepoch.epoch_struct()(
        B=m,
        L=len(Ws),
        blas64=int(gemm_addresses().int64),
        sizes=sizes_arr.ctypes.data,
        gemm=_cepoch.gemm_address(dtype),
        gemm_rows=gemm_rows,
    )
    for name, array in keep.items():
        setattr(c, name, ctypes.addressof(array))
    return c, (keep, sizes_arr, buffers)


def _floor_buffers(Ws, sizes, m, dtype):
    """a^l (ones) and δ^l (1e-3), never overwritten, z^l, Wᵀδ and ∇w: on 64-byte boundaries
    like nnmath's own buffers (a misaligned floor would be slower than it need be)."""
    from nnmath.backend import aligned_zeros

    def filled(shape, value):
        a = aligned_zeros(shape, dtype)
        a[...] = value
        return a

    return (
        [filled((m, s), 1.0) for s in sizes],
        [filled((m, s), 1e-3) for s in sizes[1:]],
        [aligned_zeros((m, s), dtype) for s in sizes[1:]],
        [aligned_zeros((m, s), dtype) for s in sizes[1:]],
        [aligned_zeros(W.shape, W.dtype) for W in Ws],
    )


def bench_floor(row, B, dtype, n):
    import numpy as np

    net = _nnmath_net(row, dtype)
    Ws = net.weights
    sizes = row["sizes"]
    A, D, Z, G, NW = _floor_buffers(Ws, sizes, B, dtype)
    L = len(Ws)
    batches = -(-n // B)

    def numpy_epoch():
        for _ in range(batches):
            for i in range(L):
                np.matmul(A[i], Ws[i].T, out=Z[i])  # z = W a
            for i in range(L - 1, -1, -1):
                np.matmul(D[i].T, A[i], out=NW[i])  # ∇w = δ aᵀ
                if i > 0:
                    np.matmul(D[i], Ws[i], out=G[i - 1])  # Wᵀ δ

    loops = {"numpy_loop": numpy_epoch}
    from nnmath.engine import GEMM_ROWS
    from nnmath.engine import binding as _cepoch
    from nnmath.engine.blas import blas_threads

    if _cepoch.library() is not None:  # the C loop of nnmath.engine._ckernels
        c_floor = _cepoch.epoch_function(dtype, "floor")
        whole = _c_floor_struct(Ws, sizes, B, dtype, (A, D, Z, G, NW))

        def c_loop(c=whole[0], alive=whole[1]):  # the struct points into `alive`
            c_floor(ctypes.byref(c), batches)

        loops["c_loop"] = c_loop
        # the same, with a narrow layer's products in calls of GEMM_ROWS rows where
        # nnm_call_rows cuts them (BLAS still allowed all its threads)
        calls = _c_floor_struct(Ws, sizes, B, dtype, (A, D, Z, G, NW), GEMM_ROWS)

        def c_calls(c=calls[0], alive=calls[1]):
            c_floor(ctypes.byref(c), batches)

        loops["c_calls"] = c_calls
        blas = blas_threads()
        T = blas.get() if blas is not None else 1
        if T > 1 and B >= T:
            # the same products split by rows between T threads, BLAS on one thread in each
            # (as nnmath's threaded epoch splits a mini-batch, in the calls it makes), with no
            # meeting between mini-batches: a floor for that way of using the cores
            parts = [
                _c_floor_struct(
                    Ws, sizes, B * (t + 1) // T - B * t // T, dtype, gemm_rows=GEMM_ROWS
                )
                for t in range(T)
            ]

            def c_split(parts=parts, blas=blas):
                old = blas.get()
                blas.set(1)
                try:
                    workers = [
                        threading.Thread(target=c_floor, args=(ctypes.byref(c), batches))
                        for c, _ in parts
                    ]
                    for w in workers:
                        w.start()
                    for w in workers:
                        w.join()
                finally:
                    blas.set(old)

            loops["c_split"] = c_split
    loops = {name: _timed(loop) for name, loop in loops.items()}
    times: dict[str, list[float]] = {name: [] for name in loops}

    def epoch() -> float:  # each way once per epoch, side by side
        for name, loop in loops.items():
            times[name].append(loop())
        return min(t[-1] for t in times.values())

    def info() -> dict:  # the fastest way (by median, the warm-up epoch left out) is the floor
        med = {name: float(np.median(t[1:])) for name, t in times.items()}
        # c_split is reported beside the floor, not in it: its threads never wait for each
        # other, while SGD cannot start a mini-batch's products before the last update
        best = min((name for name in med if name != "c_split"), key=med.get)
        return {
            **med,
            "floor_loop": best,
            "times": times[best][1:],
            "seconds": med[best],
            "split_seconds": med.get("c_split"),
        }

    return epoch, info


def bench_torch(row, B, dtype, n):
    import torch

    torch.set_num_threads(int(os.environ["NNMATH_BENCH_THREADS"]))
    tdtype = getattr(torch, dtype)
    net = _nnmath_net(row, dtype)
    if "layers" in row:  # nnmath's own copy: BatchNorm1d, nnmath's residual module
        import nnmath as nm

        model = nm.to_torch(net)
        if isinstance(model[-1], torch.nn.Softmax):  # CrossEntropyLoss takes z^L
            model = model[:-1]
        return _torch_loop(model.train(), row, B, dtype, n)
    layers = []
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=tdtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(net.weights) - 1:
            layers.append(torch.nn.Sigmoid() if row["hidden"] == "sigmoid" else torch.nn.ReLU())
    if row["cost"] == "quadratic":
        layers.append(torch.nn.Sigmoid())
    return _torch_loop(torch.nn.Sequential(*layers), row, B, dtype, n)


def _torch_loop(model, row, B, dtype, n):
    """PyTorch eager's epoch and user wait for ``model`` (its parameters torch.optim.SGD's)."""
    import numpy as np
    import torch

    X, y = _data(n, dtype)
    tdtype = getattr(torch, dtype)
    if row["cost"] == "quadratic":
        loss_fn = torch.nn.MSELoss()
        T = torch.from_numpy(np.eye(N_CLASSES, dtype=dtype)[y])
    else:
        loss_fn = torch.nn.CrossEntropyLoss()  # softmax + log-likelihood, fused
        T = torch.from_numpy(y)
    opt = torch.optim.SGD(model.parameters(), lr=row["eta"])
    Xt = torch.from_numpy(X)
    gen = torch.Generator().manual_seed(2)

    def batches():
        perm = torch.randperm(n, generator=gen)
        return list(zip(Xt[perm].split(B), T[perm].split(B), strict=True))

    def epoch() -> float:
        data = batches()  # pre-made mini-batch tensors, outside the timing
        t0 = time.perf_counter()
        for xb, tb in data:
            opt.zero_grad()
            loss = loss_fn(model(xb), tb)
            loss.backward()
            opt.step()
        return time.perf_counter() - t0

    def wait() -> dict:  # the usual loop: shuffle, mini-batches, the mean of the batch losses
        t0 = time.perf_counter()
        for _ in range(WAIT_EPOCHS):
            total = torch.zeros((), dtype=tdtype)
            for xb, tb in batches():
                opt.zero_grad()
                loss = loss_fn(model(xb), tb)
                loss.backward()
                opt.step()
                total += loss.detach() * xb.shape[0]
            float(total) / n  # the epoch's training loss, as a user prints it
        return {"seconds": (time.perf_counter() - t0) / WAIT_EPOCHS}

    return epoch, dict, wait


def bench_sklearn(row, B, dtype, n):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y = _data(n, dtype)
    clf = MLPClassifier(
        hidden_layer_sizes=tuple(row["sizes"][1:-1]),
        activation="logistic" if row["hidden"] == "sigmoid" else "relu",
        solver="sgd",
        momentum=0.0,
        batch_size=B,
        learning_rate_init=row["eta"] / 10,
        alpha=0.0,
        max_iter=1,
        warm_start=True,
        shuffle=True,
        random_state=2,
        early_stopping=False,
        n_iter_no_change=10**9,
        tol=0.0,
    )

    def run_epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)

    epoch = _timed(run_epoch)

    def wait() -> dict:  # as it is: each fit(max_iter=1) records its loss (clf.loss_curve_)
        return {"seconds": sum(epoch() for _ in range(WAIT_EPOCHS)) / WAIT_EPOCHS}

    return epoch, dict, wait


def _jax_setup(row, B, dtype, n):
    import jax

    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    X, y = _data(n, dtype)
    net = _nnmath_net(row, dtype)
    params = [
        (jnp.asarray(W), jnp.asarray(b)) for W, b in zip(net.weights, net.biases, strict=True)
    ]
    Xj = jnp.asarray(X)
    Yj = jax.nn.one_hot(jnp.asarray(y), N_CLASSES, dtype=Xj.dtype)
    hidden = jax.nn.sigmoid if row["hidden"] == "sigmoid" else jax.nn.relu
    quadratic = row["cost"] == "quadratic"
    eta = row["eta"]

    def loss(params, xb, yb):
        a = xb
        for W, b in params[:-1]:
            a = hidden(a @ W.T + b)
        W, b = params[-1]
        z = a @ W.T + b
        if quadratic:
            return 0.5 * jnp.sum((jax.nn.sigmoid(z) - yb) ** 2) / xb.shape[0]
        return -jnp.sum(yb * jax.nn.log_softmax(z)) / xb.shape[0]

    def step(params, idx):
        grads = jax.grad(loss)(params, Xj[idx], Yj[idx])
        pairs = zip(params, grads, strict=True)
        return [(W - eta * gW, b - eta * gb) for (W, b), (gW, gb) in pairs]

    def step_loss(params, idx):  # the same step, and the mini-batch's summed loss
        value, grads = jax.value_and_grad(loss)(params, Xj[idx], Yj[idx])
        pairs = zip(params, grads, strict=True)
        new = [(W - eta * gW, b - eta * gb) for (W, b), (gW, gb) in pairs]
        return new, value * idx.shape[0]

    step.with_loss = step_loss
    return jax, jnp, params, step


def bench_jax_loop(row, B, dtype, n):
    import numpy as np

    jax, jnp, params, step = _jax_setup(row, B, dtype, n)
    jstep = jax.jit(step)
    rng = np.random.default_rng(2)
    state = {"params": params}

    def run_epoch():
        perm = rng.permutation(n)
        idxs = [jnp.asarray(perm[k : k + B]) for k in range(0, n, B)]
        p = state["params"]
        for idx in idxs:
            p = jstep(p, idx)
        jax.block_until_ready(p)
        state["params"] = p

    jstep_loss = jax.jit(step.with_loss)
    perm0 = rng.permutation(n)
    for k in {0, (n // B) * B} - {n}:  # compiled outside the timing, as run_epoch's warm-up
        jax.block_until_ready(jstep_loss(state["params"], jnp.asarray(perm0[k : k + B])))

    def wait() -> dict:  # the loop with the mean of the batch losses read after each epoch
        t0 = time.perf_counter()
        for _ in range(WAIT_EPOCHS):
            perm = rng.permutation(n)
            p, total = state["params"], 0.0
            for k in range(0, n, B):
                p, value = jstep_loss(p, jnp.asarray(perm[k : k + B]))
                total = total + value
            float(total) / n
            state["params"] = p
        return {"seconds": (time.perf_counter() - t0) / WAIT_EPOCHS}

    return _timed(run_epoch), dict, wait


def bench_jax_scan(row, B, dtype, n):
    import numpy as np

    jax, jnp, params, step = _jax_setup(row, B, dtype, n)
    full = n // B

    @jax.jit
    def epoch(params, perm):
        batches = perm[: full * B].reshape(full, B)
        params, _ = jax.lax.scan(lambda p, idx: (step(p, idx), None), params, batches)
        if n % B:
            params = step(params, perm[full * B :])
        return params

    @jax.jit
    def epoch_loss(params, perm):  # the same epoch, and the sum of its mini-batches' losses
        batches = perm[: full * B].reshape(full, B)
        params, values = jax.lax.scan(step.with_loss, params, batches)
        total = jnp.sum(values)
        if n % B:
            params, value = step.with_loss(params, perm[full * B :])
            total = total + value
        return params, total

    rng = np.random.default_rng(2)
    state = {"params": params}

    def run_epoch():
        state["params"] = jax.block_until_ready(
            epoch(state["params"], jnp.asarray(rng.permutation(n)))
        )

    jax.block_until_ready(epoch_loss(state["params"], jnp.asarray(rng.permutation(n))))

    def wait() -> dict:  # compiled above, outside the timing
        t0 = time.perf_counter()
        for _ in range(WAIT_EPOCHS):
            state["params"], total = epoch_loss(state["params"], jnp.asarray(rng.permutation(n)))
            float(total) / n
        return {"seconds": (time.perf_counter() - t0) / WAIT_EPOCHS}

    return _timed(run_epoch), dict, wait


_MARK = "@@nnmath-bench "  # the worker's protocol lines (libraries may print to stdout too)


def worker(args: argparse.Namespace) -> None:
    """Set one system up, train its warm-up epoch, then one timed epoch per ``epoch`` line
    read from stdin, until ``done``: then print the times and the peak RSS as JSON."""
    import resource

    import numpy as np
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    bench = globals()[f"bench_{args.system}"]
    epoch, info, *waits = bench(ROWS[args.row], args.batch, args.dtype, args.n)
    epoch()  # warm-up (compilation, first touch of buffers)
    print(_MARK + "ready", flush=True)
    times, waited = [], []
    for line in sys.stdin:
        if line.strip() == "wait" and waits:
            waited.append(waits[0]())
            print(_MARK + json.dumps(waited[-1]), flush=True)
            continue
        if line.strip() != "epoch":
            break
        times.append(float(epoch()))
        print(_MARK + f"{times[-1]!r}", flush=True)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        _MARK
        + json.dumps(
            {  # info() may refine the times (the floor's: its fastest way)
                "seconds": float(np.median(times)),
                "times": times,
                "peak_rss_mb": rss_mb,
                "wait": waited,
                **info(),
            }
        ),
        flush=True,
    )


# ---------------------------------------------------------------------------- driver side


def _available(system: str) -> bool:
    import importlib.util

    need = {"torch": "torch", "sklearn": "sklearn", "jax_loop": "jax", "jax_scan": "jax"}
    return system not in need or importlib.util.find_spec(need[system]) is not None


class _Worker:
    """One system's worker subprocess for one row of the table, driven line by line."""

    def __init__(self, system, row, batch, dtype, args, log: Path):
        env = dict(os.environ)
        threads = str(args.threads)
        for var in (
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
            "NUMBA_NUM_THREADS",
            "NNMATH_BENCH_THREADS",
        ):
            env[var] = threads
        env["XLA_FLAGS"] = (
            f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}"
        )
        src = str(Path(__file__).resolve().parents[1] / "src")
        if system == "previous":
            src = str(Path(args.previous).resolve())
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "--system",
            system,
            "--row",
            row,
            "--batch",
            str(batch),
            "--dtype",
            dtype,
            "--n",
            str(args.n),
            "--threads",
            threads,
        ]
        self.system, self.log, self.error = system, log, None
        self._stderr = log.open("w")
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        # the worker's whole life, waiting for the others included, is bounded
        self._watchdog = threading.Timer(args.timeout, self.proc.kill)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _reply(self) -> str | None:
        for line in self.proc.stdout:
            if line.startswith(_MARK):
                return line[len(_MARK) :].strip()
        self.proc.wait()
        self._stderr.flush()
        tail = self.log.read_text().strip().splitlines() or [f"exit {self.proc.returncode}"]
        self.error = tail[-1][:120]
        return None

    def send(self, command: str) -> str | None:
        """Send ``command`` and return the worker's answer (None once it has failed)."""
        if self.error is not None:
            return None
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except OSError:
            pass  # it died: _reply reads why
        return self._reply()

    def finish(self) -> dict:
        out = self.send("done")
        self._watchdog.cancel()
        self.proc.wait()
        self._stderr.close()
        if out is None:
            return {"error": self.error}
        return json.loads(out)


def run_row(systems, row, batch, dtype, args) -> dict:
    """All systems of one row at once, their timed epochs interleaved.

    The workers start together and each trains its warm-up epoch; then the driver asks each
    in turn for one timed epoch (the order rotated every round), pausing ``--settle``
    seconds between two epochs so that a finished system's idle threads are quiet before
    the next starts. On a shared host whose speed drifts from minute to minute, each
    system's k-th epoch so runs at nearly the same moment as every other's, and the ratios
    within a row are not at the mercy of the drift (run one after the other, they were).
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="nnmath-bench-") as tmp:
        workers = [_Worker(s, row, batch, dtype, args, Path(tmp) / f"{s}.log") for s in systems]
        for w in workers:
            if w._reply() != "ready" and w.error is None:
                w.error = "no ready line"
        for k in range(args.epochs):
            for w in workers[k % len(workers) :] + workers[: k % len(workers)]:
                if w.error is None:
                    w.send("epoch")
                    time.sleep(args.settle)
        for k in range(args.wait_rounds):  # then what a user waits for, interleaved the same way
            for w in workers[k % len(workers) :] + workers[: k % len(workers)]:
                if w.error is None and w.system != "floor":
                    w.send("wait")
                    time.sleep(args.settle)
        return {w.system: w.finish() for w in workers}


def _wait_cells(res: dict, systems: list[str]) -> list[str]:
    """The user-wait cells of one row: nnmath's fit per epoch (and its ratio to the same
    fits' epoch_time), each peer's monitored epoch, and the fastest by that measure (medians
    over --wait-rounds)."""
    import statistics

    waits, cells = {}, []
    for s in systems:
        rounds = res.get(s, {}).get("wait") or []
        if s == "floor":
            continue
        if not rounds:
            cells.append("-")
            continue
        waits[s] = statistics.median(r["seconds"] for r in rounds)
        if s == "nnmath":
            ratio = statistics.median(r["seconds"] / r["epoch_time"] for r in rounds)
            cells.append(f"{waits[s]:.3f} ({ratio:.2f}×)")
        else:
            cells.append(f"{waits[s]:.3f}")
    rivals = {s: t for s, t in waits.items() if s != "previous"}
    return cells + [min(rivals, key=rivals.get) if rivals else "-"]


def _row_cells(res: dict, systems: list[str], data_mb: float) -> list[str]:
    """One row's cells from its systems' seconds (each over the floor), the floor, nnmath
    over the split floor, the fastest system (the previous build is nnmath, not a rival),
    the peak RSS, nnmath's above its data and, with ``--previous``, nnmath over it."""
    floor = res.get("floor", {}).get("seconds")
    cells, timed = [], {}
    for s in systems:
        if s == "floor":
            continue
        r = res[s]
        if "skipped" in r:
            cells.append("-")
            continue
        if "seconds" not in r:
            cells.append(f"error: {r.get('error')}")
            continue
        timed[s] = r["seconds"]
        ratio = f" ({r['seconds'] / floor:.2f}×)" if floor else ""
        cells.append(f"{r['seconds']:.3f}{ratio}")
    cells.append(f"{floor:.3f}" if floor else "-")
    split = res.get("floor", {}).get("split_seconds")
    if split and "nnmath" in timed:
        cells.append(f"{split:.3f} ({timed['nnmath'] / split:.2f}×)")
    else:
        cells.append(f"{split:.3f}" if split else "-")
    rivals = {s: t for s, t in timed.items() if s != "previous"}
    cells.append(min(rivals, key=rivals.get) if rivals else "-")
    cells.append(
        "/".join(
            f"{res[s]['peak_rss_mb']:.0f}" if "peak_rss_mb" in res[s] else "-" for s in systems
        )
    )
    rss = res.get("nnmath", {}).get("peak_rss_mb")
    cells.append(f"{rss - data_mb:.0f}" if rss else "-")
    if "previous" in systems:
        both = "nnmath" in timed and "previous" in timed
        cells.append(f"{timed['nnmath'] / timed['previous']:.3f}" if both else "-")
    return cells


def _fmt_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", default=",".join(ROWS), help=f"comma list of {list(ROWS)}")
    p.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma list of {SYSTEMS}")
    p.add_argument("--batches", default="10,128")
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs after one warm-up")
    p.add_argument("--n", type=int, default=N_EXAMPLES, help="examples per epoch")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--timeout", type=float, default=600, help="seconds a row's workers may live")
    p.add_argument(
        "--settle",
        type=float,
        default=0.25,
        help="pause in seconds between two systems' timed epochs",
    )
    p.add_argument(
        "--wait-rounds",
        type=int,
        default=1,
        help=f"rounds of the user-wait measurement ({WAIT_EPOCHS} epochs with monitoring "
        "each; the median is reported; 0: none)",
    )
    p.add_argument(
        "--previous",
        type=Path,
        help="another checkout's src (extension built in place): its nnmath trains in the "
        "same run as the system 'previous'",
    )
    p.add_argument("--markdown", type=Path, help="also write the table to this file")
    p.add_argument("--json", type=Path, help="also write the raw results as JSON")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--system", help=argparse.SUPPRESS)
    p.add_argument("--row", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    p.add_argument("--dtype", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return 0

    rows, systems = args.rows.split(","), args.systems.split(",")
    for name, known in (("row", ROWS), ("system", SYSTEMS)):
        bad = [x for x in (rows if name == "row" else systems) if x not in known]
        if bad:
            p.error(f"unknown {name}(s) {bad}: choose from {list(known)}")
    systems = [s for s in systems if _available(s) or print(f"# {s}: not installed, skipped")]
    if args.previous is not None:
        if not (args.previous / "nnmath" / "__init__.py").is_file():
            p.error(f"--previous {args.previous}: no nnmath package in that folder (give a src)")
        systems.insert(systems.index("nnmath") + 1 if "nnmath" in systems else 0, "previous")
    batches = [int(b) for b in args.batches.split(",")]
    dtypes = args.dtypes.split(",")
    data_mb = {d: args.n * (784 * (4 if d == "float32" else 8) + 8) / 2**20 for d in dtypes}

    t_start = time.perf_counter()
    results = []
    header = [
        "row",
        "B",
        "dtype",
        *[f"{s} s (×floor)" for s in systems if s != "floor"],
        "floor s",
        "split floor s (nnmath ×)",
        "fastest",
        "peak RSS MB " + "/".join(systems),
        "nnmath RSS − data MB",
        *(["nnmath ÷ previous"] if "previous" in systems else []),
        *(
            ["nnmath fit s per epoch (× its epoch_time)"]
            + [f"{s} wait s" for s in systems if s not in ("floor", "nnmath")]
            + ["fastest by wait"]
            if args.wait_rounds
            else []
        ),
    ]
    lines = [_fmt_row(header), _fmt_row(["---"] * len(header))]
    print(lines[0], flush=True)
    for dtype in dtypes:
        for row in rows:
            for batch in batches:
                ours = [s for s in systems if "layers" not in ROWS[row] or s in LAYER_SYSTEMS]
                res = run_row(ours, row, batch, dtype, args)
                res |= {
                    s: {"skipped": "not for a network of layers"} for s in systems if s not in ours
                }
                results.append({"row": row, "batch": batch, "dtype": dtype, "results": res})
                cells = [f"{row} {ROWS[row]['sizes']}", str(batch), dtype]
                cells += _row_cells(res, systems, data_mb[dtype])
                if args.wait_rounds:
                    cells += _wait_cells(res, systems)
                line = _fmt_row(cells)
                lines.append(line)
                print(line, flush=True)
    elapsed = time.perf_counter() - t_start
    footer = (
        f"\nData per run: {', '.join(f'{d} {mb:.0f} MB' for d, mb in data_mb.items())} "
        f"(X plus labels). Threads: {args.threads}. Epochs timed: {args.epochs} after 1 "
        f"warm-up (median). Total wall time: {elapsed:.0f} s."
    )
    print(footer)
    if args.markdown:
        text = "\n".join(lines) + "\n" + footer + "\n"
        tmp = args.markdown.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, args.markdown)
    if args.json:
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
