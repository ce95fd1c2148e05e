"""Bad input gets a clear error that names the problem."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm


@pytest.fixture
def net() -> nm.Network:
    return nm.Network([4, 3, 3], seed=0)


def test_wrong_feature_count(net) -> None:
    with pytest.raises(ValueError, match=r"X has 5 features, the network expects 4 \(sizes\[0\]\)"):
        net.feedforward(np.zeros((2, 5)))


def test_wrong_dimensions_and_types(net) -> None:
    with pytest.raises(ValueError, match="2-D"):
        net.feedforward(np.zeros((2, 2, 4)))
    with pytest.raises(TypeError, match="numeric"):
        net.feedforward([["a", "b", "c", "d"]])


def test_nan_and_inf_in_X(net) -> None:
    X = np.zeros((3, 4))
    X[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.backprop(X, [0, 1, 2])
    X[1, 2] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.fit(X, [0, 1, 2], epochs=1)


def test_mismatched_lengths_and_bad_labels(net) -> None:
    X = np.zeros((3, 4))
    with pytest.raises(ValueError, match="X has 3 rows but Y has 2"):
        net.backprop(X, [0, 1])
    with pytest.raises(ValueError, match=r"labels out of range.*0\.\.2"):
        net.backprop(X, [0, 1, 3])
    with pytest.raises(ValueError, match="labels out of range"):
        net.accuracy(X, [0, -1, 2])
    with pytest.raises(ValueError, match="integer class labels"):
        net.backprop(X, [0.5, 1, 2])
    with pytest.raises(ValueError, match=r"expected \(3, 3\) one-hot rows"):
        net.backprop(X, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="Y contains NaN"):
        net.backprop(X, np.full((3, 3), np.nan))


def test_integer_labels_become_one_hot(net) -> None:
    X = np.random.default_rng(0).normal(size=(3, 4))
    g1 = net.backprop(X, [0, 2, 1])
    g2 = net.backprop(X, np.eye(3)[[0, 2, 1]])
    np.testing.assert_array_equal(g1.nabla_w[0], g2.nabla_w[0])


def test_single_output_regression_targets() -> None:
    net = nm.Network([2, 3, 1], activation="tanh", output_activation="identity", seed=0)
    X = np.ones((4, 2))
    g = net.backprop(X, np.array([0.5, 1.5, -2.0, 0.0]))
    assert g.nabla_w[1].shape == (1, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(sizes=[784]), "at least 2 layers"),
        (dict(sizes=[784, 0, 10]), "positive"),
        (dict(sizes=[784, -3, 10]), "positive"),
        (dict(sizes=[784, 2.5, 10]), "integers"),
        (
            dict(sizes=[4, 3], activation="no_such_sigma"),
            r"unknown activation 'no_such_sigma'.*\['elu'",
        ),
        (dict(sizes=[4, 3], cost="hinge"), r"unknown cost 'hinge'.*cross_entropy"),
        (dict(sizes=[4, 3], init="xavier"), r"unknown init 'xavier'.*glorot"),
        (dict(sizes=[4, 3], dtype="float16"), "unknown dtype"),
        (dict(sizes=[4, 3, 3, 2], activation=["relu"]), "activation list has 1 entries"),
        (dict(sizes=[4, 3, 3, 2], activation=["relu", "tanh"]), "also pass output_activation"),
    ],
)
def test_constructor_errors(kwargs, match) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        nm.Network(**kwargs)
