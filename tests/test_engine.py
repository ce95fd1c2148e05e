"""The two implementations of an epoch agree over the registries' whole cross product.

Every activation × cost × optimizer × schedule, with dropout off and on, is trained twice from
the same seed: on the readable reference loop (``fast=False``) and on the compiled epoch. In
float64 the weights, biases, costs and optimizer state agree to 1e-9. The parameter lists are
read from the registries, so a new entry is tested here without an edit; an entry the
compiled epoch has no kernel for must fall back to the reference loop and say why.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from conftest import ACTIVATION_NAMES, COST_NAMES
from nnmath.activations import Activation
from nnmath.engine import binding as _cepoch
from nnmath.engine import c_available
from nnmath.network import Network
from nnmath.optim import OPTIMIZERS, get_optimizer
from nnmath.schedules import SCHEDULES, get_schedule

OPTIMIZER_NAMES = sorted(OPTIMIZERS)
SCHEDULE_NAMES = sorted(SCHEDULES)
ETA = {"sgd": 0.1}  # the adaptive optimizers take their steps with η = 0.01
EPOCHS, BATCH = 3, 7

CROSS = list(
    itertools.product(ACTIVATION_NAMES, COST_NAMES, OPTIMIZER_NAMES, SCHEDULE_NAMES, [0.0, 0.4])
)


def _train(act: str, cost: str, opt: str, schedule: str, dropout: float, fast: bool, **kw):
    rng = np.random.default_rng(0)
    X, y = rng.random((45, 6)), rng.integers(0, 3, 45)
    net = Network(
        [6, 5, 4, 3], activation=act, cost=cost, init="scaled_normal", seed=1, dtype="float64",
        dropout=dropout,
    )  # fmt: skip
    optimizer = get_optimizer(opt, eta=ETA.get(opt, 0.01), lmbda=0.2, n=len(X), **kw)
    history = net.fit(
        X, y, epochs=EPOCHS, mini_batch_size=BATCH, optimizer=optimizer,
        schedule=get_schedule(schedule), seed=2, fast=fast,
    )  # fmt: skip
    return net, optimizer, history


def _has_kernels(act: str, cost: str, opt: str) -> bool:
    optimizer = get_optimizer(opt, eta=0.1)
    state = optimizer.init_state(Network([6, 5, 4, 3], seed=1, dtype="float64"))
    return (
        _cepoch.kernel_id("activation", act) is not None
        and _cepoch.kernel_id("cost", cost) is not None
        and _cepoch.optimizer_kernel(optimizer.name, state) is not None
    )


def _assert_same_run(ref, fast) -> None:
    (net_r, opt_r, h_r), (net_f, opt_f, h_f) = ref, fast
    for a, b in zip(net_r.weights + net_r.biases, net_f.weights + net_f.biases, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(h_f.training_cost, h_r.training_cost, rtol=1e-9, atol=1e-12)
    assert h_f.extra["eta"] == h_r.extra["eta"]
    assert opt_f.state.keys() == opt_r.state.keys()
    for key, value in opt_r.state.items():
        if isinstance(value, list):
            for a, b in zip(value, opt_f.state[key], strict=True):
                np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-11)
        else:
            assert opt_f.state[key] == value


@pytest.mark.skipif(not c_available(), reason="the C extension is not built here")
@pytest.mark.parametrize("act, cost, opt, schedule, dropout", CROSS)
def test_compiled_epoch_equals_the_reference(act, cost, opt, schedule, dropout) -> None:
    ref = _train(act, cost, opt, schedule, dropout, fast=False)
    fast = _train(act, cost, opt, schedule, dropout, fast=True)
    assert ref[2].extra["train_path"] == "reference"
    if not _has_kernels(act, cost, opt):
        assert fast[2].extra["train_path"] == "reference"
        assert "no compiled kernel" in fast[2].extra["fallback_reason"]
        return
    assert fast[2].extra["train_path"] == "c"
    _assert_same_run(ref, fast)


@pytest.mark.skipif(not c_available(), reason="the C extension is not built here")
@pytest.mark.parametrize("output", ACTIVATION_NAMES)
def test_every_activation_as_the_output_layer(output: str) -> None:
    """Each σ's kernel as the output layer too (quadratic cost, so any σ may stand there)."""
    runs = []
    for fast in (False, True):
        rng = np.random.default_rng(3)
        X, Y = rng.normal(size=(30, 4)), rng.normal(size=(30, 3)) * 0.3
        net = Network([4, 5, 3], activation="tanh", output_activation=output, seed=4,
                      dtype="float64")  # fmt: skip
        opt = get_optimizer("sgd", eta=0.05, momentum=0.5)
        runs.append((net, opt, net.fit(X, Y, epochs=2, mini_batch_size=4, optimizer=opt,
                                       seed=5, fast=fast)))  # fmt: skip
    has_kernel = _cepoch.kernel_id("activation", output) is not None
    assert runs[1][2].extra["train_path"] == ("c" if has_kernel else "reference")
    _assert_same_run(*runs)


@pytest.mark.skipif(not c_available(), reason="the C extension is not built here")
@pytest.mark.parametrize("opt", OPTIMIZER_NAMES)
def test_threaded_epoch_with_dropout_and_a_schedule_equals_the_reference(opt: str) -> None:
    """Mini-batches of 64: the threaded epoch (when BLAS may use several threads)."""
    runs = []
    for fast in (False, True):
        rng = np.random.default_rng(6)
        X, y = rng.normal(size=(200, 12)), rng.integers(0, 4, 200)
        net = Network([12, 16, 4], activation="relu", cost="log_likelihood", seed=7,
                      dtype="float64", dropout=0.3)  # fmt: skip
        optimizer = get_optimizer(opt, eta=ETA.get(opt, 0.01), lmbda=0.1, n=200)
        h = net.fit(X, y, epochs=3, mini_batch_size=64, optimizer=optimizer, seed=8,
                    schedule=get_schedule("cosine"), fast=fast)  # fmt: skip
        runs.append((net, optimizer, h))
    assert runs[1][2].extra["train_path"] == "c"
    _assert_same_run(*runs)


def test_an_entry_without_a_kernel_trains_on_the_reference_and_says_why(monkeypatch) -> None:
    """An activation registered under a name the library's table lacks is trained by fit all
    the same, on the reference loop, and the history names it."""
    from nnmath import activations
    from nnmath.activations import tanh, tanh_prime

    class Scaled(Activation):
        name = "scaled_tanh"

        def __call__(self, z):
            return 2.0 * tanh(z)

        def prime(self, z):
            return 2.0 * tanh_prime(z)

    monkeypatch.setitem(activations.ACTIVATIONS, Scaled.name, Scaled)
    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, 20)
    net = Network([3, 4, 2], activation="scaled_tanh", output_activation="sigmoid", seed=0)
    history = net.fit(X, y, epochs=2, mini_batch_size=5, eta=0.1)
    assert history.extra["train_path"] == "reference"
    reason = "activation 'scaled_tanh' has no compiled kernel in this build"
    assert history.extra["fallback_reason"] == reason
    assert len(history.training_cost) == 2
