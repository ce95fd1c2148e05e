"""Backpropagation against central differences and PyTorch autograd, for every activation ×
cost × output combination; shapes and the public API of ``Network``."""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

import nnmath as nm
from conftest import COST_NAMES, ELEMENTWISE_NAMES, central_difference, outputs_for

HIDDEN = ELEMENTWISE_NAMES  # every element-wise σ of the registry
# cost -> output activations whose outputs the cost is defined for (the registries')
OUTPUTS = {cost: outputs_for(cost) for cost in COST_NAMES}
COMBOS = [(c, o) for c, outs in OUTPUTS.items() for o in outs]


def random_problem(depth: int, hidden: str, output: str, cost: str, seed: int):
    """A small float64 network with ``depth`` layers of weights and a mini-batch of 4 rows."""
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(2, 5)) for _ in range(depth)] + [3]
    net = nm.Network(
        sizes,
        activation=hidden,
        output_activation=output,
        cost=cost,
        init="scaled_normal",
        seed=seed,
        dtype="float64",
    )
    X = rng.normal(size=(4, sizes[0]))
    if output in ("identity", "tanh", "relu"):
        Y = rng.normal(size=(4, 3))
    else:
        Y = rng.integers(0, 3, size=4)  # labels -> one-hot
    return net, X, Y


def numeric_gradients(net: nm.Network, X, Y):
    f = lambda: net.cost(X, Y)  # noqa: E731
    return (
        [central_difference(f, W) for W in net.weights],
        [central_difference(f, b) for b in net.biases],
    )


