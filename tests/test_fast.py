"""The compiled epoch: what it computes beside the reference loop, its threads, its buffers, and
what it refuses. ``tests/test_engine.py`` checks it over the registries' whole cross product.

Nothing here is timed: speed lives in ``benchmarks/speed.py``.
"""

from __future__ import annotations

import os
import re
import tracemalloc

import numpy as np
import pytest

from nnmath.activations import Activation, sigmoid, sigmoid_prime
from nnmath.engine import c_available, epoch_runner, unsupported_reason
from nnmath.network import Network
from nnmath.optim import SGD, Adam, RMSprop

# the compiled backend, where it is built (without a C compiler fit trains on the reference)
BACKENDS = ["c"] if c_available() else []
needs_c = pytest.mark.skipif(not c_available(), reason="the C extension is not built here")

CASES = [
    # (network keywords, fit keywords)
    (dict(sizes=[12, 7, 4], activation="sigmoid", cost="quadratic"), dict(eta=3.0)),
    (
        dict(
            sizes=[12, 9, 6, 4],
            activation="relu",
            output_activation="softmax",
            cost="log_likelihood",
            init="he",
        ),
        dict(eta=0.1, lmbda=1.0),
    ),
    (
        dict(
            sizes=[12, 7, 4], activation="tanh", output_activation="sigmoid", cost="cross_entropy"
        ),
        dict(eta=0.5, momentum=0.9, lmbda=0.5),
    ),
    (
        dict(sizes=[12, 7, 4], activation=["elu", "softmax"], cost="quadratic"),
        dict(eta=0.5, momentum=0.5, nesterov=True),
    ),
    (
        dict(
            sizes=[12, 7, 4],
            activation="leaky_relu",
            output_activation="softmax",
            cost="cross_entropy",
        ),
        dict(optimizer="adam", eta=0.01, lmbda=0.1),
    ),
    (
        dict(
            sizes=[12, 7, 4], activation="sigmoid", output_activation="identity", cost="quadratic"
        ),
        dict(eta=0.05),
    ),
    (
        dict(
            sizes=[12, 7, 4], activation="relu", output_activation="sigmoid", cost="log_likelihood"
        ),
        dict(eta=0.2),
    ),
]


def _data(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, 12)), rng.integers(0, 4, n)


