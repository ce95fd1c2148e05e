"""nnmath.nielsen: the book's network.py / network2.py on nnmath's engine.

The reference here is the book's training rule written out in this file as plain NumPy, one
example at a time: feed forward keeping every z and a, backpropagate δ layer by layer, add
up the gradients of the mini-batch's examples, then step with η/m (and, in chapter 3, the
weight decay 1 − ηλ/n). nnmath.nielsen must give the same weights for the same start and
the same order of examples.
"""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest

from conftest import MNIST_FOLDER
from nnmath import nielsen
from nnmath.engine import c_available

HAVE_MNIST = (MNIST_FOLDER / "train-images-idx3-ubyte.gz").is_file()
needs_mnist = pytest.mark.skipif(
    not HAVE_MNIST, reason=f"MNIST not found in $NNMATH_DATA/mnist or {MNIST_FOLDER}"
)
FAST = [pytest.param(True, id="compiled"), pytest.param(False, id="reference")]


@pytest.fixture(scope="module")
def book_mnist():
    """The book's three lists of (x, y) pairs (read once for this file's tests)."""
    return nielsen.load_data_wrapper(MNIST_FOLDER)


# ---------------------------------------------------------------------- the transcription


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _quadratic_delta(z, a, y):
    return (a - y) * _sig(z) * (1 - _sig(z))


def _cross_entropy_delta(z, a, y):
    return a - y


def rule_backprop(weights, biases, x, y, output_delta):
    """One example's gradient: forward keeping z and a, then δ from the output back."""
    a, activations, zs = x, [x], []
    for W, b in zip(weights, biases):
        zs.append(W @ a + b)
        a = _sig(zs[-1])
        activations.append(a)
    delta = output_delta(zs[-1], activations[-1], y)
    grad_b, grad_w = [None] * len(weights), [None] * len(weights)
    for i in range(len(weights) - 1, -1, -1):
        grad_b[i], grad_w[i] = delta, delta @ activations[i].T
        if i:
            s = _sig(zs[i - 1])
            delta = (weights[i].T @ delta) * s * (1 - s)
    return grad_b, grad_w


def rule_train(weights, biases, data, epochs, m, eta, lmbda, rng, output_delta, n=None):
    """The book's SGD: shuffle the list (carried over), slice, sum per example, step with the
    weight decay of n examples (default len(data))."""
    weights, biases = [w.copy() for w in weights], [b.copy() for b in biases]
    order = np.arange(len(data))
    n = len(data) if n is None else n
    for _ in range(epochs):
        rng.shuffle(order)
        for k in range(0, len(data), m):
            batch = [data[i] for i in order[k : k + m]]
            sum_b = [np.zeros_like(b) for b in biases]
            sum_w = [np.zeros_like(w) for w in weights]
            for x, y in batch:
                gb, gw = rule_backprop(weights, biases, x, y, output_delta)
                sum_b = [s + g for s, g in zip(sum_b, gb)]
                sum_w = [s + g for s, g in zip(sum_w, gw)]
            step = eta / len(batch)
            weights = [(1 - eta * lmbda / n) * w - step * g for w, g in zip(weights, sum_w)]
            biases = [b - step * g for b, g in zip(biases, sum_b)]
    return weights, biases


def toy_data(n=53, n_in=12, n_out=4, seed=3):
    """n pairs of a (n_in, 1) column and a one-hot (n_out, 1) column (53: a last short batch)."""
    rng = np.random.default_rng(seed)
    eye = np.eye(n_out)
    return [(rng.random((n_in, 1)), eye[[rng.integers(n_out)]].T) for _ in range(n)]


def _max_difference(net, weights, biases):
    return max(
        max(float(np.max(np.abs(a - b))) for a, b in zip(net.weights, weights)),
        max(float(np.max(np.abs(a - b))) for a, b in zip(net.biases, biases)),
    )


# ---------------------------------------------------------------------- same numbers


@pytest.mark.parametrize("fast", FAST)
def test_network_sgd_gives_the_book_rules_weights(fast, capsys):
    if fast and not c_available():
        pytest.skip("the C extension nnmath.engine._ckernels is not built")
    data = toy_data()
    net = nielsen.Network([12, 7, 5, 4], seed=1, fast=fast)
    start = ([w.copy() for w in net.weights], [b.copy() for b in net.biases])
    rng = copy.deepcopy(net.rng)
    net.SGD(data, 3, 10, 3.0)
    assert net.train_path == ("c" if fast else "reference")
    weights, biases = rule_train(*start, data, 3, 10, 3.0, 0.0, rng, _quadratic_delta)
    assert _max_difference(net, weights, biases) < 1e-9
    assert _max_difference(net, *start) > 1e-2  # it did train
    assert capsys.readouterr().out == "Epoch 0 complete\nEpoch 1 complete\nEpoch 2 complete\n"


