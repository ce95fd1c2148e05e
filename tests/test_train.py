"""The training loop: learning, reproducibility, History, early stopping, divergence."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from nnmath.data import load_digits
from nnmath.engine import c_available


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_sgd_learns_digits(digits) -> None:
    net = nm.Network([64, 30, 10], cost="cross_entropy", init="scaled_normal", seed=0)
    h = net.fit(
        *digits.train,
        epochs=10,
        mini_batch_size=10,
        eta=0.5,
        validation_data=digits.validation,
        seed=0,
    )
    assert h.epochs == 10 and len(h.validation_accuracy) == 10 and len(h.epoch_time) == 10
    assert h.training_cost[-1] < h.training_cost[0]
    assert net.accuracy(*digits.test) > 0.93


@pytest.mark.parametrize(
    "kw",
    [
        dict(optimizer="adam", eta=0.003),
        dict(momentum=0.9, eta=0.05),
        dict(momentum=0.9, nesterov=True, eta=0.05),
    ],
)
def test_other_optimizers_learn(digits, kw) -> None:
    net = nm.Network(
        [64, 32, 10],
        activation="relu",
        output_activation="softmax",
        cost="log_likelihood",
        init="he",
        seed=1,
    )
    net.fit(*digits.train, epochs=5, mini_batch_size=16, seed=1, **kw)
    assert net.accuracy(*digits.test) > 0.9


def test_same_seed_same_result_float64(digits) -> None:
    runs = []
    for _ in range(2):
        net = nm.Network([64, 10, 10], seed=3, dtype="float64")
        h = net.fit(*digits.train, epochs=2, eta=1.0, seed=4)
        runs.append((net.weights[0].copy(), h.training_cost))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


def test_float64_is_kept_in_training(digits) -> None:
    net = nm.Network([64, 10, 10], seed=0, dtype="float64")
    net.fit(*digits.train, epochs=1, eta=1.0, seed=0)
    assert all(W.dtype == np.float64 for W in net.weights)
    net32 = nm.Network([64, 10, 10], seed=0)
    net32.fit(digits.train[0].astype(np.float64), digits.train[1], epochs=1, eta=1.0, seed=0)
    assert all(W.dtype == np.float32 for W in net32.weights)


def test_monitoring_and_regularised_cost(digits) -> None:
    net = nm.Network([64, 10, 10], cost="cross_entropy", init="scaled_normal", seed=0)
    h = net.fit(
        *digits.train,
        epochs=2,
        eta=0.5,
        lmbda=5.0,
        validation_data=digits.validation,
        monitor_training_accuracy=True,
        seed=0,
    )
    assert len(h.training_accuracy) == 2 and len(h.validation_cost) == 2
    X, y = digits.train
    assert net.cost(X, y, lmbda=5.0) > net.cost(X, y)


def test_early_stopping_restores_the_best_epoch(digits) -> None:
    net = nm.Network([64, 20, 10], cost="cross_entropy", init="scaled_normal", seed=0)
    snapshots = []
    h = net.fit(
        *digits.train,
        epochs=200,
        eta=2.0,
        validation_data=digits.validation,
        patience=3,
        seed=0,
        callbacks=[lambda net, hist, e: snapshots.append(net.copy_parameters()[0])],
    )
    assert h.stopped_early and h.epochs < 200
    assert h.epochs == h.best_epoch + 1 + 3  # three epochs without improvement after the best
    assert h.validation_accuracy[h.best_epoch] == max(h.validation_accuracy)
    for W, W_best in zip(net.weights, snapshots[h.best_epoch]):
        np.testing.assert_array_equal(W, W_best)
    assert net.accuracy(*digits.validation) == h.validation_accuracy[h.best_epoch]


def test_nan_cost_stops_with_a_clear_error_and_keeps_finite_weights(digits) -> None:
    net = nm.Network(
        [64, 30, 10],
        activation="relu",
        output_activation="identity",
        cost="quadratic",
        init="normal",
        seed=0,
    )
    X, y = digits.train
    Y = np.eye(10)[y] * 1e3
    with pytest.raises(nm.TrainingDiverged, match=r"epoch \d+.*smaller eta") as info:
        net.fit(X * 100, Y, epochs=5, eta=10.0, seed=0)
    assert all(np.isfinite(W).all() for W in net.weights)
    assert all(np.isfinite(c) for c in info.value.history.training_cost)


def test_callbacks_are_called_every_epoch(digits) -> None:
    seen = []
    net = nm.Network([64, 10, 10], seed=0)
    net.fit(*digits.train, epochs=3, eta=1.0, callbacks=[lambda n, h, e: seen.append(e)])
    assert seen == [0, 1, 2]


def test_fit_argument_errors(digits) -> None:
    net = nm.Network([64, 10, 10], seed=0)
    X, y = digits.train
    with pytest.raises(ValueError, match="mini_batch_size"):
        net.fit(X, y, mini_batch_size=0)
    with pytest.raises(ValueError, match="patience.*validation_data"):
        net.fit(X, y, patience=2)
    with pytest.raises(ValueError, match="X has 1257 rows but Y has 10"):
        net.fit(X, y[:10])


def test_fit_without_a_seed_uses_the_networks_generator() -> None:
    """``Network(seed=s).fit(X, y)`` is reproducible: the network's generator shuffles."""
    rng = np.random.default_rng(0)
    X, y = rng.random((60, 5)), rng.integers(0, 3, 60)
    runs = [nm.Network([5, 4, 3], seed=7).fit(X, y, epochs=2, eta=1.0) for _ in range(2)]
    assert runs[0].training_cost == runs[1].training_cost
    other = nm.Network([5, 4, 3], seed=8).fit(X, y, epochs=2, eta=1.0)
    assert other.training_cost != runs[0].training_cost


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch", [10, 100])  # one thread; the threaded C epoch from 64 rows
def test_fit_reports_what_cost_and_accuracy_give(dtype: str, batch: int) -> None:
    """fit's per-epoch numbers (one forward pass, chunks shared between threads when the epoch
    is threaded) are Network.cost and Network.accuracy of the trained network, bit for bit."""
    from nnmath.network import EVAL_ROWS

    rng = np.random.default_rng(3)
    n, nv = 2 * EVAL_ROWS + 123, EVAL_ROWS + 7  # several chunks and a short last one
    X, y = rng.random((n, 6)), rng.integers(0, 3, n)
    Xv, yv = rng.random((nv, 6)), rng.integers(0, 3, nv)
    net = nm.Network(
        [6, 5, 3], cost="log_likelihood", output_activation="softmax", seed=0, dtype=dtype
    )
    h = net.fit(
        X,
        y,
        epochs=1,
        mini_batch_size=batch,
        eta=0.5,
        validation_data=(Xv, yv),
        monitor_training_accuracy=True,
        seed=0,
        monitor="full",
    )
    assert h.extra["monitor"] == "full"
    assert h.training_cost == [net.cost(X, y)]
    assert h.training_accuracy == [net.accuracy(X, y)]
    assert h.validation_cost == [net.cost(Xv, yv)]
    assert h.validation_accuracy == [net.accuracy(Xv, yv)]


