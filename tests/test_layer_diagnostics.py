"""Seeing a network of layers: gradcheck and trace through the layer protocol, the per-layer
statistics and the callbacks built on them, the vanishing factors, the rich display (table
and block diagram) and the chapter-6 figures of filters and feature maps."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from nnmath.diagnostics import gradcheck, layer_statistics, trace, vanishing_factors
from nnmath.layers import AvgPool2D, Conv2D, Dense, Dropout, Input, MaxPool2D

#: the book's chapter-6 network (Nielsen, network3.py's last experiment)
CHAPTER_6 = [
    Input((1, 28, 28)), Conv2D(20, 5, activation="relu"), MaxPool2D(2),
    Conv2D(40, 5, activation="relu"), MaxPool2D(2), Dense(1000, activation="relu"),
    Dropout(0.5), Dense(1000, activation="relu"), Dropout(0.5),
    Dense(10, activation="softmax"),
]  # fmt: skip


def small_net(cost: str = "log_likelihood", out: str = "softmax", seed: int = 0) -> nm.Network:
    """Every layer kind once: a convolution, max- and average-pooling, Dropout, two Dense."""
    return nm.Network(
        [Input((2, 9, 9)), Conv2D(3, 3, activation="tanh"), MaxPool2D(2), Conv2D(4, 2),
         AvgPool2D(1, stride=1), Dropout(0.5), Dense(5, "sigmoid"), Dense(3, out)],
        cost=cost, seed=seed, init="glorot",
    )  # fmt: skip


def examples(m: int = 3, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.5, 0.5, (m, 2, 9, 9)), rng.integers(0, 3, m)


# ------------------------------------------------------------------ gradcheck


@pytest.mark.parametrize(("cost", "out"), [("log_likelihood", "softmax"), ("quadratic", "sigmoid")])
def test_gradcheck_passes_every_layer_and_every_parameter_tensor(cost: str, out: str) -> None:
    net = small_net(cost, out)
    X, y = examples()
    check = gradcheck(net, X, y, max_params_per_layer=1000)
    assert check.ok, check.to_markdown()
    rows = {(r.quantity, r.layer): r for r in check.rows}
    # layers are their positions in net.layers: Input 1, Conv 2, pool 3, Conv 4, ...
    assert [type(lay).__name__ for lay in net.layers][1:5] == [
        "Conv2D",
        "MaxPool2D",
        "Conv2D",
        "AvgPool2D",
    ]
    for l, W in zip((2, 4, 8, 9), net.weights):
        assert rows["∂C/∂w", l].n_checked == W.size  # a conv's (out, in, k, k), every entry
    assert {l for q, l in rows if q.startswith("δ")} == set(range(2, 10))  # pool's δ too
    assert check.max_error < 1e-5


def test_gradcheck_finds_a_wrong_convolution_gradient(monkeypatch) -> None:
    net = small_net()
    X, y = examples()
    real = Conv2D.backward

    def off_by_one_percent(self, delta, cache):
        back = real(self, delta, cache)
        back.nabla_w = back.nabla_w * 1.01
        return back

    monkeypatch.setattr(Conv2D, "backward", off_by_one_percent)
    check = gradcheck(net, X, y)
    failed = {(r.quantity, r.layer) for r in check.rows if not r.ok}
    assert failed == {("∂C/∂w", 2), ("∂C/∂w", 4)}


# ---------------------------------------------------------------------- trace


def naive_correlation(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """∂C/∂w[i, j] = Σ_{y,x} δ[y, x] a[y + i, x + j] (stride 1, no padding), loops as written."""
    k = a.shape[0] - d.shape[0] + 1
    out = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            out[i, j] = sum(
                d[y, x] * a[y + i, x + j] for y in range(d.shape[0]) for x in range(d.shape[1])
            )
    return out


def test_trace_shows_a_convolutions_delta_and_kernels_and_the_pooling_routing() -> None:
    net = small_net()
    X, y = examples(1)
    t = trace(net, X[0], y[0])
    g = nm.diagnostics._float64.as_float64(net).backprop(X, y)
    conv, pool = t.layers[0], t.layers[1]
    assert conv.kind.startswith("Conv2D") and np.shape(conv.delta) == (3, 7, 7)
    np.testing.assert_allclose(conv.delta, g.deltas[0][..., 0])
    np.testing.assert_allclose(conv.nabla_w, g.nabla_w[0])  # (out, in, k, k) of this example
    assert np.shape(conv.nabla_w) == (3, 2, 3, 3)
    x = np.asarray(t.x).reshape(t.x_shape)
    for o in range(3):  # BP3 per feature map, BP4 per kernel, by hand
        assert np.sum(conv.delta[o]) == pytest.approx(conv.nabla_b[o])
        for c in range(2):
            np.testing.assert_allclose(
                naive_correlation(x[c], np.asarray(conv.delta[o])), conv.nabla_w[o][c], atol=1e-12
            )
    # max-pooling: δ^3 goes to the arg-max of each window, 0 elsewhere
    routed, delta, a_prev = np.asarray(pool.g), np.asarray(pool.delta), np.asarray(conv.a)
    assert np.count_nonzero(routed) == np.count_nonzero(delta)
    for c, row in enumerate(pool.routing):
        for yy, cells in enumerate(row):
            for xx, (r, q) in enumerate(cells):
                assert routed[c, r, q] == delta[c, yy, xx]
                window = a_prev[c, 2 * yy : 2 * yy + 2, 2 * xx : 2 * xx + 2]
                assert a_prev[c, r, q] == window.max()


def test_trace_displays_every_layer_in_html_markdown_and_latex() -> None:
    from test_display import bundle, dense, parse

    net = small_net()
    X, y = examples(1)
    t = trace(net, X[0], y[0])
    data = bundle(t)
    root = parse(data["text/html"])
    text = "".join(root.itertext())
    for rule in ("BP1", "BP2", "BP3", "BP4", "routing", "Conv2D(3, 3", "per kernel"):
        assert rule in text, rule
    np.testing.assert_allclose(dense(root, "delta2[0]"), t.layers[0].delta[0], rtol=1e-3)
    np.testing.assert_allclose(dense(root, "nabla_w2[0,1]"), t.layers[0].nabla_w[0][1], rtol=1e-3)
    assert "and 2 more kernels" in text  # 3 × 2 kernels, the first 4 shown
    md = data["text/markdown"]
    assert md == t.to_markdown() and "delta2[0] (7 × 7) = [" in md
    tex = data["text/latex"]
    assert tex.startswith(r"$$\begin{aligned}") and r"\begin{pmatrix}" in tex
    assert t.to_latex().startswith(r"\begin{align*}")


# -------------------------------------------------------- statistics, factors


def test_layer_statistics_and_speeds_per_layer_with_parameters() -> None:
    net = small_net()
    X, y = examples(5)
    stats = layer_statistics(net, X, y, arrays=True)
    assert stats.layers == [2, 4, 8, 9]
    assert stats.activations == ["tanh", "sigmoid", "sigmoid", "softmax"]
    g = net.backprop(X, y)
    np.testing.assert_allclose(stats.nabla_b, [np.linalg.norm(b) for b in g.nabla_b], rtol=1e-6)
    assert stats.arrays["W"][0].shape == (3, 2, 3, 3)
    assert stats.arrays["delta"][0].shape == (3, 7, 7, 5)
    assert stats.arrays["z"][2].shape == (5, 5) and len(stats.dead) == 4
    norms = nm.diagnostics.gradient_norms(net, X, y)
    assert norms.nabla_b == stats.nabla_b


def test_vanishing_factors_split_the_ratio_from_one_layer_with_parameters_to_the_next() -> None:
    net = small_net()
    X, y = examples(4)
    f = vanishing_factors(net, X, y)
    assert [row.layer for row in f.layers] == [2, 4, 8] and f.speed_layers == [2, 4, 8, 9]
    for row in f.layers:
        assert row.ratio == pytest.approx(row.weight_factor * row.activation_factor)
        assert row.ratio_bound is None
    assert f.jacobian_sv == [] and "Singular" not in f.to_markdown()
    assert "‖∂C/∂b<sup>8</sup>‖" in f._repr_html_()


# ------------------------------------------------------------------ callbacks


def test_the_watching_callbacks_measure_a_network_of_layers(tmp_path) -> None:
    from nnmath.callbacks import EpochLogger, LivePlot, TensorBoard, read_log
    from nnmath.diagnostics import GradientTracker

    pytest.importorskip("tensorboardX")
    pytest.importorskip("matplotlib")
    net = small_net()
    X, y = examples(20)
    calls = [
        EpochLogger(tmp_path / "log.csv"),
        TensorBoard(tmp_path / "tb"),
        LivePlot(path=tmp_path / "live.png"),
    ]
    net.fit(X, y, epochs=2, eta=0.1, mini_batch_size=10, callbacks=calls)
    rows = read_log(tmp_path / "log.csv")
    assert [k for k in rows[0] if k.startswith("nabla_b")] == [
        "nabla_b_l2",
        "nabla_b_l4",
        "nabla_b_l8",
        "nabla_b_l9",
    ]
    assert all(r["nabla_b_l2"] > 0 for r in rows)
    assert calls[2].points["layers"] == [2, 4, 8, 9] and (tmp_path / "live.png").exists()
    assert any((tmp_path / "tb").iterdir())
    history = net.fit(X, y, epochs=1, eta=0.1, callbacks=[GradientTracker(X, y)])
    assert len(history.extra["gradient_norms"]["nabla_b"][-1]) == 4  # one per layer with W