@pytest.mark.parametrize("fast", FAST)
@pytest.mark.parametrize("cost", ["QuadraticCost", "CrossEntropyCost"])
def test_network2_sgd_gives_the_book_rules_weights_with_weight_decay(cost, fast, capsys):
    if fast and not c_available():
        pytest.skip("the C extension nnmath.engine._ckernels is not built")
    data = toy_data()
    net = nielsen.Network2([12, 7, 5, 4], cost=getattr(nielsen, cost), seed=2, fast=fast)
    net.large_weight_initializer()
    start = ([w.copy() for w in net.weights], [b.copy() for b in net.biases])
    rng = copy.deepcopy(net.rng)
    net.SGD(data, 3, 10, 0.5, lmbda=5.0)
    delta = _quadratic_delta if cost == "QuadraticCost" else _cross_entropy_delta
    weights, biases = rule_train(*start, data, 3, 10, 0.5, 5.0, rng, delta)
    assert _max_difference(net, weights, biases) < 1e-9
    assert _max_difference(net, *start) > 1e-2
    assert capsys.readouterr().out == "".join(f"Epoch {j} training complete\n\n" for j in range(3))


def test_float32_trains_close_to_float64():
    data = toy_data()
    nets = [nielsen.Network2([12, 7, 4], seed=8, dtype=dtype) for dtype in ("float64", "float32")]
    for net in nets:
        net.SGD(data, 2, 10, 0.5, lmbda=1.0)
    assert nets[1].weights[0].dtype == np.float32 and nets[1].biases[0].shape == (7, 1)
    assert 0 < _max_difference(nets[1], nets[0].weights, nets[0].biases) < 1e-5


def test_backprop_and_update_mini_batch_are_the_book_rules():
    data = toy_data(n=7)
    net = nielsen.Network([12, 6, 4], seed=4)
    x, y = data[0]
    nabla_b, nabla_w = net.backprop(x, y)
    want_b, want_w = rule_backprop(net.weights, net.biases, x, y, _quadratic_delta)
    assert [g.shape for g in nabla_b] == [(6, 1), (4, 1)]
    assert [g.shape for g in nabla_w] == [(6, 12), (4, 6)]
    for got, want in zip(nabla_b + nabla_w, want_b + want_w):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    a = net.feedforward(x)
    assert a.shape == (4, 1)
    delta_L = net.cost_derivative(a, y) * nielsen.sigmoid_prime(
        net.weights[1] @ _sig(net.weights[0] @ x + net.biases[0]) + net.biases[1]
    )
    np.testing.assert_allclose(nabla_b[-1], delta_L, atol=1e-12)  # (BP1)
    start = ([w.copy() for w in net.weights], [b.copy() for b in net.biases])
    net.update_mini_batch(data, 2.0)
    weights, biases = rule_train(*start, data, 1, 7, 2.0, 0.0, _NoShuffle(), _quadratic_delta)
    assert _max_difference(net, weights, biases) < 1e-12


class _NoShuffle:
    def shuffle(self, order):
        pass


def test_network2_update_mini_batch_has_the_weight_decay():
    data = toy_data(n=5)
    net = nielsen.Network2([12, 6, 4], cost=nielsen.QuadraticCost, seed=5)
    start = ([w.copy() for w in net.weights], [b.copy() for b in net.biases])
    net.update_mini_batch(data, 0.5, 5.0, 50)
    weights, biases = rule_train(*start, data, 1, 5, 0.5, 5.0, _NoShuffle(), _quadratic_delta, n=50)
    assert _max_difference(net, weights, biases) < 1e-12


# ---------------------------------------------------------------------- the book's API


