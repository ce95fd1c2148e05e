"""A network of layers' mini-batches in two parts on two threads (``nnmath.engine.parts``)
train to the whole-batch reference loop's numbers, whoever runs each part.

Random networks drawn from every layer type's EXAMPLES (``tests/layer_architectures.py``, so
a new layer type is tested here unedited), every hidden σ in a convolution and every cost ×
optimizer of the registries train twice from one seed: ``fast=False`` (each mini-batch whole)
and ``fast=True`` (two parts, ``history.extra["train_path"] == "parts"``). In float64 the
weights, costs and optimizer state agree to 1e-9. The schedules (every second part on the
helper, every one on the epoch's thread, first-come) give the same bits.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import nnmath as nm
from conftest import COST_NAMES, ELEMENTWISE_NAMES, Interrupt
from layer_architectures import random_layers
from nnmath.callbacks import TrainingDiverged
from nnmath.engine import PartsRunner, c_available, parts_reason, parts_threads, sharing
from nnmath.layers import AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Input, MaxPool2D
from nnmath.optim import get_optimizer
from test_engine import OPTIMIZER_NAMES, _assert_same_run

pytestmark = [
    pytest.mark.skipif(
        not c_available(), reason="the C extension (and its BLAS binding) is not built"
    ),
    pytest.mark.skipif(parts_threads(64) < 2, reason="NumPy's OpenBLAS may use one thread here"),
]

B, N = 64, 150  # mini-batches of 64, 64 and 22 rows: each in two parts
OUTPUT = {"log_likelihood": "softmax", "cross_entropy": "sigmoid", "quadratic": "identity"}


def _conv(act: str = "relu", out: str = "softmax", dropout: float = 0.0) -> list:
    drop = [Dropout(dropout)] if dropout else []
    return [
        Input((2, 7, 7)), Conv2D(3, 3, activation=act, padding=1), MaxPool2D(2),
        Conv2D(4, 2, activation=act, stride=1), AvgPool2D(2), *drop,
        Dense(5, activation=act), Dense(3, activation=out),
    ]  # fmt: skip


def _train(layers, cost, opt="sgd", fast=True, dtype="float64", batch=B, n=N, eta=None, **kw):
    rng = np.random.default_rng(0)
    net = nm.Network(layers, cost=cost, init="glorot", seed=1, dtype=dtype)
    X = rng.standard_normal((n, net.sizes[0])).astype(dtype)
    y = rng.integers(0, net.n_outputs, n)
    eta = eta or (0.03 if opt == "sgd" else 0.01)
    optimizer = get_optimizer(opt, eta=eta, lmbda=0.2, n=n)
    history = net.fit(
        X, y, epochs=2, mini_batch_size=batch, optimizer=optimizer, seed=2, fast=fast, **kw
    )
    return net, optimizer, history


def _both(make, cost, opt="sgd", **kw):
    ref = _train(make(), cost, opt, fast=False, **kw)
    two = _train(make(), cost, opt, fast=True, **kw)
    assert ref[2].extra["train_path"] == "reference"
    return ref, two


@pytest.mark.parametrize("seed", range(12))
def test_random_networks_of_every_layer_kind_equal_the_whole_batch(seed: int) -> None:
    layers, cost = random_layers(seed)
    ref, two = _both(lambda: random_layers(seed)[0], cost, "adam")
    coupled = [lay for lay in layers if lay.couples_examples]
    if coupled:  # a BatchNorm's statistics need the whole mini-batch
        assert two[2].extra["train_path"] == "reference"
        assert "couples the examples" in parts_reason(two[0], np.zeros((N, 1)), B)
        return
    assert two[2].extra["train_path"] == "parts"
    assert two[2].extra["train_threads"] == 2
    assert "two parts on two threads" in two[2].extra["fallback_reason"]
    _assert_same_run(ref, two)


@pytest.mark.parametrize("act", ELEMENTWISE_NAMES)
def test_every_hidden_activation_equals_the_whole_batch(act: str) -> None:
    ref, two = _both(lambda: _conv(act), "log_likelihood")
    assert two[2].extra["train_path"] == "parts"
    _assert_same_run(ref, two)


@pytest.mark.parametrize("cost", COST_NAMES)
@pytest.mark.parametrize("opt", OPTIMIZER_NAMES)
def test_every_cost_and_optimizer_equals_the_whole_batch(cost: str, opt: str) -> None:
    ref, two = _both(lambda: _conv("tanh", OUTPUT[cost]), cost, opt)
    _assert_same_run(ref, two)


@pytest.mark.parametrize("opt", OPTIMIZER_NAMES)
def test_dropout_draws_the_same_masks_in_parts(opt: str) -> None:
    ref, two = _both(lambda: _conv("relu", dropout=0.4), "log_likelihood", opt)
    assert two[2].extra["train_path"] == "parts"
    _assert_same_run(ref, two)


def _bits(net) -> list[bytes]:
    return [a.tobytes() for a in [*net.weights, *net.biases]]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_whoever_runs_a_part_the_bits_are_the_same(dtype: str, monkeypatch) -> None:
    """Every second part on the helper, every one on the epoch's thread (as when another
    process holds the helper's core), and first-come: the same weights bit for bit."""
    seen, init = {}, PartsRunner.__init__
    for schedule in ("helper", "own", "first-come"):
        made = []

        def patched(self, *args, schedule=schedule, made=made, init=init, **kw):
            init(self, *args, **kw)
            self._schedule = schedule
            made.append(self)

        monkeypatch.setattr(PartsRunner, "__init__", patched)
        net, _, history = _train(_conv(dropout=0.3), "log_likelihood", "adam", dtype=dtype)
        assert history.extra["train_path"] == "parts"
        seen[schedule] = _bits(net)
        taken = made[0].parts_taken
        assert taken == {"helper": 0, "own": 3}.get(schedule, taken)  # 3 mini-batches
    assert seen["helper"] == seen["own"] == seen["first-come"]


