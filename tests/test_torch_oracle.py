"""Full-network gradients against PyTorch autograd on random architectures (float64).

PyTorch's side is built from its own ``torch.nn`` modules, through :func:`nnmath.to_torch`'s
table (``nnmath.io.torch.TORCH_ACTIVATIONS``), for every activation of the registry as a
hidden layer and with each cost: a new registry entry is checked against autograd without
an edit here.
"""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from conftest import ACTIVATION_NAMES, COST_NAMES

torch = pytest.importorskip(
    "torch", reason="PyTorch is the autograd oracle: pip install torch==2.13.0"
)


def torch_cost(name: str, a, y):
    m = a.shape[1]
    if name == "quadratic":
        return 0.5 * ((a - y) ** 2).sum() / m
    if name == "cross_entropy":
        return -(y * torch.log(a) + (1 - y) * torch.log(1 - a)).sum() / m
    return -(y * torch.log(a)).sum() / m


CASES = [  # hidden σ, output σ, cost: hand-picked pairs, then every σ of the registry
    ("sigmoid", "sigmoid", "quadratic"),
    ("tanh", "sigmoid", "cross_entropy"),
    ("relu", "softmax", "log_likelihood"),
    ("leaky_relu", "softmax", "quadratic"),
    ("elu", "sigmoid", "cross_entropy"),
    ("identity", "softmax", "cross_entropy"),
    ("tanh", "identity", "quadratic"),
    ("relu", "sigmoid", "log_likelihood"),
] + [(hidden, None, cost) for hidden in ACTIVATION_NAMES for cost in COST_NAMES]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("hidden", "output", "cost"), CASES)
def test_gradients_equal_autograd(hidden: str, output: str | None, cost: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(2, 6))
    sizes = [int(s) for s in rng.integers(2, 9, size=depth)] + [4]
    net = nm.Network(
        sizes,
        activation=hidden,
        output_activation=output,
        cost=cost,
        init="glorot",
        seed=seed,
        dtype="float64",
    )
    m = 7
    X = rng.normal(size=(m, sizes[0]))
    Y = np.eye(4)[rng.integers(0, 4, m)]
    g = net.backprop(X, Y)

    model = nm.to_torch(net)  # Linear, σ, Linear, σ, ... of torch.nn, examples as rows
    a = model(torch.tensor(X))
    C = torch_cost(cost, a.T, torch.tensor(Y.T))
    C.backward()
    assert float(C.detach()) == pytest.approx(net.cost(X, Y), rel=1e-12)
    linears = [layer for layer in model if isinstance(layer, torch.nn.Linear)]
    for l, linear in enumerate(linears):
        np.testing.assert_allclose(g.nabla_w[l], linear.weight.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(g.nabla_b[l], linear.bias.grad.numpy(), rtol=1e-9, atol=1e-12)
