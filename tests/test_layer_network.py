"""nm.Network of nnmath.layers: backprop against torch autograd and central differences on
random architectures, the dense lists that stay the sizes network, fit on the reference loop,
and the clear refusals of what does not take a network of layers yet."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from nnmath.layers import Activation as ActivationLayer
from nnmath.layers import (
    AvgPool2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Input,
    MaxPool2D,
)


def random_architecture(seed: int) -> tuple[list, str]:
    """A random conv net: 1–3 convolutions (channels, kernel, stride, padding), pools, an
    optional Activation layer, Dense layers; softmax + log-likelihood or sigmoid + CE."""
    rng = np.random.default_rng(seed)
    C, H = int(rng.integers(1, 4)), int(rng.integers(9, 14))
    layers: list = [Input((C, H, H))]
    for _ in range(int(rng.integers(1, 4))):
        k, s, p = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(0, 2))
        if (H + 2 * p - k) // s + 1 < 2:
            break
        act = str(rng.choice(["relu", "tanh", "sigmoid", "elu"]))
        layers.append(Conv2D(int(rng.integers(1, 5)), k, stride=s, padding=p, activation=act))
        H = (H + 2 * p - k) // s + 1
        if H >= 4 and rng.random() < 0.6:
            layers.append(MaxPool2D(2) if rng.random() < 0.5 else AvgPool2D(2, stride=1))
            H = H // 2 if isinstance(layers[-1], MaxPool2D) else H - 1
    if rng.random() < 0.5:
        layers += [Flatten(), ActivationLayer("tanh")]
    layers.append(Dense(int(rng.integers(3, 8)), activation="relu"))
    if rng.random() < 0.5:
        return [*layers, Dense(4, activation="softmax")], "log_likelihood"
    return [*layers, Dense(3, activation="sigmoid")], "cross_entropy"


def data(net: nm.Network, m: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, *net.layers[0].shape))
    return X, rng.integers(0, net.n_outputs, m)


def torch_sigma(layer, z):
    """a = σ(z) by torch's own module for σ (declared with each activation), so that autograd
    differentiates torch's σ, not ours (ours through |z| has a 0 subgradient at z = 0)."""
    from nnmath.io.torch import _torch_module

    if layer.activation is None:
        return z
    sigma = _torch_module(layer.activation)
    return sigma(z.T).T if z.ndim == 2 else sigma(z)  # torch's softmax is over rows