def test_network_prints_the_books_epoch_lines_and_evaluates(capsys):
    data = toy_data(n=40)
    test = [(x, int(np.argmax(y))) for x, y in toy_data(n=20, seed=9)]
    net = nielsen.Network([12, 8, 4], seed=6)
    net.SGD(iter(data), 2, 5, 3.0, test_data=zip(*zip(*test)))  # iterables are taken
    lines = capsys.readouterr().out.splitlines()
    assert [re.fullmatch(r"Epoch (\d+): (\d+) / 20", line) is not None for line in lines] == [
        True,
        True,
    ]
    correct = sum(int(np.argmax(net.feedforward(x)) == y) for x, y in test)
    assert net.evaluate(test) == correct == int(lines[-1].split()[2])


def test_network2_monitors_print_and_return_the_four_lists(capsys):
    data, evaluation = toy_data(n=40), [(x, int(np.argmax(y))) for x, y in toy_data(20, seed=8)]
    net = nielsen.Network2([12, 8, 4], seed=7)
    ec, ea, tc, ta = net.SGD(
        data,
        2,
        10,
        0.5,
        lmbda=1.0,
        evaluation_data=evaluation,
        monitor_evaluation_cost=True,
        monitor_evaluation_accuracy=True,
        monitor_training_cost=True,
        monitor_training_accuracy=True,
    )
    assert [len(v) for v in (ec, ea, tc, ta)] == [2, 2, 2, 2]
    out = capsys.readouterr().out.split("\n\n")[1]  # the second epoch
    assert out.splitlines() == [
        "Epoch 1 training complete",
        f"Cost on training data: {tc[1]}",
        f"Accuracy on training data: {ta[1]} / 40",
        f"Cost on evaluation data: {ec[1]}",
        f"Accuracy on evaluation data: {ea[1]} / 20",
    ]
    assert ta[1] == net.accuracy(data, convert=True) and ea[1] == net.accuracy(evaluation)
    # the book's total_cost, example by example
    for d, got in ((data, tc[1]), (evaluation, ec[1])):
        want = 0.0
        for x, y in d:
            y = y if np.ndim(y) else nielsen.vectorized_result(y)[:4]
            want += nielsen.CrossEntropyCost.fn(net.feedforward(x), y) / len(d)
        want += 0.5 * (1.0 / len(d)) * sum(np.linalg.norm(w) ** 2 for w in net.weights)
        assert got == pytest.approx(want, rel=1e-12)
    assert net.SGD(data, 1, 10, 0.5) == ([], [], [], [])


def test_network2_early_stopping(capsys):
    data = toy_data(n=20)
    evaluation = [(x, int(np.argmax(y))) for x, y in data]
    net = nielsen.Network2([12, 3, 4], seed=0)
    _, accuracy, _, _ = net.SGD(
        data,
        50,
        10,
        1e-9,
        evaluation_data=evaluation,
        monitor_evaluation_accuracy=True,
        early_stopping_n=2,
    )
    assert len(accuracy) == 3  # η ≈ 0: no change after the first epoch, stop after two more
    assert "Early-stopping: No accuracy change in last epochs: 2" in capsys.readouterr().out


def test_weights_and_biases_can_be_set_as_lists_or_entries():
    net = nielsen.Network([3, 2, 1], seed=0)
    net.weights = [np.ones((2, 3)), np.full((1, 2), 2.0)]
    net.biases = [np.zeros((2, 1)), np.array([[-1.0]])]
    x = np.array([[1.0], [0.0], [1.0]])
    assert net.feedforward(x)[0, 0] == pytest.approx(_sig(2 * 2 * _sig(2.0) - 1))
    net.biases[1] = np.array([[3.0]])  # one entry replaced, as the book's code does
    assert net.feedforward(x)[0, 0] == pytest.approx(_sig(2 * 2 * _sig(2.0) + 3))
    net.weights[0][:] = 0.0  # changed in place
    assert net.feedforward(x)[0, 0] == pytest.approx(_sig(2 * 2 * 0.5 + 3))
    before = net.feedforward(x)
    with pytest.raises(ValueError, match=r"weights\[1\] has shape \(2, 1\); the network needs"):
        net.weights = [np.full((2, 3), 9.0), np.ones((2, 1))]
    with pytest.raises(ValueError, match="biases has 1 arrays"):
        net.biases = [np.zeros((2, 1))]
    assert net.feedforward(x) == before  # refused as a whole: weights[0] was not taken either


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([np.zeros((12, 1))], r"training_data\[0\] is a ndarray, not an \(x, y\) pair"),
        ([(np.zeros((11, 1)), np.zeros((4, 1)))], r"x of training_data\[0\] has shape \(11, 1\)"),
        ([(np.zeros((12, 1)), np.zeros((3, 1)))], r"y of training_data\[0\] has shape \(3, 1\)"),
        ([(np.zeros((12, 1)), 7)], r"labels y of training_data must be integers 0..3"),
        ([], "training_data is empty"),
        ([(np.full((12, 1), np.nan), np.zeros((4, 1)))], "NaN or infinite values of x"),
    ],
)
def test_bad_data_is_one_clear_error(data, message):
    with pytest.raises(ValueError, match=message):
        nielsen.Network([12, 5, 4]).SGD(data, 1, 10, 3.0)


