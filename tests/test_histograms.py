"""Histograms of z^l, a^l, δ^l, percentiles of z^l and the update-to-data ratio ‖Δw^l‖/‖w^l‖
(nnmath.diagnostics.histograms, .updates; nnmath.callbacks.Histograms): recorded on the
compiled epoch without changing it, and checked against numbers computed here directly."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from numpy.linalg import norm

import nnmath as nm
from nnmath.callbacks import Callback, Histograms
from nnmath.diagnostics import layer_statistics
from nnmath.diagnostics.histograms import (
    bin_edges,
    count,
    histogram_counts,
    unit_percentiles,
    z_percentiles,
)
from nnmath.diagnostics.updates import probe_step_ratios, update_ratios
from nnmath.engine import c_available
from nnmath.layers import Conv2D, Dense, Input, MaxPool2D

EPOCHS = 2


@pytest.fixture(scope="module")
def digits():
    data = nm.data.load_digits()
    return data.train[0][:300], data.train[1][:300]


def dense(seed: int = 0, dropout: float = 0.0):
    return nm.Network([64, 16, 10], seed=seed, dropout=dropout)


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_compiled_fit_records_and_trains_bit_identically(digits, dropout) -> None:
    X, y = digits
    opts = dict(epochs=EPOCHS, mini_batch_size=10, optimizer="adam", eta=3e-3, seed=0)
    plain, watched = dense(dropout=dropout), dense(dropout=dropout)
    h0 = plain.fit(X, y, **opts)
    h1 = watched.fit(X, y, track_histograms=True, **opts)
    if c_available():
        assert h1.extra["train_path"] == "c"
    for W0, W1 in zip(plain.weights + plain.biases, watched.weights + watched.biases):
        np.testing.assert_array_equal(W0, W1)
    assert h0.training_cost == h1.training_cost
    assert "histograms" not in h0.extra and "update_ratio" not in h0.extra  # opt-in off
    rec = h1.extra["histograms"]
    assert rec["layers"] == [2, 3] and rec["epoch"] == [0, 1, 2]
    stats = layer_statistics(watched, X, y, arrays=True)  # the last entry's forward pass
    for i, layer in enumerate((2, 3)):
        epochs, p = z_percentiles(h1, layer)
        np.testing.assert_array_equal(epochs, [0, 1, 2])
        np.testing.assert_allclose(p[-1], np.percentile(stats.arrays["z"][i], [15, 50, 85]))
        z = stats.arrays["z"][i]
        np.testing.assert_allclose(
            unit_percentiles(h1, layer, 1)[-1], np.percentile(z[1], [15, 50, 85])
        )
        for q in ("z", "a", "delta"):
            _, edges, counts = histogram_counts(h1, q, layer)
            assert counts.shape == (3, 40) and edges.shape == (41,)
            under, over = rec["under"][q][-1][i], rec["over"][q][-1][i]
            assert counts[-1].sum() + under + over == stats.arrays[q][i].size
            assert counts[-1].tolist() == count(stats.arrays[q][i], edges)[0]
    json.dumps(h1.to_dict())  # plain Python throughout


def test_bins_are_fixed_by_the_first_measurement(digits) -> None:
    X, y = digits
    net = dense()
    before = layer_statistics(net, X, y, arrays=True)
    h = net.fit(X, y, epochs=1, mini_batch_size=10, eta=0.5, seed=0, track_histograms=True)
    for i, layer in enumerate((2, 3)):
        for q in ("z", "a", "delta"):
            _, edges, counts = histogram_counts(h, q, layer)
            np.testing.assert_array_equal(edges, bin_edges(before.arrays[q][i], 40))
            assert counts[0].tolist() == count(before.arrays[q][i], edges)[0]
    lo, hi = float(before.arrays["a"][0].min()), float(before.arrays["a"][0].max())
    _, edges, _ = histogram_counts(h, "a", 2)
    assert edges[0] == pytest.approx(lo - (hi - lo) / 2) and edges[-1] == pytest.approx(
        hi + (hi - lo) / 2
    )


def test_step_ratio_is_one_sgd_step_computed_by_hand(digits) -> None:
    X, y = digits
    net = dense()
    eta, B = 0.5, 10
    h = net.fit(X, y, epochs=EPOCHS, mini_batch_size=B, eta=eta, seed=0, track_histograms=True)
    by_hand = []  # one SGD step from the same weights on each of the first 8 mini-batches
    for k in range(0, 8 * B, B):
        g = net.backprop(X[k : k + B], y[k : k + B])
        by_hand.append([eta * norm(nw) / norm(W) for nw, W in zip(g.nabla_w, net.weights)])
    by_hand = np.mean(by_hand, axis=0)
    rec = h.extra["update_ratio"]
    assert rec["epoch"] == [0, 1, 2] and rec["layers"] == [2, 3]
    np.testing.assert_allclose(rec["step"][-1], by_hand, rtol=1e-5)
    assert rec["epoch_change"][0] is None and len(rec["epoch_change"]) == 3


class Recorder(Callback):
    """Keeps the weights after every step and every epoch, for the ratios by hand."""

    def on_train_begin(self, net, history) -> None:
        self.steps = [[np.array(W, dtype=np.float64) for W in net.weights]]
        self.biases = [[np.array(b) for b in net.biases]]
        self.epochs = [self.steps[0]]

    def on_batch_end(self, net, history, epoch, batch, n_batches) -> None:
        self.steps.append([np.array(W, dtype=np.float64) for W in net.weights])
        self.biases.append([np.array(b) for b in net.biases])

    def on_epoch_end(self, net, history, epoch) -> None:
        self.epochs.append([np.array(W, dtype=np.float64) for W in net.weights])


def ratio(before, after):
    return [np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in zip(after, before)]


def test_every_step_and_epoch_change_against_recorded_weights(digits) -> None:
    X, y = digits
    rec_w, probe = Recorder(), Histograms(every_step=True, rows=100)
    h = dense().fit(X, y, epochs=EPOCHS, mini_batch_size=20, eta=0.5, callbacks=[rec_w, probe])
    assert h.extra["train_path"] == "reference"
    rec = h.extra["update_ratio"]
    n_steps = EPOCHS * 300 // 20
    assert len(rec["steps"]) == n_steps and rec["steps_epoch"][-1] == EPOCHS
    by_hand = [ratio(b, a) for b, a in zip(rec_w.steps, rec_w.steps[1:])]
    np.testing.assert_allclose(rec["steps"], by_hand, rtol=1e-12)
    by_epoch = [ratio(b, a) for b, a in zip(rec_w.epochs, rec_w.epochs[1:])]
    np.testing.assert_allclose(rec["epoch_change"][1:], by_epoch, rtol=1e-12)


def test_conv_layer_network(digits) -> None:
    X, y = digits
    net = nm.Network(
        [Input((1, 8, 8)), Conv2D(3, 3, activation="relu"), MaxPool2D(2), Dense(10, "softmax")],
        cost="log-likelihood",
        seed=0,
    )
    h = net.fit(X, y, epochs=1, mini_batch_size=10, eta=0.1, seed=0, track_histograms=True)
    rec = h.extra["histograms"]
    assert rec["layers"] == [2, 5]  # Conv2D, and Dense after the pool and the Flatten
    stats = layer_statistics(net, X, y, arrays=True)
    z = stats.arrays["z"][0]  # (3, 6, 6, m)
    np.testing.assert_allclose(z_percentiles(h, 2)[1][-1], np.percentile(z, [15, 50, 85]))
    np.testing.assert_allclose(
        unit_percentiles(h, 2, 0)[-1], np.percentile(z[0, 0, 0], [15, 50, 85])
    )
    _, edges, counts = histogram_counts(h, "delta", 2)
    assert counts[-1].sum() + rec["under"]["delta"][-1][0] + rec["over"]["delta"][-1][0] == z.size
    ratios = h.extra["update_ratio"]["step"][-1]
    by_hand = []
    for k in range(0, 80, 10):  # the first 8 mini-batches, each from the same weights
        twin, opt = copy.deepcopy(net), nm.optim.SGD(eta=0.1, n=len(X))
        before = [np.array(W) for W in twin.weights]
        opt.step(twin, twin.backprop(X[k : k + 10], y[k : k + 10]))
        by_hand.append(update_ratios(before, twin.weights))
    np.testing.assert_allclose(ratios, np.mean(by_hand, axis=0), rtol=1e-6)


def test_probe_step_leaves_the_network_and_optimizer_alone(digits) -> None:
    X, y = digits
    net, opt = dense(), nm.optim.get_optimizer("adam", eta=1e-3, n=len(X))
    opt.step(net, net.backprop(X[:10], y[:10]))  # a state to keep
    weights = [np.array(W) for W in net.weights]
    state = copy.deepcopy(opt.state)
    assert all(r > 0 for r in probe_step_ratios(net, opt, X[:10], y[:10]))
    for W, W0 in zip(net.weights, weights):
        np.testing.assert_array_equal(W, W0)
    assert opt.state["t"] == state["t"]
    np.testing.assert_array_equal(opt.state["m_w"][0], state["m_w"][0])


def test_checkpoint_keeps_the_records_and_resume_continues_them(digits, tmp_path) -> None:
    X, y = digits
    path = tmp_path / "run.safetensors"
    opts = dict(mini_batch_size=10, eta=0.5, seed=0, track_histograms=True, checkpoint=path)
    dense().fit(X, y, epochs=1, **opts)
    h = dense(seed=1).fit(X, y, epochs=EPOCHS, resume=True, **opts)
    whole = dense().fit(
        X, y, epochs=EPOCHS, mini_batch_size=10, eta=0.5, seed=0, **{"track_histograms": True}
    )
    assert h.extra["histograms"]["epoch"] == [0, 1, 2]
    assert h.extra["histograms"]["counts"] == whole.extra["histograms"]["counts"]
    assert h.extra["update_ratio"]["step"] == whole.extra["update_ratio"]["step"]


def test_reading_what_was_not_recorded_says_what_to_do(digits) -> None:
    X, y = digits
    h = dense().fit(X, y, epochs=1, eta=0.5)
    with pytest.raises(ValueError, match="track_histograms=True"):
        z_percentiles(h, 2)
    h = dense().fit(X, y, epochs=1, eta=0.5, track_histograms=True)
    with pytest.raises(ValueError, match="layers with parameters are 2, 3"):
        z_percentiles(h, 4)
    with pytest.raises(ValueError, match="first 4 were"):
        z_percentiles(h, 2, unit=9)
    with pytest.raises(ValueError, match="positive integer"):
        Histograms(bins=0)


def test_every_k_mini_batches_records_at_fractional_epochs(digits) -> None:
    X, y = digits
    snap = Recorder()
    probe = Histograms(every=10, rows=100)
    h = dense().fit(X, y, epochs=EPOCHS, mini_batch_size=20, eta=0.5, callbacks=[snap, probe])
    assert h.extra["train_path"] == "reference"
    n_batches = 300 // 20
    epochs = h.extra["histograms"]["epoch"]
    assert epochs == [0, 10 / n_batches, 1, 20 / n_batches, 2]  # 30 is an epoch's end
    assert h.extra["update_ratio"]["epoch"] == epochs
    assert h.extra["update_ratio"]["epoch_change"][1] is None
    net = dense()
    net.set_parameters(snap.steps[10], snap.biases[10])  # the network after step 10
    stats = layer_statistics(net, X[:100], y[:100], arrays=True)
    np.testing.assert_allclose(
        z_percentiles(h, 3)[1][1], np.percentile(stats.arrays["z"][1], [15, 50, 85])
    )
