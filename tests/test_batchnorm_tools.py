"""BatchNorm and LayerNorm with nnmath's tools: the gradient check of fit's training pass,
the trace of one example in inference form, diagnostics that leave the running statistics
alone, the torch backend, the layer language and the command line, the display."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import nnmath as nm
from conftest import headless_chromium, run_cli
from nnmath.diagnostics import (
    gradcheck,
    gradient_norms,
    layer_statistics,
    trace,
    vanishing_factors,
)
from nnmath.layers import (
    Activation,
    BatchNorm,
    Conv2D,
    Dense,
    Input,
    LayerNorm,
    MaxPool2D,
    describe,
    parse,
)


def bn_net(dtype: str = "float64", backend: str = "numpy") -> nm.Network:
    layers = [
        Input((2, 6, 6)),
        Conv2D(3, 3, activation="identity"),
        BatchNorm(),
        Activation("relu"),
        MaxPool2D(2),
        Dense(5, "tanh", batch_norm=True),
        LayerNorm(),
        Dense(3, "softmax"),
    ]
    return nm.Network(
        layers, cost="log_likelihood", init="he", seed=0, dtype=dtype, backend=backend
    )


def data(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2, 6, 6)) + 0.5, rng.integers(0, 3, n)


def states(net: nm.Network) -> list[dict]:
    return [{k: np.array(v) for k, v in layer.state().items()} for layer in net.stateful]


def trained() -> nm.Network:
    net = bn_net()
    net.fit(*data(30), epochs=2, mini_batch_size=10, eta=0.1, seed=0)
    return net


def test_gradcheck_checks_the_training_pass_and_leaves_the_state_alone() -> None:
    net = trained()
    before = states(net)
    X, y = data(4, seed=2)
    result = gradcheck(net, X, y)
    assert result.ok, result
    bn_layers = [j + 1 for j, lay in enumerate(net.layers) if isinstance(lay, BatchNorm)]
    checked = {(row.quantity, row.layer) for row in result.rows}
    for l in bn_layers:  # γ, β and δ of each BatchNorm, and the δ below it (through μ_B, σ²_B)
        assert {("∂C/∂w", l), ("∂C/∂b", l), ("δ^l", l), ("δ^l", l - 1)} <= checked
    gradient_norms(net, X, y)
    trace(net, X[0], y[0])
    after = states(net)
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(before, after) for k in a)


def test_layer_statistics_and_vanishing_factors_take_a_layer_without_sigma() -> None:
    """A BatchNorm has parameters and no σ (a^l = z^l, σ' = 1); the factors hand δ down
    through the training pass the gradients came from."""
    net = trained()
    X, y = data(6, seed=2)
    stats = layer_statistics(net, X, y)
    assert stats.layers == [2, 3, 7, 8, 10, 11] and stats.activations[1] == "identity"
    assert stats.mean_prime[1] == 1.0
    rows = vanishing_factors(net, X, y).layers  # a row per layer of units: σ after each BN
    assert [r.layer for r in rows] == [4, 9]
    assert [net.layers[r.layer - 1].name for r in rows] == ["activation", "activation"]
    for r in rows:  # ratio = weight factor × activation factor, all finite
        assert np.isfinite(r.ratio) and r.ratio == pytest.approx(
            r.weight_factor * r.activation_factor
        )


def test_gradcheck_sees_a_wrong_batchnorm_gradient(monkeypatch) -> None:
    """The path through μ_B and σ²_B left out (the inference form's g in a training pass):
    the δ below the BatchNorm is refused."""
    from nnmath.layers import batchnorm

    monkeypatch.setattr(batchnorm, "through_normalisation", lambda d, z, s, axes: s * d)
    X, y = data(4, seed=2)
    result = gradcheck(trained(), X, y)
    bad = {(row.quantity, row.layer) for row in result.rows if not row.ok}
    assert ("δ^l", 2) in bad and not result.ok


def test_trace_shows_one_example_in_inference_form() -> None:
    net = trained()
    X, y = data(1, seed=3)
    t = trace(net, X[0], y[0])
    text = t.to_markdown()
    assert "inference form: the running μ, σ²" in text and "∂C/∂γ^3" in text
    bn = t.layers[1]  # layer 3: the BatchNorm after the convolution
    layer = net.layers[2]
    x = net.layers[1].forward(X.reshape(1, -1).T.reshape(2, 6, 6, 1)).a
    expected = layer.forward(x).a[..., 0]  # γ (z − running_mean)/√(running_var + ε) + β
    np.testing.assert_allclose(np.array(bn.z), expected, rtol=1e-12)
    assert "LayerNorm" in text and "μ_x, σ_x²" in text
    t.to_latex()


def test_the_torch_backend_trains_as_numpy_and_moves_the_state() -> None:
    torch = pytest.importorskip("torch")
    X, y = data(30)
    # SGD: Adam would scale the rounding noise of the bias before a BatchNorm (∂C/∂b ≈ 0)
    kw = dict(epochs=2, mini_batch_size=10, eta=0.1, seed=0, momentum=0.9)
    ours, theirs = bn_net(), bn_net(backend="torch")
    ours.fit(X, y, **kw)
    theirs.fit(torch.from_numpy(X), y, **kw)
    for layer, twin in zip(ours.stateful, theirs.stateful):
        for k, v in twin.state().items():
            assert isinstance(v, torch.Tensor)
            np.testing.assert_allclose(v.numpy(), layer.state()[k], rtol=1e-12, atol=1e-12)
    for a, b in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-10, atol=1e-12)
    theirs.to("numpy")
    assert all(type(v) is np.ndarray for lay in theirs.stateful for v in lay.state().values())
    np.testing.assert_allclose(theirs.feedforward(X), ours.feedforward(X), rtol=1e-10)


def test_the_layer_language_reads_bn_batchnorm_layernorm_and_a_bare_sigma() -> None:
    layers = parse("dense(100,identity) bn relu dense(10,softmax)", input_shape=784)
    assert [repr(lay) for lay in layers[1:]] == [
        "Dense(100, activation='identity')", "BatchNorm()", "Activation('relu')",
        "Dense(10, activation='softmax')",
    ]  # fmt: skip
    text = "conv(4,3,identity) batchnorm(0.2,0.001) relu pool(2) dense(8,tanh,batch_norm=1) "
    text += "layernorm dense(10,softmax)"
    layers = parse(text, input_shape=(1, 8, 8))
    assert repr(layers[2]) == "BatchNorm(momentum=0.2, eps=0.001)"
    assert layers[5].batch_norm and repr(layers[6]) == "LayerNorm()"
    assert describe(parse(describe(layers))) == describe(layers)
    net = nm.Network(layers, cost="log_likelihood")
    assert describe(net.layers) == (
        "conv(4,3,identity) bn(0.2,0.001) activation(relu) pool(2) flatten "
        "dense(8,identity) bn activation(tanh) layernorm dense(10,softmax)"
    )
    with pytest.raises(ValueError, match="bn\\(2\\): BatchNorm: momentum must be"):
        parse("bn(2)")


def test_train_on_the_command_line_with_batch_norm(capsys, tmp_path) -> None:
    path = tmp_path / "m.safetensors"
    code, out, err = run_cli(
        capsys, "train", "--epochs", "2", "--cost", "log_likelihood", "--init", "he",
        "--layers", "conv(4,3,identity) bn relu pool(2) dense(10,softmax)",
        "--save", path, "--json",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["layers"] == "conv(4,3,identity) bn activation(relu) pool(2) dense(10,softmax)"
    assert result["test_accuracy"] > 0.5
    back = nm.load(path)
    assert not np.array_equal(back.layers[2].running_var, np.ones(4))  # trained statistics


def test_the_table_and_the_diagram_show_the_normalisations(tmp_path) -> None:
    net = bn_net("float32")
    html = net._repr_html_()
    assert "BatchNorm per channel" in html and "BatchNorm per unit" in html
    assert "LayerNorm" in html
    bars = re.findall(r'data-kind="(batchnorm|layernorm)"[^>]*><rect [^>]*width="8.0"', html)
    assert bars == ["batchnorm", "batchnorm", "layernorm"]
    from test_layer_display import TEXT_PROBLEMS

    with headless_chromium() as driver:
        page = tmp_path / "net.html"
        page.write_text(f"<!doctype html><meta charset='utf-8'><body>{html}</body>", "utf-8")
        driver.get(page.as_uri())
        assert driver.execute_script(TEXT_PROBLEMS) == []


def test_a_sweep_file_of_normalised_networks_runs_and_records_each_layers_speed(tmp_path):
    from nnmath.sweep import load_sweep, run_sweep

    text = (
        "conv(2,3,identity) bn relu pool(2) dense(8,tanh,batch_norm=1) layernorm dense(10,softmax)"
    )
    toml = tmp_path / "s.toml"
    toml.write_text(
        f'measure = "vanishing"\nsubset = 40\n[grid]\nlayers = "{text}"\n'
        'cost = "log_likelihood"\nepochs = 1\n'
    )
    sweep = load_sweep(toml)
    (canonical,) = sweep.grid["layers"]
    assert canonical.startswith("conv(2,3,identity) bn activation(relu)")
    speeds = [c for c in sweep.columns() if c.startswith("speed_l")]
    assert speeds == [f"speed_l{i}" for i in range(1, 4)]  # conv's bn β, dense's bn β, layernorm
    (row,) = run_sweep(sweep, tmp_path / "v.jsonl", n_jobs=1).rows
    assert all(len(s) == 4 for s in row["speeds"]) and row["speed_out"] > 0
