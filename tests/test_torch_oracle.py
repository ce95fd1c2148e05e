"""Full-network gradients against PyTorch autograd on random architectures (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm

torch = pytest.importorskip(
    "torch", reason="PyTorch is the autograd oracle: pip install torch==2.13.0"
)

TORCH_ACT = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
    "elu": lambda z: torch.nn.functional.elu(z, 1.0),
    "identity": lambda z: z,
    "softmax": lambda z: torch.softmax(z, dim=0),  # columns are examples
}


def torch_cost(name: str, a, y):
    m = a.shape[1]
    if name == "quadratic":
        return 0.5 * ((a - y) ** 2).sum() / m
    if name == "cross_entropy":
        return -(y * torch.log(a) + (1 - y) * torch.log(1 - a)).sum() / m
    return -(y * torch.log(a)).sum() / m


CASES = [
    ("sigmoid", "sigmoid", "quadratic"),
    ("tanh", "sigmoid", "cross_entropy"),
    ("relu", "softmax", "log_likelihood"),
    ("leaky_relu", "softmax", "quadratic"),
    ("elu", "sigmoid", "cross_entropy"),
    ("identity", "softmax", "cross_entropy"),
    ("tanh", "identity", "quadratic"),
    ("relu", "sigmoid", "log_likelihood"),
]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("hidden", "output", "cost"), CASES)
def test_gradients_equal_autograd(hidden: str, output: str, cost: str, seed: int) -> None:
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

    Ws = [torch.tensor(W, requires_grad=True) for W in net.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in net.biases]
    a = torch.tensor(X.T)
    for W, b, act in zip(Ws, bs, [hidden] * (depth - 1) + [output]):
        a = TORCH_ACT[act](W @ a + b[:, None])
    C = torch_cost(cost, a, torch.tensor(Y.T))
    C.backward()
    assert float(C.detach()) == pytest.approx(net.cost(X, Y), rel=1e-12)
    for l in range(depth):
        np.testing.assert_allclose(g.nabla_w[l], Ws[l].grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(g.nabla_b[l], bs[l].grad.numpy(), rtol=1e-9, atol=1e-12)
