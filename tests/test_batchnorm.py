"""BatchNorm and LayerNorm against torch: several steps of ``fit`` equal torch.optim on the
``to_torch`` copy in ``train()`` mode (weights and running statistics), then ``eval()``
predictions equal ``predict``; the inference pass's backward; the shorthand and refusals."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from nnmath.layers import (
    Activation,
    BatchNorm,
    Conv2D,
    Dense,
    Input,
    LayerNorm,
    MaxPool2D,
)
from nnmath.optim import get_optimizer

torch = pytest.importorskip("torch", reason="PyTorch is the oracle: pip install torch==2.13.0")
nn = torch.nn


def dense_bn() -> nm.Network:
    layers = [Input(6), Dense(8, "tanh", batch_norm=True), Dense(5, "relu", batch_norm=True)]
    layers.append(Dense(3, "softmax"))
    return nm.Network(layers, cost="log_likelihood", init="he", seed=0, dtype="float64")


def conv_bn() -> nm.Network:
    layers = [
        Input((2, 7, 7)),
        Conv2D(3, 3, activation="identity"),
        BatchNorm(momentum=0.3),
        Activation("relu"),
        MaxPool2D(2),
        Dense(6, "elu"),
        LayerNorm(),
        Dense(3, "softmax"),
    ]
    return nm.Network(layers, cost="log_likelihood", init="he", seed=1, dtype="float64")


NETS = {"dense": dense_bn, "conv": conv_bn}
OPTIMIZERS = {
    "momentum": {"optimizer": "sgd", "eta": 0.1, "momentum": 0.9, "lmbda": 0.5},
    "adam": {"optimizer": "adam", "eta": 0.01},
}


def data(net: nm.Network, n: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = 2.0 * rng.standard_normal((n, *net.layers[0].shape)) + 0.5  # μ ≠ 0, σ ≠ 1
    return X, rng.integers(0, net.n_outputs, n)


def torch_fit(net: nm.Network, X: np.ndarray, y: np.ndarray, opt: dict, epochs: int) -> object:
    """The ``to_torch`` copy of ``net`` trained by torch.optim on fit's mini-batches (fit's
    generator gives each epoch's permutation), in ``train()`` mode."""
    model = nm.to_torch(net).train()
    hyper = {k: v for k, v in opt.items() if k != "optimizer"}
    twin_of = get_optimizer(opt["optimizer"], n=len(X), **hyper)
    params = [mod for mod in model if getattr(mod, "weight", None) is not None]
    twin = twin_of.torch_optimizer([p.weight for p in params], [p.bias for p in params])
    rng = np.random.default_rng(7)  # fit(seed=7)'s generator
    Y = np.eye(net.n_outputs)[y]
    for _ in range(epochs):
        perm = rng.permutation(len(X))
        for k in range(0, len(X), 10):
            idx = perm[k : k + 10]
            twin.zero_grad()
            a = model(torch.from_numpy(X[idx]))
            (-(torch.from_numpy(Y[idx]) * torch.log(a)).sum() / len(idx)).backward()
            twin.step()
    return model