def test_flat_lists_train_as_the_columns_do():
    """x and y as flat Python lists take the per-example path: the same numbers."""
    data = toy_data(n=25)
    flat = [(x.ravel().tolist(), y.ravel()) for x, y in data]
    nets = [nielsen.Network([12, 5, 4], seed=3) for _ in range(2)]
    nets[0].SGD(data, 2, 10, 3.0)
    nets[1].SGD(flat, 2, 10, 3.0)
    assert _max_difference(nets[0], nets[1].weights, nets[1].biases) == 0.0


# ---------------------------------------------------------------------- save / load


def test_save_load_round_trip_in_the_books_json(tmp_path):
    net = nielsen.Network2([5, 4, 3], cost=nielsen.QuadraticCost, seed=1)
    path = tmp_path / "net.json"
    net.save(path)
    data = json.loads(path.read_text())
    assert sorted(data) == ["biases", "cost", "sizes", "weights"]
    assert data["cost"] == "QuadraticCost" and data["sizes"] == [5, 4, 3]
    assert np.array(data["biases"][0]).shape == (4, 1)
    back = nielsen.load(path)
    assert back.cost is nielsen.QuadraticCost and back.sizes == [5, 4, 3]
    for a, b in zip(back.weights + back.biases, net.weights + net.biases):
        np.testing.assert_array_equal(a, b)
    assert [p.name for p in tmp_path.iterdir()] == ["net.json"]  # no temporary left


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "a JSON list, not an object"),
        pytest.param("[" * 100_000 + "]" * 100_000, "nested too deeply", id="deep"),
        ('{"sizes": [2, 1], "weights": [], "biases": []}', "no 'cost'"),
        (
            '{"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0]]], '
            '"cost": "__import__(\'os\').getcwd()"}',
            "unknown cost",
        ),
        (
            '{"sizes": [2, 1], "weights": [[[1, 2, 3]]], "biases": [[[0]]], '
            '"cost": "QuadraticCost"}',
            r"weights\[0\] has shape \(1, 3\), its sizes imply \(1, 2\)",
        ),
        ('{"sizes": [2, 0], "weights": [], "biases": [], "cost": "QuadraticCost"}', "sizes must"),
        (
            '{"sizes": [2, 1], "weights": [[["a", 2]]], "biases": [[[0]]], '
            '"cost": "QuadraticCost"}',
            "not an array of numbers",
        ),
    ],
)
def test_load_refuses_a_malformed_file_clearly(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(nielsen.NielsenFileError, match=message) as info:
        nielsen.load(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_unknown_cost_class_is_refused():
    class MyCost(nielsen.CrossEntropyCost):
        pass

    with pytest.raises(ValueError, match="cost must be nielsen.QuadraticCost or"):
        nielsen.Network2([3, 2], cost=MyCost)


# ---------------------------------------------------------------------- the main API points here


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (
            [(np.zeros((784, 1)), np.zeros((10, 1)))] * 3,
            r"list of \(x, y\) tuples .*nnmath.nielsen",
        ),
        (zip([np.zeros((784, 1))], [1]), r"zip object .*nnmath.nielsen"),
        (np.zeros((784, 1)), r"look like columns.*pass X.T, or use nnmath.nielsen"),
        ([np.zeros((784, 1))] * 3, r"stack of \(784, 1\) column vectors.*nnmath.nielsen"),
    ],
)
def test_main_api_points_the_books_layout_to_nielsen(X, message):
    import nnmath as nm

    net = nm.Network([784, 30, 10], seed=0)
    with pytest.raises(ValueError, match=message):
        net.predict(X)
    with pytest.raises(ValueError, match=message):
        net.fit(X, np.zeros(3, dtype=int), epochs=1)


