"""to_torch / from_torch for networks of layers: the same outputs on random architectures
from the layers' EXAMPLES, exact round trips, and one full fit step equal to torch.optim's
on the to_torch copy (float64), Dropout masks included."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from layer_architectures import images, random_network
from nnmath.io.layer_file import torch_positions
from nnmath.layers import LAYERS, Conv2D, Dense, Dropout, Input, MaxPool2D, Residual
from nnmath.optim import get_optimizer

torch = pytest.importorskip("torch", reason="PyTorch is the oracle: pip install torch==2.13.0")
nn = torch.nn


def test_every_layer_type_but_the_input_declares_its_module() -> None:
    for cls in LAYERS.values():
        # a Residual's module is nnmath's own (nnmath.io.torch.ResidualBlock), not torch.nn's
        assert (cls.torch is None) == (cls in (Input, Residual)), cls
        if cls.torch is not None and cls.torch.module is not None:
            assert isinstance(getattr(nn, cls.torch.module), type), cls.torch.module


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_to_torch_gives_the_same_outputs_and_reads_back(seed, dtype) -> None:
    net = random_network(seed, dtype)
    model = nm.to_torch(net).eval()  # eval: Dropout passes everything, as predict does
    X, _ = images(net, 9, seed)
    with torch.no_grad():
        out = model(torch.from_numpy(X)).numpy()  # torch's layout (m, C, H, W)
    tol = 1e-6 if dtype == "float32" else 1e-12
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out, net.feedforward(X), rtol=tol, atol=tol)
    back = nm.from_torch(model, cost=net.cost_name, init=net.init, input_shape=net.layers[0].shape)
    assert back.config() == net.config()
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert np.array_equal(a, b)


def torch_cost(name: str, a, y):
    """The mean cost over the rows of ``a`` (torch's layout), written out for autograd."""
    m = a.shape[0]
    if name == "quadratic":
        return 0.5 * ((a - y) ** 2).sum() / m
    if name == "cross_entropy":
        return -(y * torch.log(a) + (1 - y) * torch.log(1 - a)).sum() / m
    return -(y * torch.log(a)).sum() / m


class Mask(nn.Module):
    """A Dropout module with nnmath's mask (``(m, ...)``): the same units dropped."""

    def __init__(self, mask: np.ndarray) -> None:
        super().__init__()
        self.mask = torch.from_numpy(mask)

    def forward(self, a):
        return a * self.mask


def with_masks(net: nm.Network, model, masks) -> None:
    """Put each Dropout layer's mask (examples last) into the module at its position."""
    for layer, k, mask in zip(net.layers[1:], torch_positions(net.layers), masks):
        if isinstance(layer, Dropout) and mask is not None:
            model[k] = Mask(np.ascontiguousarray(np.moveaxis(mask, -1, 0)))


OPTIMIZERS = [
    {"optimizer": "sgd", "eta": 0.2, "lmbda": 3.0},
    {"optimizer": "sgd", "eta": 0.1, "momentum": 0.9, "lmbda": 1.0},
    {"optimizer": "adam", "eta": 0.01, "lmbda": 0.5},
]


FIXED = {  # besides the random ones: a dense network, and a convolution with dropout twice
    "dense": lambda: nm.Network([6, 5, 3], activation="tanh", output_activation="softmax",
                                cost="log_likelihood", seed=0, dtype="float64"),
    "conv-dropout": lambda: nm.Network(
        [Input((2, 8, 8)), Conv2D(3, 3, activation="relu"), MaxPool2D(2), Dropout(0.5),
         Dense(6, activation="elu"), Dropout(0.3), Dense(3, activation="softmax")],
        cost="log_likelihood", init="he", seed=0, dtype="float64"),
}  # fmt: skip


@pytest.mark.parametrize("seed", [*range(5), *FIXED])
@pytest.mark.parametrize("opt", OPTIMIZERS, ids=["sgd-l2", "momentum", "adam"])
def test_one_fit_step_equals_torch_optim_on_the_to_torch_copy(seed, opt) -> None:
    """The whole step: forward, backprop, L2 and the optimizer's update, on one mini-batch
    of fit (its shuffled order, its dropout masks); a dense network's too."""
    net = FIXED[seed]() if seed in FIXED else random_network(seed, "float64")
    model = nm.to_torch(net)
    m, fit_seed = 6, 7
    X, y = images(net, m, 2)
    rng = np.random.default_rng(fit_seed)  # fit's generator: the permutation, the dropout key
    perm = rng.permutation(m)
    if any(net.dropout):
        with_masks(net, model, net.dropout_masks(int(rng.integers(2**63)), 0, m))
    net.fit(X, y, epochs=1, mini_batch_size=m, seed=fit_seed, fast=False, **opt)

    hyper = {k: v for k, v in opt.items() if k != "optimizer"}
    twin_of = get_optimizer(opt["optimizer"], n=m, **hyper)
    params = [mod for mod in model if getattr(mod, "weight", None) is not None]  # BatchNorm's γ
    twin = twin_of.torch_optimizer([p.weight for p in params], [p.bias for p in params])
    Y = torch.from_numpy(np.eye(net.n_outputs)[y[perm]])
    torch_cost(net.cost_name, model(torch.from_numpy(X[perm])), Y).backward()
    twin.step()
    assert len(params) == len(net.weights)
    # a bias right before a BatchNorm has ∂C/∂b = 0 up to rounding (~1e-17), which Adam's
    # η g/(√v + ε) turns into steps of ~η·1e-17/ε: the two libraries' rounding then differs
    atol_b = 1e-9 if opt["optimizer"] == "adam" else 1e-12
    for mod, W, b in zip(params, net.weights, net.biases):
        np.testing.assert_allclose(W, mod.weight.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(b, mod.bias.detach().numpy(), rtol=1e-12, atol=atol_b)


def test_from_torch_reads_a_module_built_in_torch() -> None:
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 3, (2, 2)),
        nn.AvgPool2d(2, stride=1), nn.Tanh(), nn.Flatten(), nn.Dropout(0.25),
        nn.Linear(12, 5), nn.LeakyReLU(0.1), nn.Linear(5, 3), nn.Softmax(dim=1),
    ).double()  # fmt: skip
    net = nm.from_torch(module, input_shape=(2, 8, 8))
    assert [type(layer).__name__ for layer in net.layers] == [
        "Input", "Conv2D", "MaxPool2D", "Conv2D", "AvgPool2D", "Activation", "Flatten",
        "Dropout", "Dense", "Dense",
    ]  # fmt: skip
    assert net.layers[3].activation.name == "identity" and net.cost_name == "log_likelihood"
    X = torch.randn(5, 2, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        expected = module.eval()(X).numpy()
    np.testing.assert_allclose(net.feedforward(X.numpy()), expected, rtol=1e-12, atol=1e-12)
    # two σ modules in a row: the second is a σ-only layer
    net = nm.from_torch(nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Tanh()))
    assert [repr(layer) for layer in net.layers[1:]] == [
        "Dense(2, activation='relu')", "Activation('tanh')"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "module, kwargs, message",
    [
        (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten()), {}, "input_shape="),
        (lambda: nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2)), {"input_shape": (1, 6, 6)},
         "dilation"),
        (lambda: nn.Sequential(nn.Conv2d(1, 2, (3, 2))), {"input_shape": (1, 6, 6)}, "square"),
        (lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding="same")), {"input_shape": (1, 6, 6)},
         "padding"),
        (lambda: nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.Linear(32, 2), nn.Sigmoid()),
         {"input_shape": (1, 6, 6)}, "Conv2d layer 0 takes 3 inputs"),
        (lambda: nn.Sequential(nn.MaxPool2d(2, ceil_mode=True), nn.Flatten(), nn.Linear(9, 1)),
         {"input_shape": (1, 6, 6)}, "ceil_mode"),
        (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, track_running_stats=False)),
         {"input_shape": (1, 6, 6)}, "track_running_stats"),
        (lambda: nn.Sequential(nn.Conv2d(1, 2, 3)), {"input_shape": (1, 6, 6)},
         "end with a Dense"),
    ],
)  # fmt: skip
def test_from_torch_refuses_what_has_no_layer(module, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        nm.from_torch(module(), **kwargs)