def _train(net_kw: dict, fit_kw: dict, dtype: str, fast: bool | str):
    X, y = _data()
    net = Network(seed=1, dtype=dtype, **net_kw)
    history = net.fit(X, y, epochs=3, mini_batch_size=7, seed=2, fast=fast, **fit_kw)
    return net, history


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_fast_path_agrees_with_reference_float64(case: int, backend: str) -> None:
    net_kw, fit_kw = CASES[case]
    ref, h_ref = _train(net_kw, fit_kw, "float64", fast=False)
    fast, h_fast = _train(net_kw, fit_kw, "float64", fast=backend)
    assert h_ref.extra["train_path"] == "reference"
    assert h_fast.extra["train_path"] == backend
    for a, b in zip(ref.weights + ref.biases, fast.weights + fast.biases, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(h_fast.training_cost, h_ref.training_cost, rtol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", [0, 1, 4])
def test_fast_path_agrees_with_reference_float32(case: int, backend: str) -> None:
    net_kw, fit_kw = CASES[case]
    ref, h_ref = _train(net_kw, fit_kw, "float32", fast=False)
    fast, h_fast = _train(net_kw, fit_kw, "float32", fast=backend)
    for a, b in zip(ref.weights + ref.biases, fast.weights + fast.biases, strict=True):
        assert b.dtype == np.float32
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(h_fast.training_cost, h_ref.training_cost, rtol=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "opt_kw, keys",
    [
        (dict(momentum=0.9), ["velocity_w", "velocity_b"]),
        (dict(optimizer="adam", eta=0.01), ["m_w", "m_b", "v_w", "v_b"]),
    ],
)
def test_optimizer_state_matches_reference(backend: str, opt_kw: dict, keys: list) -> None:
    """The fast path keeps the optimizer's named state, as a checkpoint would save it."""
    X, y = _data()
    states = []
    opt_kw = {"eta": 0.5, **opt_kw}
    name = opt_kw.pop("optimizer", "sgd")
    for fast in (False, backend):
        net = Network([12, 7, 4], seed=1, dtype="float64")
        opt = SGD(n=len(X), **opt_kw) if name == "sgd" else Adam(n=len(X), **opt_kw)
        net.fit(X, y, epochs=2, mini_batch_size=10, optimizer=opt, seed=3, fast=fast)
        states.append(opt.state)
    ref, got = states
    for key in keys:
        for a, b in zip(ref[key], got[key], strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)
    assert ref.get("t") == got.get("t")


def test_dispatch_falls_back_for_custom_activation() -> None:
    custom = Activation.from_functions(sigmoid, sigmoid_prime, name="my_sigmoid")
    net = Network([12, 5, 4], activation=custom, output_activation="sigmoid", seed=0)
    X, y = _data(50)
    history = net.fit(X, y, epochs=1, mini_batch_size=10, eta=1.0)
    assert history.extra["train_path"] == "reference"
    reason = unsupported_reason(net, SGD(1.0), net.check_inputs(X), net.check_targets(y, 50))
    assert "my_sigmoid" in reason


@needs_c
def test_fast_is_default_and_false_forces_reference() -> None:
    X, y = _data(50)
    auto = Network([12, 5, 4], seed=0).fit(X, y, epochs=1, mini_batch_size=10)
    forced = Network([12, 5, 4], seed=0).fit(X, y, epochs=1, mini_batch_size=10, fast=False)
    assert auto.extra["train_path"] == BACKENDS[-1]
    assert forced.extra["train_path"] == "reference"


def test_unknown_backend_is_a_clear_error() -> None:
    net = Network([12, 5, 4], seed=0)
    X, y = _data(20)
    with pytest.raises(ValueError, match="unknown fast backend"):
        net.fit(X, y, epochs=1, fast="cuda")
    for removed in ("numba", "numpy"):  # the loops of earlier versions say where they went
        with pytest.raises(ValueError, match="were removed"):
            net.fit(X, y, epochs=1, fast=removed)


@needs_c
def test_run_epoch_rejects_a_wrong_permutation() -> None:
    net = Network([12, 5, 4], seed=0)
    X, y = _data(20)
    runner = epoch_runner(net, SGD(1.0), net.check_inputs(X), net.check_targets(y, 20), 5, "c")
    with pytest.raises(ValueError, match="permutation of 20"):
        runner.run_epoch(np.arange(19))


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_epoch_rejects_row_indices_out_of_range(backend: str) -> None:
    """The compiled epochs index X without bounds checks: a bad index must never get there."""
    net = Network([12, 5, 4], seed=0)
    X, y = _data(20)
    runner = epoch_runner(net, SGD(1.0), net.check_inputs(X), net.check_targets(y, 20), 5, backend)
    for bad in (np.arange(1, 21), np.arange(-1, 19)):
        with pytest.raises(ValueError, match="permutation of 20"):
            runner.run_epoch(bad)


def _warm_epoch_peak(backend: str, n: int) -> int:
    """Peak bytes traced above the start during one warm epoch."""
    rng = np.random.default_rng(0)
    net = Network(
        [64, 100, 10],
        activation="relu",
        output_activation="softmax",
        cost="log_likelihood",
        init="he",
        seed=0,
        dtype="float64",
        dropout=0.5,
    )
    X = net.check_inputs(rng.random((n, 64)))
    Y = net.check_targets(rng.integers(0, 10, n), n)
    runner = epoch_runner(net, Adam(1e-3, n=n), X, Y, 32, backend)
    runner.run_epoch(rng.permutation(n), dropout_key=1)  # warm: creates the optimizer state
    perm = rng.permutation(n)
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        runner.run_epoch(perm, dropout_key=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - start


@pytest.mark.parametrize("backend", BACKENDS)
def test_warm_epoch_allocates_nothing_per_mini_batch(backend: str) -> None:
    """Once warm, an epoch allocates no array: the peak of traced memory stays far below the
    size of one (32, 100) float64 activation (25.6 kB), whatever the number of mini-batches
    (dropout's masks included)."""
    one_buffer = 32 * 100 * 8
    assert _warm_epoch_peak(backend, 32 * 8) < one_buffer // 4
    assert _warm_epoch_peak(backend, 32 * 64 + 5) < one_buffer // 4  # + a short batch


def test_c_extension_is_built_where_a_compiler_is() -> None:
    """``pip install`` builds nnmath.engine._ckernels when it finds a C compiler; a missing or stale
    build here would silently train on the much slower reference loop."""
    import shutil
    import sysconfig

    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler}) here: nnmath trains on the reference loop")
    assert c_available(), (
        "nnmath.engine._ckernels is not built (or is stale): reinstall with `pip install -e .`"
    )
    X, y = _data(50)
    history = Network([12, 5, 4], seed=0).fit(X, y, epochs=1, mini_batch_size=10)
    assert history.extra["train_path"] == "c"


def test_c_epoch_allocates_no_memory() -> None:
    """The C epoch has no allocation call at all (tracemalloc cannot see C's malloc); the
    threaded epoch starts its threads once per epoch (pthread_create), none per mini-batch."""
    from pathlib import Path

    import nnmath

    here = Path(nnmath.__file__).parent / "engine"
    source = "".join(p.read_text() for p in sorted(here.glob("*.[ch]")))
    for call in ("malloc(", "calloc(", "realloc(", "PyMem_", "PyObject_Malloc"):
        assert call not in source


@needs_c
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_in, B", [(3, 5), (16, 4), (33, 9), (64, 8), (71, 13)])
def test_c_gather_copies_the_shuffled_rows_exactly(n_in: int, B: int, dtype: str) -> None:
    # the C gather copies rows side by side, a cache line of each in turn: widths below,
    # at and past whole cache lines, and mini-batches with and without leftover rows
    rng = np.random.default_rng(4)
    n = 7 * B - (B > 4)  # a last mini-batch of 4, 4, 8, 7 and 12 rows: groups of 4 and a rest
    X = rng.random((n, n_in)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, n)]
    net = Network([n_in, 4, 3], seed=0, dtype=dtype)
    runner = epoch_runner(net, SGD(eta=0.5), X, Y, B, backend="c")
    perm = rng.permutation(n)
    runner.run_epoch(perm)
    last = perm[(n - 1) // B * B :]  # the epoch's last mini-batch is left in the buffers
    np.testing.assert_array_equal(runner.A[0][: len(last)], X[last])
    np.testing.assert_array_equal(runner.y_batch[: len(last)], Y[last])


def _assert_threads_train_like_one(make_net, make_opt, X, Y, B: int, threads: int, epochs: int):
    """Train make_net() with make_opt() on one thread and on ``threads`` (the same shuffles)
    and check that both end with the same parameters, to rounding."""
    n, nets = X.shape[0], []
    for T in (1, threads):
        net = make_net()
        runner = epoch_runner(net, make_opt(), X, Y, B, backend="c", threads=T)
        assert runner.threads == T
        perm_rng = np.random.default_rng(0)
        for _ in range(epochs):
            runner.run_epoch(perm_rng.permutation(n))
        assert runner.threads_run == T  # all of them started
        nets.append(net)
    for W1, W2 in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        np.testing.assert_allclose(W2, W1, rtol=1e-9, atol=1e-12)


@needs_c
@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam"])
def test_threaded_c_epoch_matches_one_thread(threads: int, opt: str) -> None:
    """Threads that share each mini-batch (their own rows, then the summed gradient) train
    the same network as one thread, to rounding; n leaves a last mini-batch of 2 rows, so
    with 3 threads one thread has no rows there."""
    from nnmath.engine.blas import blas_threads

    if blas_threads() is None:
        pytest.skip("the threaded C epoch needs NumPy's OpenBLAS")
    rng = np.random.default_rng(5)
    n, B = 7 * 16 + 2, 16
    X = rng.random((n, 20))
    Y = np.eye(4)[rng.integers(0, 4, n)]
    make = {
        "sgd": lambda: SGD(eta=0.5, lmbda=0.1, n=n),
        "momentum": lambda: SGD(eta=0.2, momentum=0.9, nesterov=True, n=n),
        "adam": lambda: Adam(eta=0.01),
    }[opt]

    def net() -> Network:
        return Network([20, 9, 7, 4], activation=["tanh", "relu", "softmax"],
                       cost="log_likelihood", seed=1, dtype="float64")  # fmt: skip

    _assert_threads_train_like_one(net, make, X, Y, B, threads, epochs=3)


@needs_c
@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("sizes", [[784, 30, 10], [784, 800, 30, 10]])
def test_threaded_c_epoch_cuts_narrow_layers_into_calls_like_one_thread(
    threads: int, sizes: list[int]
) -> None:
    """A thread's share of a narrow layer's products goes to BLAS in calls of GEMM_ROWS rows
    when one call would exceed 10^6 multiply-adds: the 784 → 30 layer (shares of 64 and 43
    rows: calls of 32, and of 32 + 11), and the 800 → 30 layer, whose Wᵀ δ is cut too. The
    network trained is the one thread's (which makes every product in one call), to
    rounding."""
    from nnmath.engine import GEMM_ROWS
    from nnmath.engine.blas import blas_threads

    if blas_threads() is None:
        pytest.skip("the threaded C epoch needs NumPy's OpenBLAS")
    B = 128
    share = -(-B // threads)
    cut = [
        n_in * n_out
        for n_in, n_out in zip(sizes, sizes[1:])
        if n_out <= 32 and share * n_in * n_out > 10**6 >= GEMM_ROWS * n_in * n_out
    ]
    assert cut  # the rule applies to one layer here
    rng = np.random.default_rng(6)
    n = 7 * B + 2
    X = rng.random((n, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    activation = ["sigmoid"] * (len(sizes) - 2) + ["softmax"]

    def net() -> Network:
        return Network(sizes, activation=activation, cost="log_likelihood", seed=2, dtype="float64")

    _assert_threads_train_like_one(
        net, lambda: SGD(eta=0.5, lmbda=0.1, n=n), X, Y, B, threads, epochs=2
    )


@needs_c
@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam", "rmsprop"])
@pytest.mark.parametrize(
    "sizes, threads",
    [([300, 256, 40, 10], 2), ([300, 256, 40, 10], 3), ([1400, 48, 10], 3)],
)
def test_threaded_c_epoch_steps_large_layers_by_slices_like_one_thread(
    sizes: list[int], threads: int, opt: str
) -> None:
    """A layer of at least 65,536 weights whose output units number m / T or more (here the
    first) takes its step on T threads by slices of its units, each over all m rows (the
    C epoch's nnm_sliced); the other layers from the threads' parts. The 1400 → 48 layer's
    slices of 16 units go to BLAS in calls of 32 rows as well. Every optimizer trains the
    one thread's network, to rounding; the last mini-batch has 5 rows."""
    from nnmath.engine.blas import blas_threads

    if blas_threads() is None:
        pytest.skip("the threaded C epoch needs NumPy's OpenBLAS")
    B, n = 128, 2 * 128 + 5
    sliced = [
        n_in * n_out >= 65536 and n_out * threads >= B for n_in, n_out in zip(sizes, sizes[1:])
    ]
    assert sliced[0] and not any(sliced[1:])
    rng = np.random.default_rng(9)
    X = rng.random((n, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    make = {
        "sgd": lambda: SGD(eta=0.3, lmbda=0.1, n=n),
        "momentum": lambda: SGD(eta=0.1, momentum=0.9, nesterov=True, lmbda=0.1, n=n),
        "adam": lambda: Adam(eta=0.01, lmbda=0.1, n=n),
        "rmsprop": lambda: RMSprop(eta=0.01, lmbda=0.1, n=n),
    }[opt]

    def net() -> Network:
        return Network(sizes, activation="relu", output_activation="softmax",
                       cost="log_likelihood", init="he", seed=3, dtype="float64")  # fmt: skip

    _assert_threads_train_like_one(net, make, X, Y, B, threads, epochs=2)


@needs_c
def test_fit_reports_the_threads_it_trained_on() -> None:
    from nnmath.engine.blas import blas_threads

    X, y = _data(300)
    small = Network([12, 5, 4], seed=0).fit(X, y, epochs=1, mini_batch_size=10)
    assert small.extra["train_threads"] == 1  # under 64 rows: one thread
    reference = Network([12, 5, 4], seed=0).fit(X, y, epochs=1, mini_batch_size=100, fast=False)
    assert reference.extra["train_threads"] == 1
    big = Network([12, 5, 4], seed=0).fit(X, y, epochs=1, mini_batch_size=100)
    blas = blas_threads()
    expected = 1 if blas is None else min(blas.get(), len(os.sched_getaffinity(0)), 64)
    assert big.extra["train_threads"] == expected


@needs_c
def test_threads_argument_is_checked() -> None:
    X, Y = np.zeros((8, 3)), np.eye(2)[np.zeros(8, int)]
    net = Network([3, 2], seed=0, dtype="float64")
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        epoch_runner(net, SGD(eta=0.1), X, Y, 4, threads=0)
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        epoch_runner(net, SGD(eta=0.1), X, Y, 4, threads=True)


class _Unknown(Activation):
    """A registry entry whose name no compiled epoch's table holds."""

    name = "unknown_to_c"

    def __call__(self, z):
        return sigmoid(z)

    def prime(self, z):
        return sigmoid_prime(z)


@needs_c
def test_an_id_the_library_does_not_know_falls_back_with_the_reason(monkeypatch) -> None:
    from nnmath import activations

    monkeypatch.setitem(activations.ACTIVATIONS, _Unknown.name, _Unknown)
    net = Network([12, 5, 4], activation=_Unknown(), output_activation="sigmoid", seed=0)
    X, y = _data(40)
    reason = unsupported_reason(net, SGD(1.0), net.check_inputs(X), net.check_targets(y, 40))
    assert reason == "activation 'unknown_to_c' has no compiled kernel in this build"
    assert epoch_runner(net, SGD(1.0), net.check_inputs(X), net.check_targets(y, 40), 5) is None


@needs_c
@pytest.mark.parametrize(
    "field, kind", [("activation", "activation"), ("cost", "cost"), ("opt", "optimizer")]
)
def test_the_compiled_epoch_refuses_an_id_it_does_not_know(field: str, kind: str) -> None:
    """Should an unknown id reach the C epoch, it changes nothing and says so (never a silent
    default such as softmax in one path and identity in another)."""
    net = Network([12, 5, 4], seed=0, dtype="float64")
    X, y = _data(40)
    runner = epoch_runner(net, SGD(1.0), net.check_inputs(X), net.check_targets(y, 40), 5)
    if field == "activation":
        runner._arrays["activation"][0] = 999
    else:
        setattr(runner._c_epoch, field, 999)
    before = [W.copy() for W in net.weights]
    with pytest.raises(ValueError, match=f"does not know this {kind}'s kernel id"):
        runner.run_epoch(np.arange(40))
    for W, W0 in zip(net.weights, before):
        np.testing.assert_array_equal(W, W0)


@needs_c
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "sizes, p",
    [
        ([6, 9, 4, 3], [0.5, 0.2]),  # two hidden layers, odd and even: the draws row by row
        ([6, 8, 3], [0.5]),  # one of even width: the mini-batch's draws in one run
        ([6, 300, 3], [0.2]),  # the same over several passes of the kernel's draws
        ([6, 9, 3], [0.5]),  # one of odd width: row by row again
    ],
)
def test_c_dropout_masks_are_the_reference_masks(dtype: str, sizes: list, p: list) -> None:
    """The C epoch's masks of the last mini-batch are :func:`nnmath.dropout.masks` of the
    same positions, bit for bit."""
    from nnmath import dropout

    rng = np.random.default_rng(7)
    n, B = 53, 10
    net = Network(sizes, seed=0, dtype=dtype, dropout=p)
    X = rng.random((n, 6)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, n)]
    runner = epoch_runner(net, SGD(eta=0.1), X, Y, B)
    key = 0x1234_5678_9ABC_DEF0
    runner.run_epoch(rng.permutation(n), dropout_key=key)
    start = (n - 1) // B * B
    m = n - start
    expected = dropout.masks(net.sizes, net.dropout, key, start, m, dtype)
    hidden = len(sizes) - 2
    for i in range(hidden):
        np.testing.assert_array_equal(runner.mask[i][:m], expected[i].T)
        kept = (expected[i] > 0).mean()
        assert 0.2 < kept < 0.95
    assert expected[hidden] is None and runner.mask[hidden] is None


@needs_c
@pytest.mark.parametrize("threads", [2, 3])
def test_threaded_c_epoch_with_dropout_matches_one_thread(threads: int) -> None:
    """Each thread computes the masks of its own rows from their positions in the epoch."""
    from nnmath.engine.blas import blas_threads

    if blas_threads() is None:
        pytest.skip("the threaded C epoch needs NumPy's OpenBLAS")
    rng = np.random.default_rng(8)
    n, B = 5 * 64 + 3, 64
    X = rng.random((n, 20))
    Y = np.eye(4)[rng.integers(0, 4, n)]
    nets = []
    for T in (1, threads):
        net = Network([20, 15, 9, 4], activation="relu", cost="log_likelihood", seed=1,
                      dtype="float64", dropout=[0.5, 0.3])  # fmt: skip
        runner = epoch_runner(net, SGD(eta=0.2, momentum=0.9, n=n), X, Y, B, threads=T)
        perm_rng = np.random.default_rng(0)
        for epoch in range(2):
            runner.run_epoch(perm_rng.permutation(n), dropout_key=epoch + 11)
        assert runner.threads_run == T
        nets.append(net)
    for W1, W2 in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        np.testing.assert_allclose(W2, W1, rtol=1e-9, atol=1e-12)


@needs_c
def test_a_dropping_network_needs_the_epochs_key() -> None:
    net = Network([12, 5, 4], seed=0, dropout=0.5)
    X, y = _data(20)
    runner = epoch_runner(net, SGD(1.0), net.check_inputs(X), net.check_targets(y, 20), 5)
    with pytest.raises(ValueError, match="dropout_key"):
        runner.run_epoch(np.arange(20))


def _bad_states():
    """(optimizer, how its state is spoilt, words of the error) after one good epoch."""
    return [
        (Adam(0.01), lambda s: s["m_w"].pop(), "'m_w' has 1 tensors"),
        (Adam(0.01), lambda s: s["v_w"].__setitem__(0, s["v_w"][0][:2].copy()), "(2, 12)"),
        (Adam(0.01), lambda s: s["m_w"].__setitem__(0, s["m_w"][0].T.copy()), "(12, 5)"),
        (Adam(0.01), lambda s: s["m_b"].__setitem__(1, s["m_b"][1].astype(np.float32)), "float32"),
        (Adam(0.01), lambda s: s["m_w"].__setitem__(1, np.asfortranarray(s["m_w"][1])), "not C"),
        (SGD(0.1, momentum=0.9), lambda s: s["velocity_b"].__setitem__(0, None), "NoneType"),
    ]


@needs_c
@pytest.mark.parametrize("case", range(6))
def test_run_epoch_names_a_state_tensor_of_the_wrong_shape_dtype_or_order(case: int) -> None:
    """Every array the compiled epoch reads or writes is checked in Python first: a missing,
    undersized, transposed, mistyped or Fortran-ordered state tensor is a ValueError naming
    it, and the parameters are untouched."""
    import re

    opt, spoil, words = _bad_states()[case]
    net = Network([12, 5, 4], seed=0, dtype="float64")
    X, y = _data(40)
    runner = epoch_runner(net, opt, net.check_inputs(X), net.check_targets(y, 40), 5)
    runner.run_epoch(np.arange(40))
    spoil(opt.state)
    before = [W.copy() for W in net.weights]
    with pytest.raises(ValueError, match=re.escape(words)):
        runner.run_epoch(np.arange(40))
    assert all(np.array_equal(a, b) for a, b in zip(before, net.weights))


@needs_c
def test_run_epoch_names_transposed_weights() -> None:
    net = Network([12, 5, 4], seed=0)
    X, y = _data(40)
    runner = epoch_runner(net, SGD(1.0), net.check_inputs(X), net.check_targets(y, 40), 5)
    net.weights[1] = np.ascontiguousarray(net.weights[1].T)
    with pytest.raises(ValueError, match=re.escape("weights[1] is a C-contiguous float32 array "
                                                   "of shape (5, 4)")):  # fmt: skip
        runner.run_epoch(np.arange(40))


C_REFUSES = """
import numpy as np
from nnmath.engine import EpochRunner, epoch_runner
from nnmath.network import Network
from nnmath.optim import Adam
EpochRunner._check_arrays = lambda self, lists: None  # only the C epoch's own check is left
net = Network([12, 5, 4], seed=0, dtype="float64")
X = np.random.default_rng(0).random((40, 12)); y = np.arange(40) % 4
opt = Adam(0.01)
runner = epoch_runner(net, opt, net.check_inputs(X), net.check_targets(y, 40), 5)
runner.run_epoch(np.arange(40))
opt.state["v_w"][0] = opt.state["v_w"][0][:1].copy()  # 12 of the 60 elements
try:
    runner.run_epoch(np.arange(40))
except ValueError as exc:
    print("refused:", exc)
"""


@needs_c
def test_the_compiled_epoch_itself_refuses_an_undersized_buffer() -> None:
    """Behind the Python check, the C epoch compares each buffer's length with what the layer
    sizes imply (``BAD_LENGTH``); in a subprocess, so that a write past the buffer would fail
    this test rather than crash the test run."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", C_REFUSES], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-1000:]
    assert "refused: the compiled epoch refused" in proc.stdout


def _run_script(script: str, timeout: int = 120):
    """``script`` in a fresh interpreter (a write into freed or read-only memory kills that
    process, not the test run); its completed process."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout
    )


READ_ONLY = """
import tempfile, numpy as np
from nnmath.engine import epoch_runner
from nnmath.network import Network
from nnmath.optim import SGD, Adam
folder = tempfile.mkdtemp()
X = np.random.default_rng(0).random((40, 12)); y = np.arange(40) % 4
def read_only(W, how):
    if how == "flag":
        W = W.copy(); W.flags.writeable = False; return W, None
    if how == "bytes":
        raw = W.tobytes(); return np.frombuffer(raw, W.dtype).reshape(W.shape), raw
    np.save(f"{folder}/w.npy", W)
    W = np.load(f"{folder}/w.npy", mmap_mode="r")  # mapped read-only: a write is a SIGSEGV
    return (W.view(np.ndarray) if how == "view" else W), None
for how in ("flag", "bytes", "mmap", "view"):
    for where in ("weights", "biases", "state"):
        net = Network([12, 5, 4], seed=0, dtype="float64")
        opt = Adam(0.01)
        runner = epoch_runner(net, opt, net.check_inputs(X), net.check_targets(y, 40), 5)
        runner.run_epoch(np.arange(40))
        lists = {"weights": net.weights, "biases": net.biases, "state": opt.state["m_w"]}
        lists[where][1], raw = read_only(lists[where][1], how)
        before = lists[where][1].copy()
        try:
            runner.run_epoch(np.arange(40))
            print("trained", how, where)
        except ValueError as exc:
            assert "read-only" in str(exc), exc
            print("refused", how, where)
        assert np.array_equal(lists[where][1], before), (how, where)
        assert raw is None or raw == before.tobytes(), (how, where)
"""


@needs_c
def test_the_compiled_epoch_never_writes_into_a_read_only_array() -> None:
    """A parameter or state tensor replaced by a read-only one (``writeable = False``, an
    array over ``bytes``, a read-only memory map or a plain view of one) is refused before the
    C epoch writes into it, and its data stay as they were; in a subprocess, since such a
    write is a SIGSEGV (the map) or silently changed immutable ``bytes``."""
    proc = _run_script(READ_ONLY)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("refused") == 12, proc.stdout


SHORT_ARRAYS = """
import numpy as np
from nnmath.engine import EpochRunner, epoch_runner
from nnmath.network import Network
from nnmath.optim import SGD
EpochRunner._check_arrays = lambda self, lists: None  # only the C epoch's own check is left
X = np.random.default_rng(0).random((40, 12)); y = np.arange(40) % 4
def spoil(runner, name, value):
    runner._arrays[name] = value
    setattr(runner._c_epoch, name, value.ctypes.data)
cases = {
    "activation": lambda r: spoil(r, "activation", np.array([0], np.int64)),
    "alphas": lambda r: spoil(r, "alphas", np.array([0.0])),
    "drop_scale": lambda r: spoil(r, "drop_scale", np.array([2.0])),
    "drop_thresh": lambda r: r._arrays["drop_thresh"].__setitem__(0, 2**33),
    "threads": lambda r: setattr(r, "threads", 65),
}
for name, spoil_it in cases.items():
    net = Network([12, 5, 3, 4], seed=0, dtype="float64", dropout=0.5)
    runner = epoch_runner(net, SGD(1.0), net.check_inputs(X), net.check_targets(y, 40), 5)
    spoil_it(runner)
    try:
        runner.run_epoch(np.arange(40), dropout_key=1)
        print("trained", name)
    except ValueError as exc:
        print("refused", name, exc)
"""


@needs_c
def test_the_compiled_epoch_itself_refuses_a_short_per_layer_array() -> None:
    """The C epoch is given the length of every array (kernel ids, α, dropout entries, ...)
    and refuses a mismatch, and a value that would index out of range (a dropout threshold
    of p ≥ 1, threads above 64), even with the Python checks taken away."""
    proc = _run_script(SHORT_ARRAYS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [line.split()[0] for line in proc.stdout.splitlines()] == ["refused"] * 5, proc.stdout


REPLACED = """
import threading, time, numpy as np
import nnmath as nm
X = np.random.default_rng(0).random((1000, 784)).astype(np.float32); y = np.arange(1000) % 10
net = nm.Network([784, 100, 10], seed=0)
done = threading.Event()
def replace():
    while not done.is_set():  # W[0] is 313 kB: freed, its pages go back to the system
        net.weights[0] = np.array(net.weights[0])
        net.biases = [b.copy() for b in net.biases]
        time.sleep(0.001)
thread = threading.Thread(target=replace)
thread.start()
try:
    history = net.fit(X, y, epochs=3, mini_batch_size=10, eta=0.1, optimizer="adam")
finally:
    done.set(); thread.join()
print("trained", history.extra["train_path"], np.isfinite(net.weights[0]).all())
"""


@needs_c
def test_weights_replaced_by_another_thread_while_the_epoch_runs_stay_alive() -> None:
    """The C epoch writes into the arrays it was given until it returns: another thread that
    replaces ``net.weights[0]`` meanwhile leaves them alive (fit holds them), never a write
    into freed memory; in a subprocess, where such a write is a crash."""
    proc = _run_script(REPLACED, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "trained c True" in proc.stdout, proc.stdout


@needs_c
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_mini_batch_larger_than_the_set_is_one_mini_batch_of_the_set(dtype: str) -> None:
    """``mini_batch_size`` above the rows trains one mini-batch of all of them, as the
    reference loop does, instead of buffers for 10^12 rows (a MemoryError)."""
    X, y = _data(60)
    nets = [Network([12, 7, 4], seed=0, dtype=dtype) for _ in range(3)]
    for net, (B, fast) in zip(nets, [(10**12, True), (60, True), (10**12, False)]):
        history = net.fit(X, y, epochs=3, mini_batch_size=B, eta=0.5, seed=1, fast=fast)
        assert history.extra["train_path"] == ("c" if fast else "reference")
    for W_big, W_60, W_ref in zip(nets[0].weights, nets[1].weights, nets[2].weights):
        assert np.array_equal(W_big, W_60)
        tol = 1e-12 if dtype == "float64" else 1e-5
        np.testing.assert_allclose(W_big, W_ref, rtol=tol, atol=tol)


@needs_c
def test_estimator_and_sweep_take_a_batch_size_above_the_rows(tmp_path) -> None:
    from nnmath.estimator import NNMathClassifier
    from nnmath.sweep import load_sweep, run_sweep

    X, y = _data(60)
    clf = NNMathClassifier(hidden_layer_sizes=(7,), batch_size=10**12, epochs=2, random_state=0)
    assert clf.fit(X, y).score(X, y) >= 0
    spec = tmp_path / "sweep.toml"  # a sweep file, as `nnmath sweep` reads it
    grid = "[grid]\nmini_batch_size = [1000000000000]\nepochs = [1]\n"
    spec.write_text('measure = "train"\nsubset = 60\n' + grid)
    result = run_sweep(load_sweep(spec), tmp_path / "r.csv", n_jobs=1)
    assert [row["mini_batch_size"] for row in result.rows] == [10**12]


def _fit_two(seeds: tuple[int, int], B: int, threaded: bool) -> list[list[np.ndarray]]:
    """Two networks fitted one after the other, or at once in two threads: their weights."""
    import threading

    X, y = _data(600)
    nets = [Network([12, 30, 4], seed=s, activation="relu") for s in seeds]

    def fit(k: int) -> None:
        nets[k].fit(X, y, epochs=3, mini_batch_size=B, eta=0.01, seed=k, optimizer="adam")

    if threaded:
        threads = [threading.Thread(target=fit, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for k in range(2):
            fit(k)
    return [[W.copy() for W in net.weights] for net in nets]


@needs_c
@pytest.mark.parametrize("B", [10, 128])
def test_two_threads_fitting_two_networks_match_serial_runs(B: int) -> None:
    """Each fit holds its own buffers and claim: two networks trained at once in two threads
    end bit for bit as when trained one after the other (batch 128: threaded epochs)."""
    serial, threaded = _fit_two((1, 2), B, False), _fit_two((1, 2), B, True)
    for a, b in zip(serial, threaded):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
