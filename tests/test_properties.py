"""Property tests of the mathematics (Hypothesis, derandomized so every run tries the same
cases): the softmax Jacobian, the symmetries of a layer of hidden units, momentum 0 as plain
SGD. ``pytest --hypothesis-show-statistics tests/test_properties.py`` shows what was tried."""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip(
    "hypothesis", reason="property tests need hypothesis (nnmath[test])"
)
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import nnmath as nm  # noqa: E402
from nnmath.activations import softmax, softmax_jacobian  # noqa: E402

#: the same cases on every run, no deadline (the first call of a fit compiles nothing, but a
#: loaded machine must not fail a property)
PROPERTY = settings(derandomize=True, deadline=None, max_examples=200, database=None)
FEW = settings(derandomize=True, deadline=None, max_examples=60, database=None)

finite = st.floats(-30, 30, allow_nan=False, allow_infinity=False, width=64)


@PROPERTY
@given(hnp.arrays(np.float64, st.integers(1, 12), elements=finite))
def test_softmax_jacobian_is_symmetric_and_its_rows_sum_to_zero(z):
    """∂y_i/∂z_j = y_i (δ_ij − y_j): symmetric, and Σ_j ∂y_i/∂z_j = y_i (1 − Σ_j y_j) = 0."""
    J = np.asarray(softmax_jacobian(z[:, None]))
    J = J.reshape(len(z), len(z))
    y = np.asarray(softmax(z[:, None]))[:, 0]
    np.testing.assert_allclose(J, J.T, atol=1e-15)
    np.testing.assert_allclose(J.sum(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(J, np.diag(y) - np.outer(y, y), atol=1e-15)


def _network(sizes, activation, seed):
    return nm.Network(
        sizes,
        activation=activation,
        output_activation="sigmoid",
        dtype="float64",
        init="scaled_normal",
        seed=seed,
    )


layer_sizes = st.lists(st.integers(1, 7), min_size=3, max_size=5)
activations = st.sampled_from(["sigmoid", "tanh", "relu", "elu", "gelu", "softplus"])


@PROPERTY
@given(layer_sizes, activations, st.integers(0, 2**31 - 1), st.data())
def test_permuting_hidden_units_leaves_the_outputs_unchanged(sizes, activation, seed, data):
    """Reorder the units of hidden layer l: the rows of w^l and b^l and the columns of
    w^{l+1} move together, and a^L is the same (the network computes the same function)."""
    net = _network(sizes, activation, seed)
    X = np.random.default_rng(seed).normal(size=(5, sizes[0]))
    before = net.feedforward(X)
    layer = data.draw(st.integers(0, len(sizes) - 3), label="hidden layer (0-based)")
    perm = np.asarray(data.draw(st.permutations(range(sizes[layer + 1])), label="permutation"))
    W, b, W_next = net.weights[layer], net.biases[layer], net.weights[layer + 1]
    W[...], b[...] = W[perm].copy(), b[perm].copy()
    W_next[...] = W_next[:, perm].copy()
    np.testing.assert_allclose(net.feedforward(X), before, rtol=1e-12, atol=1e-14)


@PROPERTY
@given(layer_sizes, st.floats(1e-3, 1e3), st.integers(0, 2**31 - 1), st.data())
def test_scaling_a_relu_layer_by_c_and_the_next_by_1_over_c_leaves_outputs_unchanged(
    sizes, c, seed, data
):
    """ReLU is positively homogeneous, relu(c z) = c relu(z) for c > 0: multiplying w^l and
    b^l by c and w^{l+1} by 1/c leaves z^{l+1}, hence a^L, unchanged."""
    net = _network(sizes, "relu", seed)
    X = np.random.default_rng(seed).normal(size=(5, sizes[0]))
    before = net.feedforward(X)
    layer = data.draw(st.integers(0, len(sizes) - 3), label="hidden layer (0-based)")
    net.weights[layer] *= c
    net.biases[layer] *= c
    net.weights[layer + 1] /= c
    np.testing.assert_allclose(net.feedforward(X), before, rtol=1e-10, atol=1e-12)


def _plain_sgd(net, X, Y, epochs, B, eta, lmbda, seed):
    """The lecture's update, written out: w ← (1 − ηλ/n) w − η ∂C/∂w, b ← b − η ∂C/∂b, over
    the mini-batches of fit's shuffle (one permutation per epoch from ``seed``)."""
    rng, n = np.random.default_rng(seed), X.shape[0]
    for _ in range(epochs):
        perm = rng.permutation(n)
        for k in range(0, n, B):
            idx = perm[k : k + B]
            g = net.backprop_columns(X[idx].T, Y[idx].T)
            for W, b, nw, nb in zip(net.weights, net.biases, g.nabla_w, g.nabla_b):
                W[...] = (1 - eta * lmbda / n) * W - eta * nw
                b[...] = b - eta * nb


@FEW
@given(
    layer_sizes,
    st.integers(1, 9),
    st.floats(1e-3, 3.0),
    st.sampled_from([0.0, 0.1, 5.0]),
    st.integers(0, 2**31 - 1),
    st.booleans(),
)
def test_momentum_zero_is_plain_sgd(sizes, B, eta, lmbda, seed, fast):
    """SGD with momentum μ = 0 (v ← 0·v − η g; w ← w + v) is the plain update, on the
    compiled epoch and on the reference loop."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(23, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], 23)]
    net, ref = _network(sizes, "tanh", seed), _network(sizes, "tanh", seed)
    net.fit(
        X,
        Y,
        epochs=2,
        mini_batch_size=B,
        eta=eta,
        lmbda=lmbda,
        momentum=0.0,
        seed=seed,
        fast=fast,
        monitor="full",
    )
    _plain_sgd(ref, X, Y, 2, B, eta, lmbda, seed)
    for W, W_ref in zip(net.weights + net.biases, ref.weights + ref.biases):
        np.testing.assert_allclose(W, W_ref, rtol=1e-9, atol=1e-12)
