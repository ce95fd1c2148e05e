"""Residual blocks through nnmath's tools: ONNX (run by onnxruntime, read back), the layer
description language and sweeps, gradcheck, the trace's two terms, the per-layer
diagnostics' labels, the rich display and the torch backend."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from conftest import Interrupt
from nnmath.diagnostics._gradcheck_layers import _coupled_differences as _COUPLED
from nnmath.layers import Conv2D, Dense, Input, MaxPool2D, Residual, describe, parse


def mlp(dtype: str = "float64", seed: int = 0) -> nm.Network:
    blocks = [Residual([Dense(6, "tanh"), Dense(6, "identity")], "elu") for _ in range(2)]
    layers = [Input(8), Dense(6, "tanh"), *blocks, Dense(3, "softmax")]
    return nm.Network(layers, cost="log_likelihood", init="glorot", seed=seed, dtype=dtype)


def conv(dtype: str = "float32") -> nm.Network:
    inner = Residual([Conv2D(3, 1, activation="identity")], activation="tanh")
    layers = [Input((2, 6, 6)), Conv2D(3, 3, padding=1, activation="elu"),
              Residual([Conv2D(3, 3, padding=1, activation="tanh"), inner], "elu"),
              MaxPool2D(2), Dense(5, "elu"), Dense(3, "softmax")]  # fmt: skip
    return nm.Network(layers, cost="log_likelihood", init="glorot", seed=1, dtype=dtype)


def data(net: nm.Network, m: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, *net.layers[0].shape)).astype(net.dtype)
    return X, rng.integers(0, net.n_outputs, m)


def with_random_biases(net: nm.Network) -> nm.Network:
    """Biases away from 0, so no σ sits at a kink (glorot's b = 0 with a 0 input would)."""
    rng = np.random.default_rng(5)
    net.biases = [rng.standard_normal(b.shape).astype(net.dtype) for b in net.biases]
    return net


@pytest.mark.parametrize("make", [mlp, conv])
def test_onnx_runs_in_onnxruntime_as_predict_and_reads_back(tmp_path, make) -> None:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    net = make("float32")  # onnxruntime's CPU Conv and Elu are float32 only
    path = nm.to_onnx(net, tmp_path / "m.onnx", dtype=net.dtype)
    X, _ = data(net, 5)
    session = ort.InferenceSession(str(path))
    out = session.run(None, {"x": X})[0]
    np.testing.assert_allclose(out, net.feedforward(X), rtol=1e-5, atol=1e-6)
    assert np.array_equal(out.argmax(axis=1), net.predict(X))
    ops = [node.op_type for node in __import__("onnx").load(str(path)).graph.node]
    assert ops.count("Add") == sum(isinstance(lay, Residual) for lay in _all(net.layers))
    back = nm.from_onnx(path)
    assert back.config() == {**net.config(), "init": back.init}
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert np.array_equal(a, b)


def _all(layers: list) -> list:
    return [x for lay in layers for x in [lay, *_all(getattr(lay, "layers", []))]]


def test_the_language_writes_a_block_and_reads_it_back() -> None:
    text = "conv(3,3,1,1,elu) residual(conv(3,3,1,1,tanh) residual(conv(3,1,identity); tanh); elu)"
    text += " pool(2) dense(5,elu) dense(3,softmax)"
    net = conv()
    assert describe(net.layers) == text.replace("pool(2)", "pool(2) flatten")
    layers = parse(text, input_shape=(2, 6, 6), n_outputs=3)
    rebuilt = nm.Network(layers, cost="log_likelihood", init="glorot", seed=1, dtype="float32")
    assert rebuilt.config() == net.config()
    assert describe(parse("residual(dense(4,relu) dense(4,identity))")) == (
        "residual(dense(4,relu) dense(4,identity); relu)"  # σ defaults to relu, written out
    )
    with pytest.raises(ValueError, match=r"F maps the input shape \(5,\) to \(4,\)"):
        parse("residual(dense(4,relu)) dense(2,softmax)", input_shape=5)
    with pytest.raises(ValueError, match="the \\( is not closed"):
        parse("residual(dense(4,relu)")


def test_a_sweep_counts_a_blocks_layers() -> None:
    from nnmath.sweep.spec import hidden_layers

    text = "dense(6,relu) residual(dense(6,relu) dense(6,identity)) dense(3,softmax)"
    assert hidden_layers({"layers": text}) == 3  # the Dense, the block's two


@pytest.mark.parametrize("make", [mlp, conv])
def test_gradcheck_passes_and_labels_the_layers_inside_blocks(make) -> None:
    net = with_random_biases(make("float64"))
    X, y = data(net, 3)
    report = nm.diagnostics.gradcheck(net, X, y, max_params_per_layer=20)
    assert report.ok, report
    w_layers = [r.layer for r in report.rows if r.quantity == "∂C/∂w"]
    assert w_layers == nm.diagnostics._float64.layer_numbers(net)
    assert len(w_layers) == len(net.weights)
    inner = {r.layer for r in report.rows if r.quantity == "δ^l" and "." in str(r.layer)}
    assert inner == ({"3.1", "3.2", "4.1", "4.2"} if make is mlp else {"3.1", "3.2", "3.2.1"})


def test_gradcheck_catches_a_wrong_delta_inside_a_block(monkeypatch) -> None:
    """The inner δ are checked against the cost, not against the block's own backward: a
    backward_F that reports twice the δ fails exactly those rows."""
    from nnmath.layers.residual import FPath

    honest = Residual.backward_F

    def doubled(self, delta, cache):
        path = honest(self, delta, cache)
        return FPath(path.g, path.inner, [(g, 2 * d) for g, d in path.steps])

    net = with_random_biases(mlp())
    X, y = data(net, 3)
    monkeypatch.setattr(Residual, "backward_F", doubled)
    report = nm.diagnostics.gradcheck(net, X, y, max_params_per_layer=20)
    failed = {(r.quantity, r.layer) for r in report.rows if not r.ok}
    assert failed == {("δ^l", label) for label in ("3.1", "3.2", "4.1", "4.2")}


def _batchnorm_in_block() -> nm.Network:
    from nnmath.layers import BatchNorm

    block = Residual([Dense(6, "identity"), BatchNorm()], activation="tanh")
    layers = [Input(8), Dense(6, "tanh"), block, Dense(3, "softmax")]
    return nm.Network(layers, cost="log_likelihood", init="glorot", seed=0, dtype="float64")


def _batchnorm_above_block() -> nm.Network:
    from nnmath.layers import Activation, BatchNorm

    block = Residual([Dense(6, "tanh"), Dense(6, "identity")], activation="tanh")
    top = [Dense(6, "identity"), BatchNorm(), Activation("tanh"), Dense(3, "softmax")]
    layers = [Input(8), Dense(6, "tanh"), block, *top]
    return nm.Network(layers, cost="log_likelihood", init="glorot", seed=0, dtype="float64")


@pytest.mark.parametrize("make", [_batchnorm_in_block, _batchnorm_above_block])
def test_gradcheck_with_a_batchnorm_in_or_above_a_block_differences_each_example(make) -> None:
    """A BatchNorm couples the mini-batch's examples, so δ of a layer below it, inside a
    block or not, is ∂(Σ_x' C_x')/∂z_x, differenced one example at a time in fit's training
    pass (the inner rows once fed forward in the evaluation pass and perturbed every example
    together, and failed a right δ). With the uncoupled differences the inner rows fail."""
    from nnmath.diagnostics import _gradcheck_layers as checks

    net = with_random_biases(make())
    X, y = data(net, 4)
    report = nm.diagnostics.gradcheck(net, X, y, max_params_per_layer=20)
    assert report.ok, [(r.quantity, r.layer) for r in report.rows if not r.ok]
    inner = {r.layer for r in report.rows if r.quantity == "δ^l" and "." in str(r.layer)}
    assert "3.1" in inner
    try:
        checks._coupled_differences = checks._column_differences
        wrong = nm.diagnostics.gradcheck(net, X, y, max_params_per_layer=20)
    finally:
        checks._coupled_differences = _COUPLED
    failed = {(r.quantity, r.layer) for r in wrong.rows if not r.ok}
    assert ("δ^l", "3.1") in failed and all(q == "δ^l" for q, _ in failed)


def test_the_per_layer_diagnostics_label_and_measure_the_inner_layers() -> None:
    net = mlp()
    X, y = data(net, 20)
    stats = nm.diagnostics.layer_statistics(net, X, y, arrays=True)
    assert stats.layers == [2, "3.1", "3.2", "4.1", "4.2", 5]
    assert stats.activations == ["tanh", "tanh", "identity", "tanh", "identity", "softmax"]
    norms = nm.diagnostics.gradient_norms(net, X, y)
    assert stats.nabla_b == norms.nabla_b and len(norms.nabla_b) == len(net.biases)
    g = net.backprop(X, y)  # the inner δ of layer 3.2 is δ^3 ⊙ ... : ∂C/∂b = its mean
    np.testing.assert_allclose(stats.arrays["delta"][2].mean(axis=1), g.nabla_b[2], atol=1e-15)
    factors = nm.diagnostics.vanishing_factors(net, X, y)  # a block is one layer of units
    assert [r.layer for r in factors.layers] == [2, 3, 4]


def test_the_trace_shows_the_identity_term_and_fs_term() -> None:
    block = Residual([Dense(2, "tanh"), Dense(3, "identity")], "tanh")
    layers = [Input(3), block, Dense(2, "softmax")]
    net = nm.Network(layers, cost="log_likelihood", seed=0, dtype="float64")
    x = np.array([0.5, -1.0, 2.0])
    t = nm.diagnostics.trace(net, x, 1)
    block = t.layers[0]
    g = net.backprop(x[None], np.array([1]))
    np.testing.assert_allclose(block.g_identity, g.deltas[0][:, 0])  # δ^2 itself
    F = net.layers[1]
    J = F.layers[1].W @ np.diag(1 - np.tanh(F.layers[0].W @ x + F.layers[0].b) ** 2)
    J = J @ F.layers[0].W  # J_F = W_2 diag(tanh'(z_1)) W_1, by hand
    np.testing.assert_allclose(block.g_F, J.T @ g.deltas[0][:, 0], atol=1e-15)
    np.testing.assert_allclose(block.g, np.add(block.g_identity, block.g_F), atol=1e-15)
    text = t.to_markdown()
    assert "∂C/∂a^1 = δ^2 + J_Fᵀ δ^2" in text and "identity2" in text and "F_path2" in text
    assert r"J\_Fᵀ" in t.to_latex() and 'data-name="F_path2"' in t._repr_html_()
    assert t.layers[1].nabla_b == g.nabla_b[2].tolist()  # the output's, after the block's two
    assert [inner.layer for inner in block.inner] == ["2.1", "2.2"]
    assert [inner.prev for inner in block.inner] == [1, "2.1"]
    for inner, nabla_b, nabla_w in zip(block.inner, g.nabla_b, g.nabla_w):
        assert inner.nabla_b == nabla_b.tolist() and inner.nabla_w == nabla_w.tolist()
    assert block.inner[1].delta == block.delta  # F's last layer has no σ: its δ is δ^2
    assert "BP4  ∂C/∂w^{2.1} = δ^{2.1} (a^1)ᵀ" in text  # F's first layer reads the block's input


def test_the_trace_of_nested_blocks_of_images_is_complete() -> None:
    net = with_random_biases(conv("float64"))
    X, y = data(net, 1)
    t = nm.diagnostics.trace(net, X[0], y[0])
    block = t.layers[1]
    assert [i.layer for i in block.inner] == ["3.1", "3.2"]
    assert [i.layer for i in block.inner[1].inner] == ["3.2.1"]
    below = t.layers[0]  # δ^2 = ∂C/∂a^2 ⊙ σ'(z^2), ∂C/∂a^2 the block's two terms
    g = np.add(block.g_identity, block.g_F)
    np.testing.assert_allclose(np.multiply(g, below.sigma_prime), below.delta, atol=1e-15)
    text = t.to_markdown()
    for label in ("3.1", "3.2.1"):  # 3.2 is the inner block, without W
        assert f"∂C/∂w^{{{label}}}[o,c]" in text
    assert "∂C/∂a^{3.1} = δ^{3.2} + J_Fᵀ δ^{3.2}" in text


def test_the_display_names_the_block_and_draws_its_skip_arc() -> None:
    from nnmath.display.network import layer_columns, layer_rows

    net = conv()
    rows = layer_rows(net)
    assert rows[2][1].startswith("Residual(Conv2D 3×3, padding 1 tanh → Residual(")
    assert (
        rows[2][5] == 3 * 3 * 3 * 3 + 3 + 3 * 3 + 3 and rows[2][4] == "3 × 3 × 3 × 3, 3 × 3 × 1 × 1"
    )
    assert sum(r[5] for r in rows) == sum(W.size + b.size for W, b in zip(net.weights, net.biases))
    cols = layer_columns(net)
    assert [c.l for c in cols] == [1, 2, "3.1", "3.2.1", "3.2", 3, 4, 5, 6, 7]
    assert [c.skip for c in cols if c.skip is not None] == [2, 1]  # 3.2 from 3.1, 3 from 2
    html = net._repr_html_()
    assert html.count("data-skip=") == 2 and "identity path of layer 3" in html


def test_the_torch_backend_trains_as_numpy_does() -> None:
    torch = pytest.importorskip("torch")
    net = mlp()
    tnet = nm.Network([Input(8), Dense(6, "tanh"),
                       *[Residual([Dense(6, "tanh"), Dense(6, "identity")], "elu")] * 2,
                       Dense(3, "softmax")], cost="log_likelihood", init="glorot", seed=0,
                      dtype="float64", backend="torch")  # fmt: skip
    X, y = data(net, 16)
    fit = {"epochs": 2, "mini_batch_size": 4, "optimizer": "adam", "eta": 0.01, "seed": 3}
    net.fit(X, y, **fit)
    tnet.fit(X, y, **fit)
    for W, T in zip(net.weights + net.biases, tnet.weights + tnet.biases):
        assert isinstance(T, torch.Tensor)
        np.testing.assert_allclose(T.numpy(), W, rtol=0, atol=1e-12)


def test_a_batchnorm_inside_a_block_keeps_torchs_names_everywhere(tmp_path) -> None:
    """Its running statistics are "{k}.body.{j}.running_mean" in the model file, as in the
    to_torch module's state_dict; ONNX, from_torch and a resumed checkpoint read them back."""
    torch = pytest.importorskip("torch")
    from safetensors.numpy import load_file

    from nnmath.layers import Activation, BatchNorm

    def make() -> nm.Network:
        F = [Dense(6, "identity"), BatchNorm(), Activation("relu"), Dense(6, "identity")]
        layers = [Input(8), Dense(6, "tanh"), Residual(F), Dense(3, "softmax")]
        return nm.Network(layers, cost="log_likelihood", seed=0, dtype="float64")

    net = make()
    X, y = data(net, 20)
    kw = dict(epochs=3, mini_batch_size=5, eta=0.1, seed=0, fast=False)
    net.fit(X, y, **kw)
    tensors = load_file(str(nm.save(net, tmp_path / "m.safetensors")))
    model = nm.to_torch(net).eval()
    names = set(model.state_dict()) - {"2.body.2.num_batches_tracked"}
    assert set(tensors) == names and "2.body.2.running_mean" in names
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(X)).numpy(), net.feedforward(X))
    for back in (nm.load(tmp_path / "m.safetensors"), nm.from_torch(model, cost="log_likelihood")):
        assert np.array_equal(back.feedforward(X), net.feedforward(X))
    pytest.importorskip("onnx")
    path = nm.to_onnx(net, tmp_path / "m.onnx", dtype="float32")
    back = nm.from_onnx(path)
    np.testing.assert_allclose(back.feedforward(X), net.feedforward(X), rtol=1e-5, atol=1e-6)

    full = make()
    full.fit(X, y, **kw)
    with pytest.raises(KeyboardInterrupt):
        make().fit(X, y, checkpoint=tmp_path / "run.safetensors", callbacks=[Interrupt(1)], **kw)
    resumed = make()
    resumed.fit(X, y, checkpoint=tmp_path / "run.safetensors", resume=True, **kw)
    assert np.array_equal(resumed.feedforward(X), full.feedforward(X))  # running stats too
    for key, value in full.layers[2].state().items():
        assert np.array_equal(resumed.layers[2].state()[key], value)