def test_fit_evaluates_a_subclass_through_its_own_methods(digits) -> None:
    class Costly(nm.Network):
        def cost(self, X, Y, lmbda=0.0):
            return 42.0

        def accuracy(self, X, y):
            return 0.25

    h = Costly([64, 10, 10], seed=0).fit(
        *digits.train,
        epochs=1,
        seed=0,
        validation_data=digits.validation,
        monitor_training_accuracy=True,
    )
    assert h.training_cost == [42.0] and h.validation_cost == [42.0]
    assert h.training_accuracy == [0.25] and h.validation_accuracy == [0.25]


def test_fit_adds_the_chunk_costs_in_order() -> None:
    """Chunk costs of very different sizes (the targets of the last rows scaled by 1.5e8):
    the sum depends on the order of the chunks, and fit's threaded evaluation adds them in
    Network.cost's order. (Checked: adding the threads' chunks one thread after the other
    gives another sum here.)"""
    from nnmath.network import EVAL_ROWS

    rng = np.random.default_rng(4)
    n = 6 * EVAL_ROWS + 11
    X, Y = rng.random((n, 4)), rng.random((n, 2))
    Y[6 * EVAL_ROWS - 2000 :] *= 1.5e8
    net = nm.Network(
        [4, 3, 2],
        activation="tanh",
        output_activation="identity",
        cost="quadratic",
        seed=0,
        dtype="float64",
    )
    h = net.fit(X, Y, epochs=1, mini_batch_size=100, eta=1e-30, seed=0, monitor="full")
    assert h.training_cost == [net.cost(X, Y)]


def test_network_fit_shows_fits_signature() -> None:
    """help(Network.fit) and IDEs list every option of nnmath.train.fit, with its default."""
    import inspect

    def params(f, skip):
        return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()][
            skip:
        ]

    assert params(nm.Network.fit, 1) == params(nm.fit, 1)  # minus self / net
    assert "schedule" in inspect.signature(nm.Network.fit).parameters


def _small():
    rng = np.random.default_rng(5)
    return rng.random((40, 6)), rng.integers(0, 3, 40)


