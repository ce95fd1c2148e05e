"""The threaded C epoch runs each logical part of a mini-batch (a thread's rows, its slice
of the step) on whichever thread gets to it first (``nnmath/engine/_threads.h``): on its own
thread on a quiet machine, on another while a competing process holds its own thread's core.
Every way must train the same network bit for bit. Who takes what depends on the machine's
load, so the tests force it through the library's private test hook ``nnm_test_schedule``.

Nothing here is timed: ``benchmarks/under_load.py`` measures the epoch under load.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator

import numpy as np
import pytest

from nnmath.engine import binding, c_available, epoch_runner
from nnmath.network import Network
from nnmath.optim import SGD, Adam

needs_c = pytest.mark.skipif(not c_available(), reason="the C extension is not built here")

NET = dict(activation="relu", output_activation="softmax", cost="log_likelihood", init="he", seed=2)
# nnm_test_schedule's modes
DECIDE, ALONE, ALTERNATE, TOGETHER = 0, 1, 2, 3


@contextlib.contextmanager
def schedule(window: int, mode: int) -> Iterator[None]:
    """Epochs started from this thread inside the block run their parts as ``mode`` says
    (ALTERNATE: windows of ``window`` mini-batches); whichever thread comes first afterwards."""
    hook = binding.library().nnm_test_schedule
    hook.argtypes, hook.restype = [ctypes.c_int64, ctypes.c_int64], None
    hook(window, mode)
    try:
        yield
    finally:
        hook(0, DECIDE)


def _needs_threads() -> None:
    from nnmath.engine.blas import blas_threads

    if blas_threads() is None:
        pytest.skip("the threaded C epoch needs NumPy's OpenBLAS")


def _train(dtype: str, opt: str, window: int, mode: int, threads: int = 2):
    """Two epochs at mini-batch 128 of a net whose first layer takes its step by slices of
    units (784 → 100) and whose hidden layers drop units; its parameters and the runner."""
    rng = np.random.default_rng(3)
    n, B = 6 * 128 + 37, 128  # a last mini-batch of 37 rows
    X = rng.random((n, 784)).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, n)]
    net = Network([784, 100, 30, 10], dtype=dtype, dropout=[0.3, 0.2], **NET)
    optimizer = Adam(eta=0.01) if opt == "adam" else SGD(eta=0.1, lmbda=1.0, n=n)
    runner = epoch_runner(net, optimizer, X, Y, B, backend="c", threads=threads)
    perm_rng, alone = np.random.default_rng(0), []
    with schedule(window, mode):
        for epoch in range(2):
            runner.run_epoch(perm_rng.permutation(n), dropout_key=epoch + 5)
            alone.append(runner.parts_taken // (2 * (threads - 1)) if threads > 1 else 0)
    assert runner.threads_run == threads
    return net.weights + net.biases, alone


@needs_c
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("window, mode", [(1, ALONE), (1, ALTERNATE), (3, ALTERNATE)])
def test_alone_trains_bit_for_bit_like_together(dtype: str, opt: str, window: int, mode: int):
    """One thread that runs every part in order computes what two threads compute, whether
    it runs the whole epoch or every other window of it (the parts it took: 2 per
    mini-batch, the rows and the slice of the other thread)."""
    _needs_threads()
    together, none_alone = _train(dtype, opt, 1, TOGETHER)
    assert none_alone == [0, 0]
    params, alone = _train(dtype, opt, window, mode)
    for p, q in zip(params, together):
        np.testing.assert_array_equal(p, q)
    batches = 7  # 6 of 128 rows and one of 37
    if mode == ALONE:
        assert alone == [batches, batches]
    else:  # alone first: windows 1, 3, 5, ... of each epoch
        starts = range(0, batches, 2 * window)
        assert alone == [sum(min(window, batches - s) for s in starts)] * 2


@needs_c
def test_three_threads_alone_train_like_three_together():
    """Thread 0 runs three logical parts in order; the shares stay those of three threads."""
    _needs_threads()
    together, _ = _train("float64", "adam", 1, TOGETHER, threads=3)
    params, alone = _train("float64", "adam", 2, ALTERNATE, threads=3)
    for p, q in zip(params, together):
        np.testing.assert_array_equal(p, q)
    assert alone == [4, 4]  # windows of 2 of the 7 mini-batches: 0–1 and 4–5 alone


@needs_c
def test_one_thread_reports_nothing_taken():
    """One thread has no other to run without: the hook changes nothing there."""
    params, alone = _train("float32", "sgd", 1, ALONE, threads=1)
    reference, _ = _train("float32", "sgd", 1, DECIDE, threads=1)
    for p, q in zip(params, reference):
        np.testing.assert_array_equal(p, q)
    assert alone == [0, 0]


@needs_c
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_decided_schedule_trains_bit_for_bit_like_together(dtype: str):
    """Left to whichever thread comes first (on a loaded machine, often the other), the
    epoch trains the same network."""
    _needs_threads()
    together, _ = _train(dtype, "adam", 1, TOGETHER)
    params, alone = _train(dtype, "adam", 1, DECIDE)
    for p, q in zip(params, together):
        np.testing.assert_array_equal(p, q)
    assert all(0 <= a <= 7 for a in alone)


def _train_small(dtype: str, opt: str, window: int, mode: int):
    """Two epochs at mini-batch 10 (one thread) of a net whose first layer's products are
    cut into parts (784 → 100) and whose hidden layers drop units; its parameters, the parts
    the epoch's own thread ran for a helper in each epoch, and the runner."""
    rng = np.random.default_rng(4)
    n = 80 * 10 + 5  # a last mini-batch of 5 rows
    X = rng.random((n, 784)).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, n)]
    net = Network([784, 100, 30, 10], dtype=dtype, dropout=[0.3, 0.2], **NET)
    optimizer = Adam(eta=0.01) if opt == "adam" else SGD(eta=0.1, lmbda=1.0, n=n)
    runner = epoch_runner(net, optimizer, X, Y, 10, backend="c")
    if runner.product_parts < 2:
        pytest.skip("BLAS may use one thread here: the products stay whole")
    perm_rng, taken = np.random.default_rng(0), []
    with schedule(window, mode):
        for epoch in range(2):
            runner.run_epoch(perm_rng.permutation(n), dropout_key=epoch + 5)
            taken.append(runner.parts_taken)
    assert runner.threads_run == 1
    return net.weights + net.biases, taken, runner


@needs_c
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("window, mode", [(1, ALONE), (3, ALTERNATE), (1, DECIDE)])
def test_products_in_parts_train_alike_on_any_thread(dtype: str, opt: str, window: int, mode: int):
    """Below 64 rows one thread trains, and each large product is cut into parts of its
    output that a helper thread or the epoch's own runs: the same network bit for bit
    whichever runs them, whether the epoch's thread runs them all, in every other window
    of products, or whichever comes first."""
    _needs_threads()
    together, none, _ = _train_small(dtype, opt, 1, TOGETHER)
    assert none == [0, 0]
    params, taken, runner = _train_small(dtype, opt, window, mode)
    for p, q in zip(params, together):
        np.testing.assert_array_equal(p, q)
    cut = 2 * 81 * (runner.product_parts - 1)  # per mini-batch 784 → 100's z and Σ δ aᵀ
    if mode == ALONE:
        assert taken == [cut, cut]
    elif mode == ALTERNATE:
        assert all(0 < t < cut for t in taken)
    else:
        assert all(0 <= t <= cut for t in taken)
