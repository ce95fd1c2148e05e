"""Each optimizer's one step against its formula; Nielsen's L2 weight-decay form; every
optimizer of the registry against its ``torch.optim`` twin, step for step."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from nnmath.optim import OPTIMIZERS, get_optimizer

# every registry entry with its defaults, and SGD's momentum variants (a new entry is tested
# without an edit)
VARIANTS = [(name, {}) for name in sorted(OPTIMIZERS)] + [
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.5, "nesterov": True}),
]


@pytest.fixture
def setup():
    net = nm.Network([3, 4, 2], seed=0, dtype="float64")
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 2, 5)
    return net, net.backprop(X, y)


def test_plain_sgd_step(setup) -> None:
    net, g = setup
    W0, b0 = net.copy_parameters()
    nm.SGD(eta=0.5).step(net, g)
    for l in range(2):
        np.testing.assert_allclose(net.weights[l], W0[l] - 0.5 * g.nabla_w[l])
        np.testing.assert_allclose(net.biases[l], b0[l] - 0.5 * g.nabla_b[l])


def test_l2_in_nielsens_weight_decay_form(setup) -> None:
    net, g = setup
    W0, b0 = net.copy_parameters()
    eta, lmbda, n = 0.5, 5.0, 1000
    nm.SGD(eta=eta, lmbda=lmbda, n=n).step(net, g)
    for l in range(2):
        expected = (1 - eta * lmbda / n) * W0[l] - eta * g.nabla_w[l]  # w → (1 − ηλ/n) w − η∇C
        np.testing.assert_allclose(net.weights[l], expected)
        np.testing.assert_allclose(net.biases[l], b0[l] - eta * g.nabla_b[l])  # no decay on b


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_two_steps(setup, nesterov: bool) -> None:
    net, g = setup
    W0, _ = net.copy_parameters()
    eta, mu, lmbda, n = 0.1, 0.9, 2.0, 100
    opt = nm.SGD(eta=eta, momentum=mu, nesterov=nesterov, lmbda=lmbda, n=n)
    opt.step(net, g)
    opt.step(net, g)
    W = W0[0].copy()
    v = np.zeros_like(W)
    for _ in range(2):
        grad = g.nabla_w[0] + lmbda / n * W
        v = mu * v - eta * grad
        W = W + (mu * v - eta * grad if nesterov else v)
    np.testing.assert_allclose(net.weights[0], W, rtol=1e-12)
    np.testing.assert_allclose(opt.state["velocity_w"][0], v, rtol=1e-12)


def test_adam_two_steps_against_the_textbook_formula(setup) -> None:
    net, g = setup
    W0, b0 = net.copy_parameters()
    eta, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    opt = nm.Adam(eta=eta, beta1=b1, beta2=b2, epsilon=eps)
    opt.step(net, g)
    opt.step(net, g)
    pairs = ((W0[1], g.nabla_w[1], net.weights[1]), (b0[0], g.nabla_b[0], net.biases[0]))
    for p0, grad, p in pairs:
        m = v = 0 * p0
        for t in (1, 2):
            m = b1 * m + (1 - b1) * grad
            v = b2 * v + (1 - b2) * grad**2
            p0 = p0 - eta * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        np.testing.assert_allclose(p, p0, rtol=1e-10)
    assert opt.state["t"] == 2


def test_state_round_trips_through_flat_arrays(setup) -> None:
    net, g = setup
    opt = nm.Adam(eta=0.01)
    opt.step(net, g)
    flat = opt.state_arrays()
    assert {"m_w.0", "m_w.1", "v_b.1", "t"} <= set(flat)
    other = nm.Adam(eta=0.01)
    other.load_state_arrays(flat)
    assert other.state["t"] == 1
    np.testing.assert_array_equal(other.state["m_w"][1], opt.state["m_w"][1])


def test_optimizer_errors() -> None:
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'.*adam"):
        get_optimizer("lbfgs", eta=0.1)
    with pytest.raises(ValueError, match="eta"):
        nm.SGD(eta=0.0)
    with pytest.raises(ValueError, match="momentum"):
        nm.SGD(eta=0.1, momentum=1.5)
    with pytest.raises(ValueError, match="does not take momentum"):
        get_optimizer("adam", eta=0.1, momentum=0.9)
    assert isinstance(get_optimizer("adam", eta=0.1, momentum=0.0), nm.Adam)


@pytest.mark.parametrize("name, hyper", VARIANTS)
def test_every_optimizer_matches_its_torch_twin(name: str, hyper: dict) -> None:
    """Six steps on the same gradients, L2 included: nnmath's update equals torch.optim's
    (float64, to rounding); the optimizer declares its twin (``torch_optimizer``)."""
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle: pip install torch==2.13.0")
    net = nm.Network([3, 4, 2], seed=0, dtype="float64")
    opt = get_optimizer(name, eta=0.05, lmbda=0.3, n=7, **hyper)
    weights = [torch.tensor(W.copy(), requires_grad=True) for W in net.weights]
    biases = [torch.tensor(b.copy(), requires_grad=True) for b in net.biases]
    twin = opt.torch_optimizer(weights, biases)
    assert twin is not None, f"optimizer {name!r} declares no torch twin"
    rng = np.random.default_rng(3)
    for _ in range(6):
        nabla_w = [rng.normal(size=W.shape) for W in net.weights]
        nabla_b = [rng.normal(size=b.shape) for b in net.biases]
        opt.step(net, nm.Gradients(nabla_w, nabla_b))
        for p, g in zip(weights + biases, nabla_w + nabla_b):
            p.grad = torch.tensor(g)
        twin.step()
    for ours, theirs in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
