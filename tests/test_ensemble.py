"""Tests of nnmath.ensemble: networks voting on each example's class (Nielsen, chapter 6)."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from nnmath.data import load_digits
from nnmath.ensemble import Ensemble, majority_vote


def constant_net(biases, n_inputs=2, **kwargs):
    """A net whose output is σ(b) whatever the input (W = 0): a vote fixed by hand."""
    net = nm.Network([n_inputs, len(biases)], dtype="float64", **kwargs)
    net.set_parameters([np.zeros((len(biases), n_inputs))], [np.asarray(biases, float)])
    return net


@pytest.fixture(scope="module")
def digits_nets():
    data = load_digits()
    nets = []
    for seed in range(3):
        net = nm.Network([64, 20, 10], cost="cross_entropy", init="scaled_normal", seed=seed)
        net.fit(*data.train, epochs=3, mini_batch_size=10, eta=0.5, seed=seed)
        nets.append(net)
    return data, nets


def test_majority_vote_by_hand():
    labels = np.array([[0, 1, 2, 0], [0, 2, 2, 1], [1, 2, 0, 2]])  # 3 nets, 4 examples
    scores = np.array([[0, 0, 0], [0, 0, 0], [0, 0, 0], [0.1, 0.3, 0.2]])
    # 2 votes for 0; 2 for 2; 2 for 2; a three-way tie that the scores break for class 1
    assert majority_vote(labels, scores).tolist() == [0, 2, 2, 1]
    tie = majority_vote(np.array([[2], [1]]), np.zeros((1, 3)))
    assert tie.tolist() == [1]  # equal scores: the lowest class index


def test_a_hand_built_vote():
    X = np.zeros((3, 2))
    two_for_one = Ensemble(
        [constant_net([3, -3, -3]), constant_net([-3, 3, -3]), constant_net([-3, 2, -3])]
    )
    assert two_for_one.predict(X).tolist() == [1, 1, 1]
    a, b = constant_net([5.0, -5, -5]), constant_net([-5, -5, 4.0])
    assert Ensemble([a, b]).predict(X).tolist() == [0] * 3  # a tie: σ(5) > σ(4) breaks it
    c = constant_net([-5, -5, 5.0])  # σ(5) + σ(−5) for classes 0 and 2: the lowest wins
    assert Ensemble([a, c]).predict(X).tolist() == Ensemble([c, a]).predict(X).tolist() == [0] * 3
    assert Ensemble([a, b]).accuracy(X, [0, 0, 2]) == pytest.approx(2 / 3)
    assert Ensemble([a, b]).accuracy(X, np.eye(3)[[0, 1, 0]]) == pytest.approx(2 / 3)


def test_sigmoid_classifiers_of_one_output_vote_on_two_classes():
    X = np.zeros((2, 2))
    yes, no = constant_net([2.0]), constant_net([-1.0])
    assert Ensemble([yes, yes, no]).predict(X).tolist() == [1, 1]
    assert Ensemble([yes, no]).predict(X).tolist() == [1, 1]  # σ(2) − ½ > ½ − σ(−1)
    assert Ensemble([constant_net([0.5]), no]).predict(X).tolist() == [0, 0]  # σ(½) + σ(−1) < 1


def test_trained_nets_vote_and_average(digits_nets):
    data, nets = digits_nets
    X, y = data.test
    ensemble = nm.Ensemble(nets)
    assert len(ensemble) == 3 and "3 nets, 64 inputs, 10 outputs" in repr(ensemble)
    mean = np.mean([net.feedforward(X) for net in nets], axis=0)
    assert ensemble.feedforward(X).shape == (len(y), 10)
    np.testing.assert_allclose(ensemble.feedforward(X), mean, rtol=1e-6)
    labels = np.stack([net.predict(X) for net in nets])
    votes = np.stack([np.bincount(col, minlength=10) for col in labels.T])
    predicted = ensemble.predict(X)
    assert predicted.dtype == np.int64 and predicted.shape == y.shape
    assert (votes[np.arange(len(y)), predicted] == votes.max(axis=1)).all()  # a most-voted class
    majority = votes.max(axis=1) >= 2
    assert np.array_equal(predicted[majority], votes.argmax(axis=1)[majority])
    accuracies = [net.accuracy(X, y) for net in nets]
    assert ensemble.accuracy(X, y) == pytest.approx(np.mean(predicted == y))
    assert ensemble.accuracy(X, y) >= min(accuracies) and min(accuracies) > 0.8
    assert ensemble.predict(X[0]).shape == (1,)  # one example as a vector


def test_bad_ensembles_say_what_to_do():
    with pytest.raises(ValueError, match="at least one network"):
        Ensemble([])
    with pytest.raises(ValueError, match=r"same inputs and outputs.*\(2, 3\), \(4, 3\)"):
        Ensemble([constant_net([0, 0, 0]), constant_net([0, 0, 0], n_inputs=4)])
    with pytest.raises(ValueError, match=r"\(2, 3\), \(2, 2\)"):
        Ensemble([constant_net([0, 0, 0]), constant_net([0, 0])])
    regressor = constant_net([0.5], output_activation="identity")
    with pytest.raises(ValueError, match="average a regressor's outputs with Ensemble.feedforward"):
        Ensemble([regressor, regressor]).predict(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="X has 5 features"):
        Ensemble([constant_net([0, 0])]).predict(np.zeros((1, 5)))
    with pytest.raises(ValueError, match="X has 1 rows but y has 2"):
        Ensemble([constant_net([0, 0])]).accuracy(np.zeros((1, 2)), [0, 1])
