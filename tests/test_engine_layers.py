"""The compiled epoch and the reference layer loop agree on batch normalisation and residual
blocks of dense layers, and anything else falls back to the reference and says why.

Each architecture (``ARCHITECTURES``: Dense(n, σ, batch_norm=True) layers, two-layer and
one-layer residual blocks, and both together) is trained twice from the same seed with every
hidden σ, every cost and every optimizer of the registries (so a new entry is tested here
without an edit): on the reference loop (``fast=False``) and on the compiled epoch. In float64
the weights, biases, costs, optimizer state and the BatchNorms' running statistics agree to
1e-9; likewise with Dropout layers under every optimizer.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import COST_NAMES, ELEMENTWISE_NAMES
from nnmath import Network
from nnmath.callbacks import Callback
from nnmath.engine import c_available
from nnmath.layers import (
    Activation,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Input,
    LayerNorm,
    Residual,
)
from nnmath.optim import get_optimizer
from nnmath.schedules import get_schedule
from test_engine import OPTIMIZER_NAMES, _assert_same_run

pytestmark = pytest.mark.skipif(not c_available(), reason="the C extension is not built here")

ETA = {"sgd": 0.03}  # an identity σ through two blocks diverges at 0.1; the others take 0.01
OUTPUT = {"log_likelihood": "softmax", "cross_entropy": "sigmoid", "quadratic": "identity"}


def _layers(arch: str, act: str, out: str) -> list:
    """The hidden part of each architecture with σ ``act``, and an output Dense(3, out)."""
    body = {
        "batch_norm": [Dense(6, act, batch_norm=True), Dense(5, act, batch_norm=True)],
        "residual": [
            Dense(5, act),
            Residual([Dense(5, act), Dense(5, "identity")], activation=act),
            Residual([Dense(5, "identity")], activation=act),
        ],
        "both": [
            Dense(5, "identity"), BatchNorm(momentum=0.3), Activation(act),
            Residual([Dense(5, act), Dense(5, "identity")], activation=act), BatchNorm(),
        ],
        "norm_first": [BatchNorm(), Dense(5, act), Dense(5, act, batch_norm=True)],
    }[arch]  # fmt: skip
    return [Input(6), *body, Dense(3, out)]


ARCHITECTURES = ("batch_norm", "residual", "both")


def _train(arch, act, cost, opt, fast, dtype="float64", batch=7, n=45, **kw):
    rng = np.random.default_rng(0)
    X, y = rng.random((n, 6)).astype(dtype), rng.integers(0, 3, n)
    net = Network(_layers(arch, act, OUTPUT[cost]), cost=cost, seed=1, dtype=dtype)
    optimizer = get_optimizer(opt, eta=ETA.get(opt, 0.01), lmbda=0.2, n=n)
    history = net.fit(
        X, y, epochs=3, mini_batch_size=batch, optimizer=optimizer,
        schedule=get_schedule("cosine"), seed=2, fast=fast, **kw,
    )  # fmt: skip
    return net, optimizer, history


def _assert_same_parameters(ref, fast, opt: str) -> None:
    """As test_engine's comparison; but a Dense bias that a BatchNorm follows has a gradient
    that is zero in exact arithmetic (the BatchNorm subtracts the batch's mean), so what
    each path computes for it is rounding, which Adam's and RMSprop's m/(√v + ε) scale up
    by η/ε: those biases agree to 1e-6 there (and change nothing downstream)."""
    net_r, net_f = ref[0], fast[0]
    layers = net_r.parametrized
    before_norm = {
        i for i, (a, b) in enumerate(zip(layers, layers[1:])) if type(b).__name__ == "BatchNorm"
    }
    if opt == "sgd" or not before_norm:
        _assert_same_run(ref, fast)
        return
    for i, (a, b) in enumerate(zip(net_r.biases, net_f.biases, strict=True)):
        atol = 1e-6 if i in before_norm else 1e-11
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=atol)
    for a, b in zip(net_r.weights, net_f.weights, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(fast[2].training_cost, ref[2].training_cost, rtol=1e-9)


def _assert_same_state(net_r, net_f, rtol=1e-9, atol=1e-11, mean_atol=None) -> None:
    """The running statistics agree; ``mean_atol``: the running means' (they hold the
    Dense bias that _assert_same_parameters explains, when an adaptive optimizer moved it)."""
    assert len(net_r.stateful) == len(net_f.stateful)
    for a, b in zip(net_r.stateful, net_f.stateful, strict=True):
        for key, value in a.state().items():
            tol = mean_atol if mean_atol and key == "running_mean" else atol
            np.testing.assert_allclose(b.state()[key], value, rtol=rtol, atol=tol)


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("act", ELEMENTWISE_NAMES)
def test_every_hidden_activation_equals_the_reference(arch: str, act: str) -> None:
    ref = _train(arch, act, "log_likelihood", "sgd", fast=False)
    fast = _train(arch, act, "log_likelihood", "sgd", fast=True)
    assert ref[2].extra["train_path"] == "reference"
    assert fast[2].extra["train_path"] == "c", fast[2].extra.get("fallback_reason")
    _assert_same_run(ref, fast)
    _assert_same_state(ref[0], fast[0])


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("cost", COST_NAMES)
@pytest.mark.parametrize("opt", OPTIMIZER_NAMES)
def test_every_cost_and_optimizer_equals_the_reference(arch: str, cost: str, opt: str) -> None:
    ref = _train(arch, "tanh", cost, opt, fast=False)
    fast = _train(arch, "tanh", cost, opt, fast=True)
    assert fast[2].extra["train_path"] == "c", fast[2].extra.get("fallback_reason")
    _assert_same_parameters(ref, fast, opt)
    _assert_same_state(ref[0], fast[0], mean_atol=None if opt == "sgd" else 1e-6)
    if "batch_norm" in arch or arch == "both":  # the statistics moved: a real comparison
        assert not np.allclose(fast[0].stateful[0].state()["running_var"], 1.0)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_float32_agrees_to_its_precision(arch: str) -> None:
    """Plain SGD: under Adam float32 rounding in the zero gradient of a Dense bias before a
    BatchNorm is scaled up by η/ε, and both paths' values for it are noise."""
    ref = _train(arch, "relu", "log_likelihood", "sgd", fast=False, dtype="float32")
    fast = _train(arch, "relu", "log_likelihood", "sgd", fast=True, dtype="float32")
    assert fast[2].extra["train_path"] == "c"
    assert fast[0].weights[0].dtype == np.float32
    for a, b in zip(ref[0].weights + ref[0].biases, fast[0].weights + fast[0].biases):
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-4)
    _assert_same_state(ref[0], fast[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("arch", [*ARCHITECTURES, "norm_first"])
def test_mini_batches_of_64_equal_the_reference(arch: str) -> None:
    """Batch norms and residual blocks on the threaded epoch (when BLAS may use several
    threads), a batch norm's statistics summed over every thread's rows."""
    from nnmath.engine import default_threads

    ref = _train(arch, "elu", "log_likelihood", "sgd", fast=False, batch=64, n=200)
    fast = _train(arch, "elu", "log_likelihood", "sgd", fast=True, batch=64, n=200)
    assert fast[2].extra["train_path"] == "c"
    assert fast[2].extra["train_threads"] == default_threads(64)
    _assert_same_run(ref, fast)
    _assert_same_state(ref[0], fast[0])


def _needs_threads(threads: int) -> None:
    from nnmath.engine.blas import blas_threads

    if threads > 1 and blas_threads() is None:
        pytest.skip("the threaded C epoch needs NumPy's OpenBLAS")


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("arch, opt", [("both", "sgd"), ("both", "adam"), ("norm_first", "sgd")])
def test_batch_norms_on_any_thread_count_equal_the_reference(
    threads: int, arch: str, opt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each thread sums its own rows, and after the barrier adds up every thread's sums:
    on T threads the run agrees with the reference to 1e-9, running statistics included,
    also with a last mini-batch of 2 rows (one of 3 threads has none). (Not norm_first with
    Adam: the rounding its Dense bias before a BatchNorm gets as gradient, scaled up by η/ε
    as _assert_same_parameters says, passes 1e-6 there.)"""
    from nnmath.engine import runner

    _needs_threads(threads)
    monkeypatch.setattr(runner, "epoch_threads", lambda B, asked: threads)
    ref = _train(arch, "elu", "log_likelihood", opt, fast=False, batch=64, n=194)
    fast = _train(arch, "elu", "log_likelihood", opt, fast=True, batch=64, n=194)
    assert fast[2].extra["train_path"] == "c"
    assert fast[2].extra["train_threads"] == threads
    _assert_same_parameters(ref, fast, opt)
    _assert_same_state(ref[0], fast[0], mean_atol=1e-6 if opt != "sgd" else None)


def _bits(net) -> list:
    return [*net.weights, *net.biases, *(v for x in net.stateful for v in x.state().values())]


def test_threaded_batch_norms_repeat_bit_for_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The totals are added in one order whichever thread runs which part: two runs on two
    threads, each on its own part or one thread running both, give the same bits."""
    from nnmath.engine import runner
    from test_engine_threads import ALONE, DECIDE, TOGETHER, schedule

    _needs_threads(2)
    monkeypatch.setattr(runner, "epoch_threads", lambda B, asked: 2)
    runs = []
    for mode in (DECIDE, TOGETHER, ALONE, DECIDE):
        with schedule(1, mode):
            net, _, history = _train(
                "both", "elu", "log_likelihood", "adam", True, batch=128, n=300
            )
        assert history.extra["train_threads"] == 2
        runs.append(_bits(net))
    for run in runs[1:]:
        for a, b in zip(runs[0], run, strict=True):
            np.testing.assert_array_equal(b, a)


DROPPED = {
    "batch_norm": lambda: [
        Dense(6, "tanh", batch_norm=True), Dropout(0.3), Dense(5, "relu", batch_norm=True),
        Dropout(0.5),
    ],
    "residual": lambda: [
        Dense(5, "elu"), Dropout(0.3),
        Residual([Dense(5, "tanh"), Dense(5, "identity")], activation="relu"), Dropout(0.2),
        Residual([Dense(5, "identity")], activation="tanh"),
    ],
}  # fmt: skip


@pytest.mark.parametrize("arch", sorted(DROPPED))
@pytest.mark.parametrize("opt", OPTIMIZER_NAMES)
def test_dropout_layers_equal_the_reference(arch: str, opt: str) -> None:
    """A Dropout after a hidden layer's σ is the compiled epoch's dropout of that layer,
    with the masks LayerNetwork.dropout_masks draws (a block reads its dropped input)."""
    runs = []
    for fast in (False, True):
        rng = np.random.default_rng(0)
        X, y = rng.random((45, 6)), rng.integers(0, 3, 45)
        layers = [Input(6), *DROPPED[arch](), Dense(3, "softmax")]
        net = Network(layers, cost="log_likelihood", seed=1, dtype="float64")
        optimizer = get_optimizer(opt, eta=ETA.get(opt, 0.01), lmbda=0.2, n=45)
        h = net.fit(X, y, epochs=3, mini_batch_size=7, optimizer=optimizer, seed=2, fast=fast)
        runs.append((net, optimizer, h))
    assert runs[1][2].extra["train_path"] == "c", runs[1][2].extra.get("fallback_reason")
    _assert_same_parameters(*runs, opt)
    _assert_same_state(runs[0][0], runs[1][0], mean_atol=None if opt == "sgd" else 1e-6)


class _Running(Callback):
    """Records the first BatchNorm's running mean after each epoch."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def on_epoch_end(self, net, history, epoch) -> None:
        self.seen.append(np.array(net.stateful[0].state()["running_mean"]))


def test_running_statistics_are_current_after_every_epoch() -> None:
    runs = [_Running(), _Running()]
    for fast, cb in zip((False, True), runs):
        _train("batch_norm", "relu", "log_likelihood", "sgd", fast=fast, callbacks=[cb])
    assert len(runs[1].seen) == 3
    for a, b in zip(*(r.seen for r in runs), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


FALLBACKS = {
    "BatchNorm after a convolution": (
        [Input((1, 4, 4)), Conv2D(2, 3, activation="identity"), BatchNorm(), Flatten(),
         Dense(3, "softmax")], "takes vectors",
    ),
    "LayerNorm": ([Input(6), Dense(5, "relu"), LayerNorm(), Dense(3, "softmax")], "LayerNorm"),
    "BatchNorm inside a block": (
        [Input(6), Dense(5, "relu"), Residual([Dense(5, "identity"), BatchNorm()]),
         Dense(3, "softmax")], "Dense layers only",
    ),
    "a block ending in a σ": (
        [Input(6), Residual([Dense(6, "relu")]), Dense(3, "softmax")], "must be the identity",
    ),
    "Dropout on the input": ([Input(6), Dropout(0.2), Dense(3, "softmax")], "drops the input"),
    "σ after a Dropout": (
        [Input(6), Dense(5, "identity"), Dropout(0.2), Activation("tanh"), Dense(3, "softmax")],
        "follows a Dropout",
    ),
    "two σ in a row": ([Input(6), Dense(5, "relu"), Activation("tanh"), Dense(3, "softmax")],
                       "two σ in a row"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(FALLBACKS))
def test_what_the_compiled_epoch_lacks_falls_back_and_says_why(case: str) -> None:
    layers, words = FALLBACKS[case]
    shape = layers[0].output_shape
    rng = np.random.default_rng(0)
    X, y = rng.random((20, int(np.prod(shape)))), rng.integers(0, 3, 20)
    net = Network(layers, cost="log_likelihood", seed=1, dtype="float64")
    history = net.fit(X, y, epochs=1, mini_batch_size=5, eta=0.1, seed=2, fast=True)
    assert history.extra["train_path"] == "reference"
    assert words in history.extra["fallback_reason"]


def test_a_last_mini_batch_of_one_example_falls_back_to_the_reference_refusal() -> None:
    with pytest.raises(ValueError, match="one value per unit"):
        _train("batch_norm", "relu", "log_likelihood", "sgd", fast=True, batch=11, n=45)
    from nnmath.engine import unsupported_reason

    net = Network(_layers("batch_norm", "relu", "softmax"), cost="log_likelihood", seed=1)
    X, Y = np.zeros((45, 6)), np.zeros((45, 3))
    assert "one example" in unsupported_reason(net, get_optimizer("sgd", eta=1), X, Y, 11)


def test_the_c_epoch_refuses_a_skip_it_cannot_take() -> None:
    """The layer fields are checked in C too: a block's input past the layer is refused."""
    from nnmath.engine import epoch_runner

    net = Network(
        _layers("residual", "relu", "softmax"), cost="log_likelihood", seed=1, dtype="float64"
    )
    X, Y = np.random.default_rng(0).random((20, 6)), np.eye(3)[np.arange(20) % 3]
    runner = epoch_runner(net, get_optimizer("sgd", eta=0.1), X, Y, 5)
    assert runner is not None
    before = [w.copy() for w in net.weights]
    runner.layer_buffers.small["skip"][0] = 3  # a layer reading a later layer's input
    with pytest.raises(ValueError, match="refused"):
        runner.run_epoch(np.arange(20))
    for a, b in zip(before, net.weights):
        np.testing.assert_array_equal(a, b)


def _bn_runner():
    from nnmath.engine import epoch_runner

    net = Network(
        _layers("batch_norm", "relu", "softmax"), cost="log_likelihood", seed=1, dtype="float64"
    )
    X, Y = np.random.default_rng(0).random((20, 6)), np.eye(3)[np.arange(20) % 3]
    runner = epoch_runner(net, get_optimizer("sgd", eta=0.1), X, Y, 5)
    assert runner is not None and runner.threads == 1
    return net, runner


def test_buffers_for_fewer_threads_are_refused_in_c() -> None:
    """Each thread has its own part sums (a batch norm's too): the C epoch refuses to run on
    more threads than its buffers were made for, and changes nothing."""
    net, runner = _bn_runner()
    before = [w.copy() for w in net.weights]
    runner.threads = 2
    with pytest.raises(ValueError, match="refused"):
        runner.run_epoch(np.arange(20))
    for a, b in zip(before, net.weights):
        np.testing.assert_array_equal(a, b)


def test_running_statistics_of_another_shape_are_named() -> None:
    net, runner = _bn_runner()
    bn = net.stateful[0]
    bn.running_mean = np.zeros(4)  # behind set_state's back: the epoch must not write past it
    with pytest.raises(ValueError, match=r"running_mean\[1\]"):
        runner.run_epoch(np.arange(20))
    bn.running_mean = np.zeros(6)[::-1]  # not C-contiguous: replaced by a copy, then trained
    runner.run_epoch(np.arange(20))
    assert bn.running_mean.flags.c_contiguous and np.any(bn.running_mean != 0)
