"""A network of layers on the torch backend (CPU tensors): the same code as on NumPy, so the
same result to 1e-12 in float64; CuPy without CuPy (or without a GPU) is a clear error."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import nnmath as nm
from nnmath.backend import to_numpy
from nnmath.layers import AvgPool2D, Conv2D, Dense, Dropout, Input, MaxPool2D, parse

sys.path.insert(0, str(Path(__file__).parent))
from test_layer_network import data, random_architecture, small_conv_problem  # noqa: E402

torch = pytest.importorskip("torch")


def twins(layers: list, cost: str, **kwargs) -> tuple[nm.Network, nm.Network]:
    """The same network, seed and all, on NumPy and on torch tensors, in float64."""
    common = {"cost": cost, "init": "he", "seed": 0, "dtype": "float64", **kwargs}
    return nm.Network(layers, **common), nm.Network(layers, backend="torch", **common)


def assert_same(a: list, b: list, atol: float = 1e-12) -> None:
    assert len(a) == len(b)
    for x, t in zip(a, b):
        assert isinstance(t, torch.Tensor) and t.dtype == torch.float64
        np.testing.assert_allclose(t.numpy(), x, rtol=0, atol=atol)


@pytest.mark.parametrize("seed", range(6))
def test_backprop_on_torch_tensors_is_numpys(seed: int) -> None:
    layers, cost = random_architecture(seed)
    net, tnet = twins(layers, cost)
    assert_same(net.weights, tnet.weights, atol=0)  # drawn on the host, moved exactly
    X, y = data(net, 7)
    g, tg = net.backprop(X, y), tnet.backprop(torch.tensor(X), y)
    assert_same(g.nabla_w, tg.nabla_w)
    assert_same(g.nabla_b, tg.nabla_b)
    assert_same(g.deltas, tg.deltas)


@pytest.mark.parametrize(("optimizer", "kwargs"), [
    ("sgd", {"eta": 0.05, "lmbda": 0.1}),
    ("sgd", {"eta": 0.05, "momentum": 0.9}),
    ("adam", {"eta": 0.01}),
])  # fmt: skip
def test_fit_on_torch_gives_numpys_weights_to_1e12(optimizer: str, kwargs: dict) -> None:
    """Every layer type, dropout masks included, through a few epochs of fit."""
    layers = [Input((1, 10, 10)), Conv2D(3, 3, padding=1, activation="relu"), MaxPool2D(2),
              Conv2D(2, 2, stride=2, activation="tanh"), AvgPool2D(2, stride=1),
              Dense(8, activation="elu"), Dropout(0.3), Dense(4, activation="softmax")]  # fmt: skip
    net, tnet = twins(layers, "log_likelihood")
    X, y = small_conv_problem(40)
    X = X.astype(np.float64)
    fit = {"epochs": 2, "mini_batch_size": 8, "optimizer": optimizer, "seed": 3, **kwargs}
    h = net.fit(X, y, validation_data=(X[:10], y[:10]), **fit)
    th = tnet.fit(X, y, validation_data=(X[:10], y[:10]), **fit)
    assert_same(net.weights, tnet.weights)
    assert_same(net.biases, tnet.biases)
    np.testing.assert_allclose(th.training_cost, h.training_cost, rtol=1e-12)
    assert th.validation_accuracy == h.validation_accuracy
    assert np.array_equal(tnet.predict(X), net.predict(X))
    assert abs(tnet.cost(X, y) - net.cost(X, y)) < 1e-12


def test_images_as_torch_tensors_and_to_and_back() -> None:
    layers = parse("conv(2,3,relu) pool(2) dense(4,softmax)", (1, 10, 10), 4)
    net = nm.Network(layers, cost="log_likelihood", seed=0, dtype="float64")
    X, _ = small_conv_problem(12)
    A = net.feedforward(X.astype(np.float64))
    net.to("torch")
    assert "backend='torch'" in repr(net)
    assert all(isinstance(W, torch.Tensor) for W in net.weights)
    assert all(isinstance(layer.W, torch.Tensor) for layer in net.parametrized)
    tA = net.feedforward(torch.tensor(X, dtype=torch.float64))  # (m, C, H, W) tensors
    np.testing.assert_allclose(to_numpy(tA), A, rtol=0, atol=1e-14)
    net.to("numpy")
    assert all(type(layer.W) is np.ndarray for layer in net.parametrized)
    np.testing.assert_allclose(net.feedforward(X.astype(np.float64)), A, rtol=0, atol=1e-14)


def test_float32_on_torch_trains_too() -> None:
    X, y = small_conv_problem(60)
    tnet = nm.Network(parse("conv(4,3,relu) pool(2) dense(4,softmax)", (1, 10, 10), 4),
                      cost="log_likelihood", init="he", seed=0, backend="torch")  # fmt: skip
    before = tnet.cost(X, y)
    tnet.fit(X, y, epochs=3, eta=0.1, seed=0)
    assert tnet.weights[0].dtype == torch.float32 and tnet.cost(X, y) < 0.7 * before


def test_cupy_without_cupy_or_a_gpu_says_so() -> None:
    layers = [Input((1, 6, 6)), Conv2D(2, 3), Dense(2, "softmax")]
    with pytest.raises((ImportError, ValueError)) as info:
        nm.Network(layers, cost="log_likelihood", backend="cupy")
    assert "cupy" in str(info.value).lower()