def _net():
    return nm.Network([6, 5, 3], seed=2, dtype="float64")


def _same(a, b) -> bool:
    return all(np.array_equal(u, v) for u, v in zip(a.weights + a.biases, b.weights + b.biases))


def test_an_optimizer_object_holds_its_hyper_parameters() -> None:
    X, y = _small()
    opt = nm.SGD(eta=0.7, lmbda=0.1, momentum=0.5)
    by_object, by_name = _net(), _net()
    h = by_object.fit(X, y, epochs=2, optimizer=opt, seed=0)
    by_name.fit(X, y, epochs=2, eta=0.7, lmbda=0.1, momentum=0.5, seed=0)
    assert _same(by_object, by_name)
    assert opt.n == len(X)  # fit gives the object its n (the n of λ/n)
    assert h.extra["eta"] == [0.7, 0.7]
    # repeating the object's values is allowed
    _net().fit(X, y, epochs=1, optimizer=nm.SGD(eta=0.7), eta=0.7, lmbda=None)


@pytest.mark.parametrize(
    "opt, kw, message",
    [
        (lambda: nm.SGD(eta=50.0), dict(eta=3.0), r"eta=3\.0 contradicts .* eta=50\.0"),
        (lambda: nm.SGD(eta=1.0), dict(lmbda=0.5), r"lmbda=0\.5 contradicts .* lmbda=0\.0"),
        (lambda: nm.SGD(eta=1.0), dict(momentum=0.9), r"momentum=0\.9 contradicts"),
        (lambda: nm.Adam(eta=0.1), dict(beta2=0.9), r"beta2=0\.9 contradicts .* beta2=0\.999"),
        (lambda: nm.Adam(eta=0.1), dict(momentum=0.5), r"momentum=0\.5 .*\(Adam\).* no momentum"),
    ],
    ids=["eta", "lmbda", "momentum", "beta2", "missing"],
)
def test_contradicting_an_optimizer_object_is_an_error(opt, kw, message) -> None:
    X, y = _small()
    with pytest.raises(ValueError, match=message):
        _net().fit(X, y, epochs=1, optimizer=opt(), **kw)


@pytest.mark.parametrize(("name", "eta"), [("sgd", 3.0), ("adam", 1e-3), ("rmsprop", 1e-3)])
def test_named_optimizers_train_with_their_own_eta_by_default(name: str, eta: float) -> None:
    """η not given: the optimizer's own (its registry entry's default_eta), not SGD's 3.0,
    with which Adam and RMSprop learn nothing; Network.fit and fit alike."""
    from nnmath.optim import OPTIMIZERS
    from nnmath.train import fit

    assert OPTIMIZERS[name].default_eta == eta
    X, y = _small()
    a, b, c = _net(), _net(), _net()
    h = a.fit(X, y, epochs=2, optimizer=name, seed=0)
    fit(b, X, y, epochs=2, optimizer=name, seed=0)
    c.fit(X, y, epochs=2, optimizer=name, eta=eta, seed=0)
    assert _same(a, c) and _same(b, c) and h.extra["eta"] == [eta, eta]
    assert OPTIMIZERS[name]().eta == eta  # the class reads the same declaration


def test_epsilon_and_optimizer_options_are_forwarded() -> None:
    X, y = _small()
    a, b = _net(), _net()
    a.fit(X, y, epochs=2, optimizer="adam", eta=0.01, epsilon=1e-3, seed=0)
    b.fit(X, y, epochs=2, optimizer=nm.Adam(eta=0.01, epsilon=1e-3), seed=0)
    assert _same(a, b)
    c = _net()
    c.fit(X, y, epochs=2, optimizer="adam", eta=0.01, seed=0)
    assert not _same(a, c)
    with pytest.raises(ValueError, match="epsilon"):
        _net().fit(X, y, epochs=1, optimizer="sgd", epsilon=1e-3)
    with pytest.raises(ValueError, match="rho"):
        _net().fit(X, y, epochs=1, optimizer="sgd", rho=0.5)


@pytest.mark.skipif("rmsprop" not in nm.OPTIMIZERS, reason="no RMSprop in the registry yet")
def test_a_registry_optimizer_with_its_own_options_needs_no_edit_of_fit() -> None:
    X, y = _small()
    cls = nm.OPTIMIZERS["rmsprop"]
    a, b = _net(), _net()
    a.fit(X, y, epochs=2, optimizer="rmsprop", eta=0.01, rho=0.8, epsilon=1e-6, seed=0)
    b.fit(X, y, epochs=2, optimizer=cls(eta=0.01, rho=0.8, epsilon=1e-6), seed=0)
    assert _same(a, b)