@pytest.mark.parametrize(("cost", "output"), COMBOS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_backprop_matches_central_differences(hidden: str, cost: str, output: str) -> None:
    seed = zlib.crc32(f"{hidden}/{cost}/{output}".encode()) % 1000
    depth = 2 + seed % 4  # depths 2..5
    net, X, Y = random_problem(depth, hidden, output, cost, seed)
    g = net.backprop(X, Y)
    nw, nb = numeric_gradients(net, X, Y)
    for l in range(net.n_layers):
        np.testing.assert_allclose(g.nabla_w[l], nw[l], rtol=1e-5, atol=1e-8, err_msg=f"w{l}")
        np.testing.assert_allclose(g.nabla_b[l], nb[l], rtol=1e-5, atol=1e-8, err_msg=f"b{l}")


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_mixed_activations_per_layer(depth: int) -> None:
    rng = np.random.default_rng(depth)
    sizes = [3] + [4] * (depth - 1) + [3]
    hidden = list(itertools.islice(itertools.cycle(["relu", "tanh", "elu", "sigmoid"]), depth - 1))
    net = nm.Network(
        sizes,
        activation=hidden,
        output_activation="softmax",
        cost="log_likelihood",
        init="glorot",
        seed=1,
        dtype="float64",
    )
    assert [a.name for a in net.activation_functions] == [*hidden, "softmax"]
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 3, 5)
    g = net.backprop(X, y)
    nw, nb = numeric_gradients(net, X, y)
    for l in range(depth):
        np.testing.assert_allclose(g.nabla_w[l], nw[l], rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(g.nabla_b[l], nb[l], rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(
    ("cost", "output"), [("cross_entropy", "sigmoid"), ("log_likelihood", "softmax")]
)
def test_fused_output_error_equals_general_path(cost: str, output: str, rng) -> None:
    c, act = nm.get_cost(cost), nm.get_activation(output)
    z = rng.normal(size=(4, 6))
    y = np.eye(4)[:, rng.integers(0, 4, 6)]
    a = act(z)
    fused = c.delta(z, a, y, act)
    general = c.delta(z, a, y, act, fused=False)  # ∂C/∂a ⊙ σ'(z), or Jᵀ ∂C/∂a for softmax
    np.testing.assert_allclose(fused, a - y)
    np.testing.assert_allclose(general, fused, rtol=1e-10, atol=1e-12)


def test_softmax_with_quadratic_cost_uses_the_jacobian(rng) -> None:
    """Pairing softmax with the quadratic cost must not fall back to (a − y) ⊙ diag(J)."""
    c, sm = nm.get_cost("quadratic"), nm.get_activation("softmax")
    z = rng.normal(size=(3, 2))
    y = np.eye(3)[:, [0, 2]]
    a = sm(z)
    delta = c.delta(z, a, y, sm)
    J = sm.jacobian(z)
    expected = np.stack([J[k].T @ (a[:, k] - y[:, k]) for k in range(2)], axis=1)
    np.testing.assert_allclose(delta, expected)
    assert not np.allclose(delta, (a - y) * sm.prime(z))


def test_shapes_and_public_api() -> None:
    net = nm.Network([784, 30, 10], activation="sigmoid", cost="quadratic", init="normal", seed=0)
    rng = np.random.default_rng(0)
    X, y = rng.random((20, 784)), rng.integers(0, 10, 20)
    assert net.feedforward(X).shape == (20, 10)
    assert net.feedforward(X[0]).shape == (1, 10)
    g = net.backprop(X, y)
    for l in range(2):
        assert g.nabla_w[l].shape == net.weights[l].shape == (net.sizes[l + 1], net.sizes[l])
        assert g.nabla_b[l].shape == net.biases[l].shape == (net.sizes[l + 1],)
        assert g.deltas[l].shape == (net.sizes[l + 1], 20)
        assert g.zs[l].shape == (net.sizes[l + 1], 20)
    assert [a.shape for a in g.activations] == [(784, 20), (30, 20), (10, 20)]
    assert net.predict(X).shape == (20,)
    assert 0.0 <= net.accuracy(X, y) <= 1.0
    assert net.cost(X, y) > 0
    assert all(W.dtype == np.float32 for W in net.weights)
    assert all(nw.dtype == np.float32 for nw in g.nabla_w)  # no silent up-casting


def test_backprop_is_the_mean_of_per_example_gradients(rng) -> None:
    net = nm.Network(
        [3, 4, 2],
        activation="tanh",
        output_activation="sigmoid",
        cost="cross_entropy",
        seed=3,
        dtype="float64",
    )
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 2, 6)
    g = net.backprop(X, y)
    singles = [net.backprop(X[i : i + 1], y[i : i + 1]) for i in range(6)]
    for l in range(2):
        np.testing.assert_allclose(g.nabla_w[l], np.mean([s.nabla_w[l] for s in singles], 0))
        np.testing.assert_allclose(g.nabla_b[l], np.mean([s.nabla_b[l] for s in singles], 0))


def test_same_seed_same_network_in_both_dtypes() -> None:
    a = nm.Network([5, 4, 3], seed=7, dtype="float32")
    b = nm.Network([5, 4, 3], seed=7, dtype="float64")
    c = nm.Network([5, 4, 3], seed=8)
    for Wa, Wb, Wc in zip(a.weights, b.weights, c.weights):
        np.testing.assert_allclose(Wa, Wb, rtol=1e-6)
        assert not np.allclose(Wa, Wc)


@pytest.mark.parametrize("init", ["normal", "scaled_normal", "glorot", "he"])
def test_initialisations_have_the_book_statistics(init: str) -> None:
    net = nm.Network([400, 300, 10], init=init, seed=0, dtype="float64")
    W, b = net.weights[0], net.biases[0]
    expected_std = {
        "normal": 1.0,
        "scaled_normal": 1 / np.sqrt(400),
        "glorot": np.sqrt(2 / 700),
        "he": np.sqrt(2 / 400),
    }[init]
    assert W.std() == pytest.approx(expected_std, rel=0.02)
    if init in ("normal", "scaled_normal"):
        assert b.std() == pytest.approx(1.0, rel=0.2)  # biases N(0, 1) as in the book
    else:
        assert np.all(b == 0)


def test_config_describes_the_architecture() -> None:
    net = nm.Network(
        [4, 3, 2],
        activation=nm.get_activation("leaky_relu", alpha=0.2),
        output_activation="softmax",
        cost="log_likelihood",
        init="he",
        seed=0,
    )
    assert net.config() == {
        "sizes": [4, 3, 2],
        "activations": [{"name": "leaky_relu", "alpha": 0.2}, {"name": "softmax"}],
        "cost": "log_likelihood",
        "init": "he",
        "dtype": "float32",
    }


def test_output_defaults_to_what_the_cost_is_defined_for() -> None:
    """A single hidden σ is also the output's only where the cost allows its values."""
    net = nm.Network([3, 4, 2], activation="relu", cost="cross_entropy")
    assert [a.name for a in net.activation_functions] == ["relu", "sigmoid"]
    net = nm.Network([3, 4, 2], activation="elu", cost="log_likelihood")
    assert [a.name for a in net.activation_functions] == ["elu", "softmax"]
    net = nm.Network([3, 4, 2], activation="relu", cost="quadratic")
    assert [a.name for a in net.activation_functions] == ["relu", "relu"]
    net = nm.Network([3, 4, 2], activation="tanh", output_activation="softmax", cost="quadratic")
    assert net.activation_functions[-1].name == "softmax"


@pytest.mark.parametrize("output", ["relu", "identity", "tanh", "elu", "leaky_relu"])
@pytest.mark.parametrize("cost", ["cross_entropy", "log_likelihood"])
def test_cost_of_probabilities_rejects_other_outputs(cost: str, output: str) -> None:
    with pytest.raises(ValueError, match=f"{cost} cost takes ln a.*'{output}'"):
        nm.Network([3, 4, 2], activation="sigmoid", output_activation=output, cost=cost)
    with pytest.raises(ValueError, match="needs outputs in \\(0, 1\\)"):
        nm.Network([3, 4, 2], activation=["sigmoid", output], cost=cost)


# ---------------------------------------------------------------------------- dropout


def test_dropout_gradients_match_central_differences_with_the_masks_fixed() -> None:
    """With its masks fixed, a dropping network is a fixed function of its weights:
    backprop_columns(masks=...) is that function's gradient (equations 2 and 4 with ⊙ mask)."""
    rng = np.random.default_rng(0)
    net = nm.Network([4, 6, 5, 3], activation="tanh", cost="cross_entropy", seed=0,
                     dtype="float64", dropout=[0.5, 0.3])  # fmt: skip
    X, Y = rng.normal(size=(6, 4)), np.eye(3)[rng.integers(0, 3, 6)]
    masks = net.dropout_masks(key=12345, start=0, m=6)
    assert masks[0] is not None and masks[1] is not None and masks[2] is None

    def cost() -> float:
        _, activations = net.forward(X.T, masks)
        return float(np.sum(net.cost_function.fn(activations[-1], Y.T))) / 6

    g = net.backprop_columns(X.T, Y.T, masks=masks)
    for W, nw in zip(net.weights, g.nabla_w):
        np.testing.assert_allclose(nw, central_difference(cost, W), rtol=1e-6, atol=1e-9)
    for b, nb in zip(net.biases, g.nabla_b):
        np.testing.assert_allclose(nb, central_difference(cost, b), rtol=1e-6, atol=1e-9)


def test_dropout_masks_are_inverted_and_drop_about_p() -> None:
    net = nm.Network([3, 400, 2], seed=0, dtype="float32", dropout=0.3)
    (mask, out) = net.dropout_masks(key=7, start=0, m=500)
    assert out is None and mask.shape == (400, 500) and mask.dtype == np.float32
    assert set(np.unique(mask)) == {0.0, np.float32(1 / 0.7)}
    assert abs((mask == 0).mean() - 0.3) < 0.01  # 200,000 draws
    assert abs(mask.mean() - 1.0) < 0.02  # E[mask] = 1: nothing to rescale at test time
    again = net.dropout_masks(key=7, start=100, m=10)[0]  # a mask depends on the position only
    np.testing.assert_array_equal(again, mask[:, 100:110])
    assert not np.array_equal(net.dropout_masks(key=8, start=0, m=500)[0], mask)


def test_dropout_never_changes_feedforward_predict_or_cost() -> None:
    rng = np.random.default_rng(1)
    X, y = rng.random((20, 5)), rng.integers(0, 3, 20)
    plain = nm.Network([5, 8, 3], seed=3)
    dropping = nm.Network([5, 8, 3], seed=3, dropout=0.5)
    np.testing.assert_array_equal(dropping.feedforward(X), plain.feedforward(X))
    np.testing.assert_array_equal(dropping.predict(X), plain.predict(X))
    assert dropping.cost(X, y) == plain.cost(X, y)


def test_dropout_trains_and_a_seed_repeats_the_run() -> None:
    rng = np.random.default_rng(2)
    X, y = rng.random((60, 5)), rng.integers(0, 3, 60)
    runs = [nm.Network([5, 8, 3], seed=3, dropout=0.5) for _ in range(3)]
    for net, seed in zip(runs, (4, 4, 5)):
        net.fit(X, y, epochs=2, mini_batch_size=6, eta=0.5, seed=seed)
    np.testing.assert_array_equal(runs[0].weights[0], runs[1].weights[0])
    assert not np.array_equal(runs[0].weights[0], runs[2].weights[0])
    plain = nm.Network([5, 8, 3], seed=3)
    plain.fit(X, y, epochs=2, mini_batch_size=6, eta=0.5, seed=4)
    assert not np.array_equal(plain.weights[0], runs[0].weights[0])


@pytest.mark.parametrize(
    "dropout, message",
    [(1.0, r"not in \[0, 1\)"), (-0.1, r"not in \[0, 1\)"), ([0.5], "2 hidden layers")],
)
def test_dropout_arguments_are_checked(dropout, message) -> None:
    with pytest.raises(ValueError, match=message):
        nm.Network([4, 5, 5, 2], dropout=dropout)
    with pytest.raises(ValueError, match="has none"):
        nm.Network([4, 2], dropout=0.5)


# ---------------------------------------------------------------- fit from two threads at once


def _blas_or_skip():
    from nnmath.engine.blas import blas_threads

    blas = blas_threads()
    if blas is None:
        pytest.skip("the compiled epochs do not call NumPy's OpenBLAS here (no thread count)")
    return blas


def test_one_blas_thread_is_a_counted_hold():
    from nnmath.engine.blas import one_blas_thread, user_threads

    blas = _blas_or_skip()
    before = blas.get()
    blas.set(3)
    try:
        first, second = one_blas_thread(blas), one_blas_thread(blas)
        first.__enter__()
        second.__enter__()
        assert blas.get() == 1 and user_threads(blas) == 3  # a second fit sizes its work by 3
        first.__exit__(None, None, None)  # the first to end must not restore under the second
        assert blas.get() == 1
        second.__exit__(None, None, None)
        assert blas.get() == 3 and user_threads(blas) == 3
    finally:
        blas.set(before)


def test_interleaved_runners_leave_openblas_its_thread_count():
    # what two fits in two threads do: A holds, B holds, A ends, B ends (B saw A's 1)
    from nnmath.engine import epoch_runner

    blas = _blas_or_skip()
    before = blas.get()
    blas.set(2)
    try:
        net = nm.Network([8, 5, 3], seed=0)
        X = np.random.default_rng(0).random((128, 8), dtype=np.float32)
        Y = np.eye(3, dtype=np.float32)[np.arange(128) % 3]
        opt = nm.optim.get_optimizer("sgd", eta=0.1)
        a, b = (epoch_runner(net, opt, X, Y, 64, "c", threads=2) for _ in range(2))
        with a.blas_on_one_thread():
            inner = b.blas_on_one_thread()
            inner.__enter__()
        assert blas.get() == 1  # b still holds
        inner.__exit__(None, None, None)
        assert blas.get() == 2
    finally:
        blas.set(before)


def test_two_threads_fitting_at_once_get_the_results_they_get_alone():
    import threading

    from nnmath.data import load_digits

    blas = _blas_or_skip()
    data = load_digits()
    before = blas.get()

    def run(seed):
        net = nm.Network([64, 30, 10], cost="cross_entropy", seed=seed)
        h = net.fit(
            *data.train,
            epochs=2,
            mini_batch_size=64,
            eta=1.0,
            seed=seed,
            validation_data=data.validation,
        )
        return [W.copy() for W in net.weights], h.training_cost, h.extra["train_threads"]

    alone = {seed: run(seed) for seed in (0, 1)}
    for _ in range(4):
        results = {}
        threads = [
            threading.Thread(target=lambda s=s, r=results: r.__setitem__(s, run(s))) for s in (0, 1)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for seed in (0, 1):
            W, cost, n_threads = results[seed]
            assert n_threads == alone[seed][2] and cost == alone[seed][1]
            for w, w_alone in zip(W, alone[seed][0]):
                np.testing.assert_array_equal(w, w_alone)
        assert blas.get() == before  # never left on one thread


def test_log_likelihood_takes_a_softmax_output_and_warns_of_a_sigmoid_one() -> None:
    """−ln a_y rewards a_y alone: with sigmoid outputs all of them go to 1 and the network
    scored 11 % on the digits. Softmax is its default output; an explicit sigmoid warns."""
    import warnings

    from nnmath.data import load_dataset

    d = load_dataset("digits")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = nm.Network([64, 30, 10], cost="log_likelihood", seed=0)
        assert [a.name for a in net.activation_functions] == ["sigmoid", "softmax"]
        net.fit(*d.train, epochs=10, eta=0.5, seed=0)
    assert net.accuracy(*d.test) > 0.9
    with pytest.warns(UserWarning, match="log_likelihood cost.*sigmoid output.*'softmax'"):
        nm.Network([64, 30, 10], cost="log_likelihood", output_activation="sigmoid")
    with pytest.warns(UserWarning, match="log_likelihood"):
        nm.Network([64, 30, 10], activation=["relu", "sigmoid"], cost="log_likelihood")


def test_evaluate_is_the_cost_and_the_correct_rows_in_one_pass() -> None:
    """evaluate(X, Y) = (net.cost, accuracy · n), over several chunks of EVAL_ROWS rows."""
    from nnmath.network import EVAL_ROWS

    rng = np.random.default_rng(3)
    n = EVAL_ROWS + 37
    X, y = rng.random((n, 6)), rng.integers(0, 4, n)
    net = nm.Network([6, 5, 4], cost="cross_entropy", seed=1)
    cost, correct = net.evaluate(X, y)
    assert cost == net.cost(X, y)
    assert correct == round(net.accuracy(X, y) * n) and isinstance(correct, int)
    Y = np.eye(4)[y]  # one-hot rows give the same
    assert net.evaluate(X, Y) == (cost, correct)


def test_check_inputs_and_targets_are_the_boundary() -> None:
    """The public checks put rows on the network's dtype, with the messages the rest use."""
    net = nm.Network([4, 3, 2], seed=0, dtype="float64")
    X = net.check_inputs([[0, 1, 2, 3]])
    assert X.dtype == np.float64 and X.shape == (1, 4)
    assert net.check_targets([1, 0]).tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert net.check_targets(np.ones((3, 2)), 3).shape == (3, 2)
    with pytest.raises(ValueError, match=r"X has 3 features, the network expects 4 \(sizes\[0\]\)"):
        net.check_inputs(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"X has 3 features, the network expects 4 \(sizes\[0\]\)"):
        net.feedforward(np.zeros((5, 3)))  # the same message through every public method
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.check_inputs(np.full((2, 4), np.nan))
    with pytest.raises(ValueError) as raised:
        net.check_targets(np.zeros((3, 2)), 5)
    with pytest.raises(ValueError) as through_cost:
        net.cost(np.zeros((5, 4)), np.zeros((3, 2)))
    assert str(raised.value) == str(through_cost.value)


def test_fit_and_save_are_the_upper_layers_functions() -> None:
    """Network.fit *is* nnmath.train.fit (one signature, docstring and defaults) and
    Network.save is nnmath.io.save, imported on first use: no table filled at import."""
    import inspect

    import nnmath.io
    import nnmath.network
    import nnmath.train

    assert nm.Network.fit is nnmath.train.fit and nm.Network.save is nnmath.io.save
    assert not hasattr(nnmath.network, "EDGES")
    method = list(inspect.signature(nm.Network.fit).parameters.values())
    function = list(inspect.signature(nnmath.train.fit).parameters.values())
    assert function[0].name == "net" and method == function
    net = nm.Network([4, 3, 2], seed=0)
    bound = inspect.signature(net.fit)  # the bound method: net=self is left out
    assert list(bound.parameters.values()) == function[1:]
    assert net.fit.__doc__ == nnmath.train.fit.__doc__