def torch_gradients(net: nm.Network, X: np.ndarray, y: np.ndarray, masks=None) -> tuple:
    """∂C/∂W, ∂C/∂b of the mean cost by torch autograd through each layer's torch twin."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    params = [[torch.tensor(p, requires_grad=True) for p in lay.parameters()] for lay in net.layers]
    a = torch.tensor(X.reshape(len(X), -1).T)
    masks = [None, *(masks or [None] * (net.L - 1))]
    for layer, ps, mask in zip(net.layers, params, masks):
        mask = None if mask is None else torch.tensor(mask)
        z = layer.torch_z(a, F, *ps, mask=mask)
        a = torch_sigma(layer, z)
    Y = torch.tensor(np.eye(net.n_outputs)[y].T)
    (net.cost_function.fn(a, Y).sum() / len(X)).backward()
    flat = [ps for ps in params if ps]
    return [W.grad.numpy() for W, _ in flat], [b.grad.numpy() for _, b in flat]


@pytest.mark.parametrize("seed", range(8))
def test_backprop_matches_torch_on_random_architectures(seed: int) -> None:
    layers, cost = random_architecture(seed)
    net = nm.Network(layers, cost=cost, init="glorot", seed=seed, dtype="float64")
    X, y = data(net, 5)
    g = net.backprop(X, y)
    tw, tb = torch_gradients(net, X, y)
    assert [w.shape for w in g.nabla_w] == [W.shape for W in net.weights]
    for ours, theirs in zip(g.nabla_w + g.nabla_b, tw + tb):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_backprop_matches_central_differences_of_the_cost(seed: int) -> None:
    layers, cost = random_architecture(seed)
    net = nm.Network(layers, cost=cost, init="glorot", seed=seed, dtype="float64")
    X, y = data(net, 4)
    g = net.backprop(X, y)
    rng = np.random.default_rng(2)
    for arr, grad in zip(net.weights + net.biases, g.nabla_w + g.nabla_b):
        flat = arr.reshape(-1)
        for j in rng.choice(flat.size, size=min(flat.size, 4), replace=False):
            old = flat[j]
            flat[j] = old + 1e-6
            up = net.cost(X, y)
            flat[j] = old - 1e-6
            down = net.cost(X, y)
            flat[j] = old
            assert grad.reshape(-1)[j] == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-8)


def test_dropout_layer_masks_are_backpropagated_as_torch_does() -> None:
    layers = [Input((2, 6, 6)), Conv2D(3, 3, activation="relu"), Dropout(0.5)]
    layers += [Dense(5, activation="tanh"), Dropout(0.3), Dense(3, activation="softmax")]
    net = nm.Network(layers, cost="log_likelihood", seed=0, dtype="float64")
    X, y = data(net, 6)
    masks = net.dropout_masks(key=123, start=10, m=6)
    assert [mk is None for mk in masks] == [
        False if isinstance(lay, Dropout) else True for lay in net.layers[1:]
    ]
    assert masks[1].shape == (3, 4, 4, 6) and set(np.unique(masks[1])) <= {0.0, 2.0}
    x = X.reshape(6, -1).T
    g = net.backprop_columns(x, np.eye(3)[y].T, masks=masks)
    tw, tb = torch_gradients(net, X, y, masks)
    for ours, theirs in zip(g.nabla_w + g.nabla_b, tw + tb):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    # the masks of examples 10.. do not depend on how the epoch is cut into mini-batches
    np.testing.assert_array_equal(net.dropout_masks(123, 12, 2)[1], masks[1][..., 2:4])


def test_the_issue_network_builds_and_flattens_in_torch_order() -> None:
    net = nm.Network(
        [Input((1, 28, 28)), Conv2D(20, 5, activation="relu"), MaxPool2D(2),
         Conv2D(40, 5, activation="relu"), MaxPool2D(2),
         Dense(1000, activation="relu"), Dropout(0.5), Dense(1000, activation="relu"),
         Dropout(0.5), Dense(10, activation="softmax")],
        cost="log_likelihood", init="he", seed=0,
    )  # fmt: skip
    assert [W.shape for W in net.weights] == [
        (20, 1, 5, 5), (40, 20, 5, 5), (1000, 640), (1000, 1000), (10, 1000)
    ]  # fmt: skip
    assert isinstance(net.layers[5], Flatten) and net.sizes[0] == 784 and net.n_outputs == 10
    X = np.random.default_rng(0).random((3, 1, 28, 28))
    np.testing.assert_array_equal(net.feedforward(X), net.feedforward(X.reshape(3, 784)))
    assert net.predict(X).shape == (3,)
    cost, hits = net.evaluate(X, [1, 2, 3])
    assert cost == net.cost(X, [1, 2, 3]) and 0 <= hits <= 3
    with pytest.raises(ValueError, match=r"images of shape \(1, 27, 28\).*\(1, 28, 28\)"):
        net.feedforward(np.zeros((2, 1, 27, 28)))
    with pytest.raises(ValueError, match="780 features, the network expects 784"):
        net.feedforward(np.zeros((2, 780)))


def test_input_and_dense_layers_are_exactly_the_sizes_network() -> None:
    acts = ["relu", "tanh", "softmax"]
    net = nm.Network([Input(8), *(Dense(n, a) for n, a in zip((6, 5, 4), acts))],
                     cost="log_likelihood", init="he", seed=3)  # fmt: skip
    ref = nm.Network([8, 6, 5, 4], activation=acts, cost="log_likelihood", init="he", seed=3)
    assert type(net) is nm.Network and not net.layered and net.sizes == ref.sizes
    assert repr(net) == repr(ref)
    for a, b in zip(net.weights + net.biases, ref.weights + ref.biases):
        np.testing.assert_array_equal(a, b)
    assert [type(lay).__name__ for lay in net.layers] == ["Input", "Dense", "Dense", "Dense"]
    assert net.layers[1].W is net.weights[0]
    X, y = np.random.default_rng(0).random((30, 8)), np.arange(30) % 4
    h = net.fit(X, y, epochs=1, eta=0.1)
    h_ref = ref.fit(X, y, epochs=1, eta=0.1)
    assert h.extra["train_path"] == h_ref.extra["train_path"]
    if nm.engine.c_available():
        assert h.extra["train_path"] != "reference"  # the compiled epoch
    assert h.training_cost == h_ref.training_cost


def small_conv_problem(n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Images of 1×10×10 noise with a bright quadrant; the label is the quadrant."""
    rng = np.random.default_rng(0)
    X = rng.random((n, 1, 10, 10)).astype(np.float32) * 0.3
    y = rng.integers(0, 4, n)
    for i, c in enumerate(y):
        r, q = divmod(int(c), 2)
        X[i, 0, 5 * r : 5 * r + 5, 5 * q : 5 * q + 5] += 0.7
    return X, y


