"""Diagnostics: scalar chain, factor decomposition, gradcheck, gradient tracking, trace."""

from __future__ import annotations

import numpy as np
import pytest

from nnmath import Activation, Network
from nnmath.activations import sigmoid
from nnmath.diagnostics import (
    GradientTracker,
    forward_from,
    gradcheck,
    gradient_norms,
    scalar_chain,
    trace,
    vanishing_factors,
)


@pytest.fixture
def data(rng):
    X = rng.uniform(size=(12, 6))
    y = rng.integers(0, 3, size=12)
    return X, y


# ------------------------------------------------------------------ scalar chain


@pytest.mark.parametrize("L", [4, 8])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_scalar_chain_product_formula_equals_backprop(L, activation):
    chain = scalar_chain(L, activation=activation, seed=3)
    assert chain.by_backprop == pytest.approx(chain.by_product, rel=1e-12)
    assert chain.relative_error < 1e-12
    assert len(chain.sigma_primes) == L and len(chain.weights) == L
    names = [name for name, _ in chain.factors()]
    assert names[0] == "σ'(z_1)" and names[-1] == f"∂C/∂a_{L}"
    assert len(names) == 2 * L  # σ'(z_1), (w_j, σ'(z_j)) for j = 2..L, ∂C/∂a_L
    assert np.prod([v for _, v in chain.factors()]) == pytest.approx(chain.by_product)


def test_scalar_chain_sigmoid_factors_are_bounded_and_it_vanishes():
    chain = scalar_chain(8, activation="sigmoid", seed=0)
    assert all(0 < p <= 0.25 for p in chain.sigma_primes)
    # the lecture's bound: |∂C/∂b_1| ≤ (1/4)^L |w_2 ⋯ w_L| |∂C/∂a_L|
    bound = 0.25**8 * np.prod(np.abs(chain.weights[1:])) * abs(chain.dC_da)
    assert abs(chain.by_backprop) <= bound


def test_scalar_chain_rejects_bad_depth():
    with pytest.raises(ValueError, match="positive integer"):
        scalar_chain(0)


# ------------------------------------------------------------------ factors


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "elu"])
def test_factor_decomposition_multiplies_back_to_the_ratio(activation, data):
    X, y = data
    net = Network(
        [6, 8, 7, 5, 3],
        activation=activation,
        output_activation="sigmoid",
        cost="cross_entropy",
        init="scaled_normal",
        seed=2,
    )
    f = vanishing_factors(net, X, y)
    assert [row.layer for row in f.layers] == [2, 3, 4]
    g = net.backprop(X.astype(np.float32), y)
    m = X.shape[0]
    for i, row in enumerate(f.layers):
        assert row.weight_factor * row.activation_factor == pytest.approx(row.ratio, rel=1e-12)
        # the ratio is the measured one, from the network's own deltas (RMS over examples)
        measured = np.linalg.norm(g.deltas[i]) / np.linalg.norm(g.deltas[i + 1])
        assert row.ratio == pytest.approx(measured, rel=1e-4)
        speed = np.linalg.norm(g.nabla_b[i]) / np.linalg.norm(g.nabla_b[i + 1])
        assert row.speed_ratio == pytest.approx(speed, rel=1e-4)
        assert 0.0 <= row.saturated <= 1.0
        assert row.ratio <= row.ratio_bound * (1 + 1e-9)
        prime = net.activation_functions[i].prime(g.zs[i].astype(np.float64))
        assert row.mean_prime == pytest.approx(float(np.mean(prime)), rel=1e-4)
    assert f.layers[0].max_prime == {"sigmoid": 0.25}.get(activation, 1.0)
    assert len(f.speeds) == 4 and m == 12


def test_sigmoid_activation_factor_below_quarter_and_singular_values(data):
    X, y = data
    net = Network([6, 8, 8, 3], activation="sigmoid", cost="cross_entropy", seed=0)
    f = vanishing_factors(net, X, y, max_jacobian_examples=5)
    assert all(row.activation_factor <= 0.25 for row in f.layers)
    assert f.n_jacobian_examples == 5
    assert f.jacobian_layers == [2, 3, 4]
    # the product J^L ⋯ J^2 of one example, by hand
    net64 = Network(
        [6, 8, 8, 3], activation="sigmoid", cost="cross_entropy", seed=0, dtype="float64"
    )
    zs, _ = net64.forward(X[:5].T)
    svs = []
    for k in range(5):
        P = np.eye(3)
        for W, z in zip(net64.weights[::-1], zs[::-1]):
            s = 1 / (1 + np.exp(-z[:, k]))
            P = P @ (np.diag(s * (1 - s)) @ W)
        svs.append(np.linalg.svd(P, compute_uv=False))
    assert np.allclose(f.product_sv[0], np.mean(svs, axis=0), rtol=1e-5)
    assert f.product_sv[-1] == pytest.approx(f.jacobian_sv[-1])
    assert "weight factor" in f.to_markdown()