@pytest.mark.parametrize("opt", OPTIMIZERS.values(), ids=OPTIMIZERS)
@pytest.mark.parametrize("kind", NETS)
def test_several_fit_steps_equal_torch_optim_with_running_statistics(kind, opt) -> None:
    net = NETS[kind]()
    X, y = data(net, 40)
    model = torch_fit(net, X, y, opt, epochs=3)  # from the same start: built before fit
    net.fit(X, y, epochs=3, mini_batch_size=10, seed=7, **opt)
    params = [mod for mod in model if getattr(mod, "weight", None) is not None]
    assert len(params) == len(net.weights)
    # 1e-9, not 1e-12: a bias right before a BatchNorm has ∂C/∂b = 0 up to rounding, which
    # Adam's η g/(√v + ε) turns into steps of ~1e-10 that differ between the two libraries
    # (and the running mean, which that bias shifts, carries them)
    for mod, W, b in zip(params, net.weights, net.biases):
        np.testing.assert_allclose(W, mod.weight.detach().numpy(), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(b, mod.bias.detach().numpy(), rtol=1e-9, atol=1e-9)
    norms = [mod for mod in model if isinstance(mod, nn.BatchNorm1d | nn.BatchNorm2d)]
    assert len(norms) == len(net.stateful) > 0
    for mod, layer in zip(norms, net.stateful):
        assert mod.momentum == layer.momentum and mod.eps == layer.eps
        for name in ("running_mean", "running_var"):
            theirs = getattr(mod, name).numpy()
            np.testing.assert_allclose(layer.state()[name], theirs, rtol=1e-9, atol=1e-9)
            assert not np.allclose(theirs, 0.0 if name == "running_mean" else 1.0)  # moved
    Xt, _ = data(net, 25, seed=3)
    with torch.no_grad():
        out = model.eval()(torch.from_numpy(Xt)).numpy()  # eval(): the running statistics
    np.testing.assert_allclose(net.feedforward(Xt), out, rtol=1e-9, atol=1e-12)
    assert np.array_equal(net.predict(Xt), out.argmax(axis=1))


def test_the_running_statistics_follow_torchs_update_step_by_step() -> None:
    """One training pass of BatchNorm2d and of our layer, three times: the same running
    mean and the unbiased running variance (M = m·H·W values per channel)."""
    layer = BatchNorm(momentum=0.25)
    layer.build((3, 4, 5), "he", np.random.default_rng(0), np.float64)
    module = nn.BatchNorm2d(3, momentum=0.25, dtype=torch.float64).train()
    rng = np.random.default_rng(1)
    for _ in range(3):
        a = rng.standard_normal((3, 4, 5, 6)) * 3 + 1
        cache = layer.forward(a, training=True)
        layer.update_state(cache)
        with torch.no_grad():
            out = module(torch.from_numpy(np.moveaxis(a, -1, 0).copy()))
        np.testing.assert_allclose(np.moveaxis(cache.a, -1, 0), out.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.running_mean, module.running_mean.numpy(), atol=1e-14)
    np.testing.assert_allclose(layer.running_var, module.running_var.numpy(), atol=1e-14)
    before = layer.state()
    layer.update_state(layer.forward(a))  # an inference pass measures nothing
    assert layer.state() == before


@pytest.mark.parametrize("shape", [(4,), (2, 3, 3)])
def test_the_inference_pass_backward_matches_central_differences(shape) -> None:
    rng = np.random.default_rng(0)
    layer = BatchNorm()
    layer.build(shape, "he", rng, np.float64)
    C = shape[0]
    layer.W, layer.b = rng.standard_normal(C), rng.standard_normal(C)
    layer.set_state({"running_mean": rng.standard_normal(C), "running_var": rng.random(C) + 0.5})
    a = rng.standard_normal((*shape, 3))
    R = rng.standard_normal(a.shape)
    cache = layer.forward(a)  # inference: γ (a − running_mean)/√(running_var + ε) + β
    back = layer.backward(R, cache)
    eps, flat = 1e-6, a.reshape(-1)
    for j in range(flat.size):
        old = flat[j]
        flat[j] = old + eps
        up = np.sum(R * layer.forward(a).a)
        flat[j] = old - eps
        down = np.sum(R * layer.forward(a).a)
        flat[j] = old
        assert back.g.reshape(-1)[j] == pytest.approx((up - down) / (2 * eps), rel=1e-6)


def test_dense_with_batch_norm_is_dense_identity_batchnorm_activation() -> None:
    net = nm.Network([Input(5), Dense(4, "relu", batch_norm=True), Dense(2, "softmax")],
                     cost="log_likelihood", seed=0)  # fmt: skip
    assert [repr(layer) for layer in net.layers[1:]] == [
        "Dense(4, activation='identity')", "BatchNorm()", "Activation('relu')",
        "Dense(2, activation='softmax')",
    ]  # fmt: skip
    assert np.array_equal(net.layers[2].W, np.ones(4)) and not net.layers[2].b.any()
    assert "identity" in nm.activations.ACTIVATIONS


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: BatchNorm(momentum=1.5), "momentum"),
        (lambda: BatchNorm(eps=0), "eps"),
        (lambda: BatchNorm(momentum=True), "momentum"),
        (lambda: LayerNorm(eps=-1.0), "eps"),
        (lambda: Dense(3, batch_norm=0.5), "batch_norm"),
    ],
)
def test_bad_arguments_say_what_they_must_be(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_a_training_pass_of_one_example_is_refused_as_torch_refuses_it() -> None:
    net = nm.Network([Input(3), Dense(4, "relu", batch_norm=True), Dense(2, "softmax")],
                     cost="log_likelihood", seed=0, dtype="float64")  # fmt: skip
    X, y = np.ones((11, 3)), np.arange(11) % 2
    with pytest.raises(ValueError, match="more than one value per unit.*mini_batch_size"):
        net.fit(X, y, epochs=1, mini_batch_size=10, eta=0.1)  # a last mini-batch of 1
    assert net.predict(X[:1]).shape == (1,)  # inference of one example is fine
    with pytest.raises(ValueError, match="units \\(n,\\) or images"):
        BatchNorm().build((2, 3), "he", np.random.default_rng(0), np.float64)


def test_from_torch_reads_normalisations_built_and_trained_in_torch() -> None:
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3, momentum=0.2), nn.ReLU(), nn.Flatten(),
        nn.Linear(48, 5), nn.BatchNorm1d(5, eps=1e-3), nn.Tanh(), nn.LayerNorm(5),
        nn.Linear(5, 3), nn.Softmax(dim=1),
    ).double()  # fmt: skip
    with torch.no_grad():
        for _ in range(3):  # train() passes: the running statistics move
            module(torch.randn(8, 2, 6, 6, dtype=torch.float64) * 2 + 1)
    net = nm.from_torch(module, input_shape=(2, 6, 6))
    assert [repr(layer) for layer in net.layers[1:]] == [
        "Conv2D(3, 3, activation='identity')", "BatchNorm(momentum=0.2)", "Activation('relu')",
        "Flatten()", "Dense(5, activation='identity')", "BatchNorm(eps=0.001)",
        "Activation('tanh')", "LayerNorm()", "Dense(3, activation='softmax')",
    ]  # fmt: skip
    np.testing.assert_array_equal(net.layers[2].running_var, module[1].running_var.numpy())
    X = torch.randn(7, 2, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        expected = module.eval()(X).numpy()
    np.testing.assert_allclose(net.feedforward(X.numpy()), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (lambda: nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3, momentum=None), nn.Sigmoid()),
         "momentum must be a number"),
        (lambda: nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3, affine=False), nn.Sigmoid()),
         "affine"),
        (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm1d(2), nn.Flatten(),
                               nn.Linear(8, 2), nn.Sigmoid()), "BatchNorm1d after a layer"),
        (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.LayerNorm(2), nn.Flatten(),
                               nn.Linear(8, 2), nn.Sigmoid()), "LayerNorm layer 1 takes"),
    ],
)  # fmt: skip
def test_from_torch_refuses_normalisations_nnmath_does_not_have(module, message) -> None:
    with pytest.raises(ValueError, match=message):
        nm.from_torch(module(), input_shape=(1, 4, 4) if "Conv" in repr(module()) else None)