@pytest.mark.parametrize(("optimizer", "eta"), [("sgd", 0.1), ("adam", 0.01), ("rmsprop", 0.01)])
def test_fit_trains_a_conv_net_on_the_reference_loop(optimizer: str, eta: float) -> None:
    X, y = small_conv_problem()
    net = nm.Network(
        [Input((1, 10, 10)), Conv2D(4, 3, activation="relu"), MaxPool2D(2),
         Dense(16, activation="relu"), Dropout(0.2), Dense(4, activation="softmax")],
        cost="log_likelihood", init="he", seed=0,
    )  # fmt: skip
    before = net.cost(X, y)
    h = net.fit(X, y, epochs=3, mini_batch_size=10, eta=eta, optimizer=optimizer, seed=1,
                validation_data=(X[:50], y[:50]))  # fmt: skip
    assert h.extra["train_path"] == "reference"
    assert "network of layers" in h.extra["fallback_reason"]
    assert h.training_cost[-1] < 0.5 * before
    assert net.accuracy(X, y) > 0.9


def test_fit_with_dropout_is_reproducible_from_its_seed() -> None:
    X, y = small_conv_problem(60)

    def trained() -> list:
        net = nm.Network([Input((1, 10, 10)), Conv2D(2, 3), Dropout(0.5), Dense(4, "softmax")],
                         cost="log_likelihood", seed=0)  # fmt: skip
        net.fit(X, y, epochs=2, eta=0.5, seed=4)
        return net.weights

    for a, b in zip(trained(), trained()):
        np.testing.assert_array_equal(a, b)


def test_assigning_an_entry_of_weights_sets_the_layers_array() -> None:
    net = nm.Network([Input((1, 6, 6)), Conv2D(2, 3), Dense(3, "softmax")], seed=0,
                     cost="log_likelihood")  # fmt: skip
    W = np.zeros((2, 1, 3, 3), dtype=np.float32)
    net.weights[0] = W
    assert net.layers[1].W is W and net.weights[0] is W
    net.biases = [np.ones(2, np.float32), np.ones(3, np.float32)]
    assert net.layers[-1].b[0] == 1.0
    net.weights[1] = np.zeros((3, 3))  # a wrong shape is caught before training
    with pytest.raises(ValueError, match=r"weights\[1\].*shape \(3, 3\).*\(3, 32\)"):
        net.fit(np.zeros((2, 36)), [0, 1], epochs=1)


def test_one_list_of_layers_builds_independent_networks() -> None:
    layers = [Input((1, 6, 6)), Conv2D(2, 3), Dense(3, "softmax")]
    a = nm.Network(layers, cost="log_likelihood", seed=0)
    b = nm.Network(layers, cost="log_likelihood", seed=1)
    assert layers[1].W is None and a.layers[1] is not b.layers[1]
    assert not np.array_equal(a.weights[0], b.weights[0])
    np.testing.assert_array_equal(a.weights[0], nm.Network(layers, cost="log_likelihood",
                                                           seed=0).weights[0])  # fmt: skip