def test_relu_saturation_is_fraction_of_nonpositive_z(data):
    X, y = data
    net = Network([6, 10, 10, 3], activation="relu", output_activation="sigmoid", seed=1)
    f = vanishing_factors(net, X, y)
    zs, _ = net.forward(X.astype(np.float32).T)
    assert f.layers[0].saturated == pytest.approx(float(np.mean(zs[0] <= 0)))


# ------------------------------------------------------------------ gradcheck


@pytest.mark.parametrize(
    "activation,output,cost",
    [
        ("sigmoid", "sigmoid", "cross_entropy"),
        ("tanh", "sigmoid", "quadratic"),
        ("elu", "softmax", "log_likelihood"),
        ("leaky_relu", "sigmoid", "cross_entropy"),
    ],
)
def test_gradcheck_small_errors_for_a_correct_network(activation, output, cost, data):
    X, y = data
    net = Network(
        [6, 5, 4, 3],
        activation=activation,
        output_activation=output,
        cost=cost,
        init="scaled_normal",
        seed=4,
    )
    check = gradcheck(net, X, y)
    assert check.ok, check.to_markdown()
    assert check.max_error < 1e-4
    quantities = {(r.quantity, r.layer) for r in check.rows}
    assert ("δ^L", 4) in quantities and ("δ^l", 2) in quantities and ("δ^l", 3) in quantities
    for l in (2, 3, 4):
        assert ("∂C/∂b", l) in quantities and ("∂C/∂w", l) in quantities
    assert "| quantity | layer |" in check.to_markdown()
    assert net.weights[0].dtype == np.float32  # the original is untouched


def test_gradcheck_finds_a_wrong_derivative(data):
    X, y = data

    def wrong_prime(z):  # twice the true σ'
        s = sigmoid(z)
        return 2 * s * (1 - s)

    broken = Activation.from_functions(sigmoid, wrong_prime, name="broken_sigmoid")
    net = Network(
        [6, 5, 4, 3], activation=broken, output_activation="sigmoid", cost="cross_entropy", seed=4
    )
    check = gradcheck(net, X, y)
    assert not check.ok
    assert check.max_error > 0.1
    failed = {(r.quantity, r.layer) for r in check.rows if not r.ok}
    assert ("σ'", 2) in failed and ("δ^l", 2) in failed and ("∂C/∂w", 2) in failed
    # the output layer's σ is the real sigmoid: its own checks pass
    passed = {(r.quantity, r.layer) for r in check.rows if r.ok}
    assert ("σ'", 4) in passed and ("δ^L", 4) in passed


def test_forward_from_layer_matches_forward(data):
    X, _ = data
    net = Network([6, 5, 4, 3], seed=0, dtype="float64")
    zs, acts = net.forward(X.T)
    for l in (2, 3, 4):
        assert np.allclose(forward_from(net, l, zs[l - 2]), acts[-1])
    with pytest.raises(ValueError, match="between 2 and 4"):
        forward_from(net, 5, zs[0])


# ------------------------------------------------------------------ tracking


def test_fit_track_gradients_every_epoch(data):
    X, y = data
    net = Network([6, 5, 4, 3], cost="cross_entropy", seed=0)
    h = net.fit(X, y, epochs=3, mini_batch_size=4, eta=0.5, track_gradients=True)
    rec = h.extra["gradient_norms"]
    assert rec["epoch"] == [0, 1, 2, 3]
    assert rec["step"] == [0, 3, 6, 9]
    assert len(rec["nabla_b"]) == 4 and all(len(row) == 3 for row in rec["nabla_b"])
    # the last entry is the trained network's gradient norms on the same rows
    final = gradient_norms(net, X, y)
    assert rec["nabla_b"][-1] == pytest.approx(final.nabla_b, rel=1e-5)
    assert rec["nabla_w"][-1] == pytest.approx(final.nabla_w, rel=1e-5)