def test_small_mini_batches_and_one_blas_thread_train_whole(monkeypatch) -> None:
    net, _, history = _train(_conv(), "log_likelihood", batch=B - 1)
    assert history.extra["train_path"] == "reference"
    assert f"in two parts from {B} rows" in parts_reason(net, np.zeros((N, 1)), B - 1)
    monkeypatch.setattr(sharing, "thread_budget", lambda blas: 1)
    assert parts_threads(B) == 1
    _, _, history = _train(_conv(), "log_likelihood")
    assert history.extra["train_path"] == "reference"
    assert history.extra["train_threads"] == 1
    assert "OpenBLAS may use one thread here" in history.extra["fallback_reason"]


def test_fast_false_and_fast_c_keep_each_mini_batch_whole() -> None:
    for fast in (False, "c"):
        _, _, history = _train(_conv(), "log_likelihood", fast=fast)
        assert history.extra["train_path"] == "reference"


def test_a_batch_norm_anywhere_keeps_the_mini_batch_whole() -> None:
    layers = [Input((1, 6, 6)), Conv2D(2, 3, activation="identity"), BatchNorm()]
    layers += [Dense(3, activation="softmax")]
    net, _, history = _train(layers, "log_likelihood")
    assert history.extra["train_path"] == "reference"
    block = nm.layers.Residual([Dense(4, "identity"), BatchNorm()])
    net = nm.Network([Input(4), block, Dense(2, "softmax")], cost="log_likelihood")
    assert "couples the examples" in parts_reason(net, np.zeros((N, 4)), B)


def test_scores_of_the_parts_are_the_epochs(monkeypatch) -> None:
    """monitor="batch" adds up each part's Σ C_x and hits: the epoch's training cost and
    accuracy equal the whole-batch loop's."""
    kw = {"monitor_training_accuracy": True}
    ref, two = _both(lambda: _conv(), "log_likelihood", "adam", **kw)
    np.testing.assert_allclose(two[2].training_cost, ref[2].training_cost, rtol=1e-12)
    assert two[2].training_accuracy == ref[2].training_accuracy


def test_interrupt_and_resume_in_parts_is_bit_identical(tmp_path) -> None:
    full, _, h_full = _train(_conv(dropout=0.3), "log_likelihood", "adam", validation_data=None)
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        _train(
            _conv(dropout=0.3), "log_likelihood", "adam", checkpoint=path, callbacks=[Interrupt(1)]
        )
    assert nm.load(path) is not None
    resumed, _, h_res = _train(
        _conv(dropout=0.3), "log_likelihood", "adam", checkpoint=path, resume=True
    )
    assert h_res.extra["train_path"] == "parts"
    assert _bits(resumed) == _bits(full)
    assert h_res.training_cost == h_full.training_cost


def test_a_resume_on_one_thread_says_the_bits_will_differ(tmp_path, monkeypatch) -> None:
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        _train(_conv(), "log_likelihood", checkpoint=path, callbacks=[Interrupt(1)])
    monkeypatch.setattr(sharing, "thread_budget", lambda blas: 1)
    words = "in two parts per mini-batch, this run trains on the reference loop ("
    match = re.escape(words) + ".*OpenBLAS may use one thread here.*not be bit-identical"
    with pytest.warns(RuntimeWarning, match=match):
        _train(_conv(), "log_likelihood", checkpoint=path, resume=True)


def test_a_resume_in_parts_of_a_run_trained_whole_says_the_bits_will_differ(tmp_path) -> None:
    """The checkpoint of a whole-batch run (fast=False), resumed where fit trains in parts:
    δ aᵀ adds up in another order, and fit says so; resumed whole again, it says nothing."""
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        _train(_conv(), "log_likelihood", fast=False, checkpoint=path, callbacks=[Interrupt(1)])
    words = "trained on the reference loop, this run trains on the reference loop in two parts"
    with pytest.warns(RuntimeWarning, match=words + ".*bit-identical.*fast=False to match"):
        _train(_conv(), "log_likelihood", checkpoint=path, resume=True)
    with pytest.raises(KeyboardInterrupt):
        _train(_conv(), "log_likelihood", fast=False, checkpoint=path, callbacks=[Interrupt(1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, _, history = _train(_conv(), "log_likelihood", fast=False, checkpoint=path, resume=True)
    assert history.extra["train_path"] == "reference"


def test_a_diverging_run_stops_as_the_whole_batch_loop_does() -> None:
    """Overflow in either thread is what the caller's errstate says (fit ignores it and its
    divergence check ends the run): no warning from the helper thread."""
    stopped = []
    for fast in (False, True):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            with pytest.raises(TrainingDiverged) as info:
                _train(_conv("sigmoid"), "quadratic", fast=fast, eta=1e5, n=256)
        assert not [w for w in record if "overflow" in str(w.message)], record
        stopped.append(str(info.value))
    assert stopped[0] == stopped[1]