def test_engine_support_gives_the_reason() -> None:
    from nnmath.engine import unsupported_reason

    X, y = small_conv_problem(20)
    net = nm.Network([Input((1, 10, 10)), AvgPool2D(2), Dense(4, "softmax")],
                     cost="log_likelihood", seed=0)  # fmt: skip
    reason = unsupported_reason(net, nm.SGD(eta=0.1), X.reshape(20, -1), np.eye(4)[y])
    assert "network of layers (AvgPool2D, Dense, Flatten, Input)" in reason
    assert "reference loop" in reason


@pytest.mark.parametrize(
    ("layers", "kwargs", "error", "message"),
    [
        ([Conv2D(2, 3), Dense(2)], {}, ValueError, "starts with Input"),
        ([Input((1, 5, 5)), Conv2D(2, 3)], {}, ValueError, "end with a Dense"),
        ([Input((1, 5, 5)), Conv2D(2, 3), Dense(2), Dropout(0.2)], {}, ValueError,
         "end with Dense"),
        ([Input((1, 5, 5)), Conv2D(2, 9), Dense(2)], {}, ValueError, r"layers\[1\].*not fit"),
        ([Input((1, 5, 5)), 3, Dense(2)], {}, TypeError, r"layers\[1\] is 3"),
        ([Input((1, 5, 5)), Dense(2)], {"activation": "relu"}, ValueError, "σ per layer"),
        ([Input((1, 5, 5)), Dense(2)], {"dropout": 0.5}, ValueError, "Dropout"),
        ([Input(5), Dense(2)], {"activation": "relu"}, ValueError, "σ per layer"),
        ([Input(5), Dense(2)], {"output_activation": "relu"}, ValueError, "σ per layer"),
        ([Input(5), Dense(3), Dense(2)], {"dropout": 0.5}, ValueError, "Dropout"),
        ([Input((1, 5, 5)), Dense(2, "relu")], {"cost": "cross_entropy"}, ValueError, "relu"),
    ],
)  # fmt: skip
def test_bad_layer_lists_say_what_to_do(layers, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        nm.Network(layers, **kwargs)


def _refused_entries(tmp_path) -> list:
    """Everything that takes a network but not yet a network of layers: (name, call)."""
    from nnmath.nielsen._json import save_network

    return [
        ("nielsen JSON", lambda n: save_network(n, tmp_path / "n.json")),
    ]


def test_what_does_not_take_a_network_of_layers_says_so(tmp_path) -> None:
    """The entries a network of layers cannot go through yet: each raises a clear
    NotImplementedError naming itself and the layers, never a wrong result or a deep
    NumPy traceback. (The CLI and the estimator build their own dense networks.)"""
    for name, call in _refused_entries(tmp_path):
        net = nm.Network([Input((1, 6, 6)), Conv2D(2, 3), Dense(2, "softmax")],
                         cost="log_likelihood", seed=0)  # fmt: skip
        before = [W.copy() for W in net.weights]
        with pytest.raises(NotImplementedError, match="network of layers") as info:
            call(net)
        assert "Conv2D" in str(info.value), name
        for W, W0 in zip(net.weights, before):  # refused before anything was trained
            np.testing.assert_array_equal(W, W0)


def test_an_epoch_logger_without_speeds_logs_a_network_of_layers(tmp_path) -> None:
    from nnmath.callbacks import EpochLogger, read_log

    X, y = small_conv_problem(40)
    net = nm.Network([Input((1, 10, 10)), Conv2D(2, 3), Dense(4, "softmax")],
                     cost="log_likelihood", seed=0)  # fmt: skip
    net.fit(X, y, epochs=2, eta=0.1, callbacks=[EpochLogger(tmp_path / "log.csv", speeds=False)])
    assert len(read_log(tmp_path / "log.csv")) == 2