def test_history_reports_eta_and_the_train_path() -> None:
    X, y = _small()
    h = _net().fit(X, y, epochs=3, eta=0.4, seed=0)
    assert h.extra["eta"] == [0.4] * 3
    assert h.extra["train_path"] in ("c", "reference")
    assert ("fallback_reason" in h.extra) == (h.extra["train_path"] == "reference")


def test_training_functions_are_short() -> None:
    """No function of the training loop, its callbacks or the schedules is over 80 lines."""
    import ast
    import inspect

    import nnmath.callbacks
    import nnmath.schedules
    import nnmath.train

    for module in (nnmath.train, nnmath.callbacks, nnmath.schedules):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                assert lines <= 80, f"{module.__name__}.{node.name} has {lines} lines"


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("batch", [10, 128])
def test_batch_monitoring_is_the_mean_of_the_mini_batches_costs(fast: bool, batch: int) -> None:
    """monitor="batch" (the default): the training cost is (1/n) Σ over the mini-batches of
    Σ_x C_x with the weights as they stood for that mini-batch, and the accuracy the share of
    rows whose argmax a^L was right then; recomputed here mini-batch by mini-batch with
    Network.cost and a plain SGD step, from the same shuffle."""
    rng = np.random.default_rng(5)
    n = 1000
    X, y = rng.random((n, 6)), rng.integers(0, 3, n)
    Y = np.eye(3)[y]

    def network():
        return nm.Network(
            [6, 8, 3], cost="cross_entropy", seed=1, dtype="float64", activation="tanh",
            output_activation="sigmoid",
        )  # fmt: skip

    net = network()
    h = net.fit(X, y, epochs=2, mini_batch_size=batch, eta=0.5, seed=7, fast=fast,
                monitor_training_accuracy=True)  # fmt: skip
    assert h.extra["monitor"] == "batch"
    assert h.extra["train_path"] == ("c" if fast and c_available() else "reference")
    ref, shuffle = network(), np.random.default_rng(7)
    for epoch in range(2):
        total, hits = 0.0, 0
        perm = shuffle.permutation(n)
        for k in range(0, n, batch):
            idx = perm[k : k + batch]
            total += ref.cost(X[idx], Y[idx]) * len(idx)
            hits += int(np.sum(ref.predict(X[idx]) == y[idx]))
            g = ref.backprop(X[idx], Y[idx])
            for W, b, gw, gb in zip(ref.weights, ref.biases, g.nabla_w, g.nabla_b):
                W -= 0.5 * gw
                b -= 0.5 * gb
        assert h.training_cost[epoch] == pytest.approx(total / n, rel=1e-12)
        assert h.training_accuracy[epoch] == hits / n
    np.testing.assert_allclose(net.weights[0], ref.weights[0], rtol=1e-12)


def test_batch_monitoring_without_learning_is_the_cost_of_the_set() -> None:
    """With η so small that no weight moves, the mean of the mini-batches' costs is the
    cost of the whole set (up to the order of the sums), in float32 too."""
    rng = np.random.default_rng(6)
    X, y = rng.random((3000, 5)), rng.integers(0, 4, 3000)
    net = nm.Network([5, 7, 4], seed=0, cost="log_likelihood", output_activation="softmax")
    h = net.fit(X, y, epochs=1, mini_batch_size=50, eta=1e-30, seed=0,
                monitor_training_accuracy=True)  # fmt: skip
    assert h.training_cost[0] == pytest.approx(net.cost(X, y), rel=1e-5)
    assert h.training_accuracy[0] == pytest.approx(net.accuracy(X, y), abs=1e-9)


def test_monitor_must_be_known() -> None:
    net = nm.Network([2, 2, 1], seed=0)
    with pytest.raises(ValueError, match="monitor must be one of 'batch', 'full'"):
        net.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=1, monitor="epoch")