@pytest.mark.parametrize(
    "kwargs", [{"track_gradients": 2}, {"track_gradients": True, "track_every": 2}]
)
def test_fit_track_gradients_every_k_mini_batches(kwargs, data):
    X, y = data
    net = Network([6, 5, 3], cost="cross_entropy", seed=0)
    h = net.fit(X, y, epochs=3, mini_batch_size=4, **kwargs)  # 3 batches an epoch, 9 in all
    rec = h.extra["gradient_norms"]
    assert rec["step"] == [0, 2, 4, 6, 8]
    assert rec["epoch"] == pytest.approx([0, 2 / 3, 4 / 3, 2, 8 / 3])


def test_gradient_tracker_callback_and_subset(data):
    X, y = data
    tracker = GradientTracker(X, y, max_rows=5, key="speeds")
    net = Network([6, 5, 3], seed=0)
    h = net.fit(X, y, epochs=2, mini_batch_size=6, callbacks=[tracker])
    assert len(h.extra["speeds"]["nabla_b"]) == 3
    assert tracker.X.shape == (5, 6)
    assert h.extra["speeds"]["nabla_b"][-1] == pytest.approx(
        gradient_norms(net, X[:5], y[:5]).nabla_b, rel=1e-5
    )
    with pytest.raises(ValueError, match="every"):
        GradientTracker(X, y, every=0)


# ------------------------------------------------------------------ trace


def test_trace_matches_backprop():
    net = Network([2, 3, 2], seed=0)
    x, y = np.array([0.5, 0.1]), np.array([1.0, 0.0])
    t = trace(net, x, y)
    g = net.backprop(x[None, :].astype(np.float32), y[None, :])
    assert [layer.layer for layer in t.layers] == [2, 3]
    for i, layer in enumerate(t.layers):
        assert np.allclose(layer.z, g.zs[i][:, 0], rtol=1e-5)
        assert np.allclose(layer.a, g.activations[i + 1][:, 0], rtol=1e-5)
        assert np.allclose(layer.delta, g.deltas[i][:, 0], rtol=1e-4)
        assert np.allclose(layer.nabla_b, g.nabla_b[i], rtol=1e-4)
        assert np.allclose(layer.nabla_w, g.nabla_w[i], rtol=1e-4)
    # ∂C/∂w^l = δ^l (a^{l−1})ᵀ inside the trace itself
    assert np.allclose(t.layers[1].nabla_w, np.outer(t.layers[1].delta, t.layers[0].a))
    md = t.to_markdown()
    assert "| l | σ | z^l | a^l | δ^l | ∂C/∂b^l | ∂C/∂w^l |" in md
    assert md.count("\n| 2 |") == 1 and md.count("\n| 3 |") == 1
    tex = t.to_latex()
    assert tex.startswith(r"\begin{align*}") and tex.endswith(r"\end{align*}")
    assert r"\delta^{3}" in tex and r"\frac{\partial C}{\partial w^{2}}" in tex
    assert t.cost == pytest.approx(float(net.cost(x[None, :], y[None, :])), rel=1e-5)


def test_tracking_survives_checkpoint_and_resume(tmp_path, data):
    X, y = data
    ck = tmp_path / "run.safetensors"
    Network([6, 5, 3], seed=0).fit(
        X, y, epochs=2, mini_batch_size=6, seed=1, track_gradients=True, checkpoint=ck
    )
    resumed = Network([6, 5, 3], seed=0).fit(
        X, y, epochs=4, mini_batch_size=6, seed=1, track_gradients=True, checkpoint=ck, resume=True
    )
    straight = Network([6, 5, 3], seed=0).fit(
        X, y, epochs=4, mini_batch_size=6, seed=1, track_gradients=True
    )
    a, b = resumed.extra["gradient_norms"], straight.extra["gradient_norms"]
    assert a["epoch"] == b["epoch"] == [0, 1, 2, 3, 4]
    assert a["step"] == b["step"] == [0, 2, 4, 6, 8]
    assert np.allclose(a["nabla_b"], b["nabla_b"], rtol=1e-6)


def test_trace_takes_a_label_as_a_one_element_array():
    net = Network([2, 3, 2], seed=0)
    x = np.array([0.1, 0.2])
    by_int = trace(net, x, 0)
    for label in (np.array([0]), [0], np.array(0)):
        assert trace(net, x, label).to_dict() == by_int.to_dict()
    assert by_int.y == [1.0, 0.0]
    one_output = Network([2, 3, 1], seed=0)  # one output unit: [0.5] is the target itself
    assert trace(one_output, x, np.array([0.5])).y == [0.5]