def test_main_api_points_column_targets_to_nielsen():
    import nnmath as nm

    net = nm.Network([784, 30, 10], seed=0)
    with pytest.raises(ValueError, match=r"Y is a stack of \(10, 1\) column.*nnmath.nielsen"):
        net.fit(np.zeros((3, 784)), np.zeros((3, 10, 1)), epochs=1)
    assert nm.Network([2, 1]).predict([(0.1, 0.2)]).shape == (1,)  # pairs of numbers: 2 features


# ---------------------------------------------------------------------- MNIST


@needs_mnist
def test_load_data_wrapper_is_the_books_split(book_mnist):
    from nnmath.data import load_mnist

    training, validation, test = book_mnist
    assert (len(training), len(validation), len(test)) == (50_000, 10_000, 10_000)
    x, y = training[0]
    assert x.shape == (784, 1) and y.shape == (10, 1) and y.sum() == 1.0
    assert isinstance(validation[0][1], int) and isinstance(test[0][1], int)
    data = load_mnist(MNIST_FOLDER, scale=256)
    np.testing.assert_array_equal(training[-1][0][:, 0], data.train[0][-1])
    np.testing.assert_array_equal(validation[0][0][:, 0], data.validation[0][0])
    assert validation[0][1] == data.validation[1][0] and test[-1][1] == data.test[1][-1]
    assert int(np.argmax(training[5][1])) == data.train[1][5]
    arrays = nielsen.load_data(MNIST_FOLDER)
    assert [a[0].shape for a in arrays] == [(50_000, 784), (10_000, 784), (10_000, 784)]


@needs_mnist
def test_quick_chapter_1_and_3_snippets_learn(capsys, book_mnist):
    training, validation, test = book_mnist
    net = nielsen.Network([784, 30, 10], seed=0)
    net.SGD(training[:10_000], 1, 10, 3.0, test_data=test[:1000])
    first = capsys.readouterr().out
    assert re.fullmatch(r"Epoch 0: \d+ / 1000\n", first)
    # a fifth of the book's first epoch (~91 % after 50,000): N(0, 1) weights start slowly
    assert int(first.split()[2]) >= 500
    net2 = nielsen.Network2([784, 30, 10], cost=nielsen.CrossEntropyCost, seed=0)
    _, accuracy, _, _ = net2.SGD(
        training[:5000],
        2,
        10,
        0.5,
        lmbda=5.0,
        evaluation_data=validation[:1000],
        monitor_evaluation_accuracy=True,
    )
    assert accuracy[-1] >= 850


@needs_mnist
@pytest.mark.parametrize("cost", [None, "QuadraticCost", "CrossEntropyCost"])
def test_book_rule_on_mnist_images(cost, book_mnist):
    """[784, 30, 10] on 200 MNIST images: 20 mini-batches, the rule's weights to 1e-9."""
    training, _, _ = book_mnist
    data = training[:200]
    if cost is None:
        net, lmbda, delta = nielsen.Network([784, 30, 10], seed=11), 0.0, _quadratic_delta
    else:
        net = nielsen.Network2([784, 30, 10], cost=getattr(nielsen, cost), seed=11)
        lmbda = 5.0
        delta = _quadratic_delta if cost == "QuadraticCost" else _cross_entropy_delta
    start = ([w.copy() for w in net.weights], [b.copy() for b in net.biases])
    rng = copy.deepcopy(net.rng)
    eta = 0.5 if cost else 3.0
    if cost is None:
        net.SGD(data, 1, 10, eta)
    else:
        net.SGD(data, 1, 10, eta, lmbda=lmbda)
    weights, biases = rule_train(*start, data, 1, 10, eta, lmbda, rng, delta)
    assert _max_difference(net, weights, biases) < 1e-9


def test_the_books_module_names_are_there():
    """``import mnist_loader, network, network2`` of the book become these imports."""
    import nnmath as nm
    from nnmath.nielsen import loader as mnist_loader
    from nnmath.nielsen import network, network2

    assert nm.nielsen is nielsen and network2.Network is nielsen.Network2
    assert network.Network is nielsen.Network and network.sigmoid(0.0) == 0.5
    assert network2.load is nielsen.load and network2.CrossEntropyCost is nielsen.CrossEntropyCost
    assert callable(mnist_loader.load_data_wrapper) and callable(mnist_loader.load_data)
    assert network.sigmoid_prime(0.0) == 0.25
    np.testing.assert_array_equal(network2.vectorized_result(3)[:, 0], np.eye(10)[3])