def _small_data(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((n, 12)), rng.integers(0, 4, n)


def _read_only(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a


def _other_networks_adam() -> nm.optim.Adam:
    """An Adam object whose state belongs to a network of sizes [12, 9, 4]."""
    opt = nm.optim.Adam(0.01)
    nm.Network([12, 9, 4], seed=0).fit(*_small_data(), epochs=1, optimizer=opt)
    return opt


#: (what is done to a built Network([12, 7, 5, 4]), words of the error fit gives)
SPOILT = {
    "short activations": (
        lambda net: setattr(net, "activation_functions", net.activation_functions[:2]),
        "net.activation_functions has 2 entries, the network has 3 layers",
    ),
    "activation by name": (
        lambda net: net.activation_functions.__setitem__(0, "relu"),
        "net.activation_functions[0] is a str",
    ),
    "output unfit for the cost": (
        lambda net: net.activation_functions.__setitem__(2, nm.activations.get_activation("relu")),
        "the cross_entropy cost takes ln a",
    ),
    "dropout above 1": (lambda net: setattr(net, "dropout", (1.5, 0.5)), "probability 1.5"),
    "dropout too long": (lambda net: setattr(net, "dropout", (0.5,) * 3), "has 3 probabilities"),
    "dropout not numbers": (lambda net: setattr(net, "dropout", ("a", 0.5)), "dropout must be"),
    "transposed weights": (
        lambda net: net.weights.__setitem__(0, net.weights[0].T.copy()),
        "weights[0] is a float64 array of shape (12, 7); the network needs a float64 array "
        "of shape (7, 12)",
    ),
    "weights short": (lambda net: net.weights.pop(), "net.weights has 2 arrays"),
    "biases of float32": (
        lambda net: net.biases.__setitem__(1, net.biases[1].astype(np.float32)),
        "biases[1] is a float32 array",
    ),
    "biases as a list": (
        lambda net: net.biases.__setitem__(2, net.biases[2].tolist()),
        "biases[2] is a list, not a NumPy array",
    ),
    "read-only weights": (
        lambda net: net.weights.__setitem__(2, _read_only(net.weights[2])),
        "weights[2] is read-only",
    ),
    "NaN weights": (lambda net: net.weights[1].__setitem__((0, 0), np.nan), "weights[1] holds NaN"),
    "infinite bias": (lambda net: net.biases[0].__setitem__(0, np.inf), "biases[0] holds NaN"),
}


@pytest.mark.parametrize("case", list(SPOILT))
def test_every_per_layer_attribute_is_checked_when_fit_starts_on_both_paths(case: str) -> None:
    """A built network's attribute spoilt before fit gives one ValueError naming it, the same
    on the compiled epoch and on the reference loop, and nothing is trained; never a NumPy
    error from inside a product, C reading past an array, or a run that differs by path."""
    spoil, words = SPOILT[case]
    X, y = _small_data()
    messages = []
    for fast in (True, False):
        net = nm.Network([12, 7, 5, 4], seed=0, dtype="float64", cost="cross_entropy")
        spoil(net)
        before = [np.array(W) for W in net.weights]
        with pytest.raises(ValueError) as info:
            net.fit(X, y, epochs=1, mini_batch_size=10, fast=fast)
        messages.append(str(info.value))
        assert all(
            np.array_equal(a, np.array(b), equal_nan=True) for a, b in zip(before, net.weights)
        )
    assert words in messages[0], messages[0]
    assert messages[0] == messages[1]


def test_an_optimizer_holding_another_networks_state_is_refused_on_both_paths() -> None:
    X, y = _small_data()
    messages = []
    for fast in (True, False):
        net = nm.Network([12, 7, 4], seed=0)
        with pytest.raises(ValueError) as info:
            net.fit(X, y, epochs=1, optimizer=_other_networks_adam(), fast=fast)
        messages.append(str(info.value))
    assert "optimizer state 'm_w'[0] is a float32 array of shape (9, 12)" in messages[0]
    assert messages[0] == messages[1]


def test_a_second_fit_or_a_move_while_a_network_trains_is_refused() -> None:
    """While one thread fits a network, a fit or ``to`` of it from another thread, or a fit
    from inside its own fit, is a RuntimeError that changes nothing; the first fit ends as
    it would alone, and the network is free again after it."""
    import threading

    X, y = _small_data()
    net, alone = nm.Network([12, 7, 4], seed=0), nm.Network([12, 7, 4], seed=0)
    started, release, inner = threading.Event(), threading.Event(), []

    def hold(n, history, epoch):  # keeps the first fit between two epochs
        try:
            n.fit(X, y, epochs=1)
        except RuntimeError as exc:
            inner.append(str(exc))
        started.set()
        release.wait(30)

    fit_kw = {"epochs": 2, "seed": 1, "callbacks": [hold]}
    first = threading.Thread(target=net.fit, args=(X, y), kwargs=fit_kw)
    first.start()
    try:
        assert started.wait(30)
        for attempt in (lambda: net.fit(X, y, epochs=1), lambda: net.to("numpy")):
            with pytest.raises(RuntimeError, match="this network is training in another thread"):
                attempt()
    finally:
        release.set()
        first.join()
    assert inner and "this network is training already" in inner[0]
    alone.fit(X, y, epochs=2, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, alone.weights))
    net.to("numpy").fit(X, y, epochs=1)  # free again
