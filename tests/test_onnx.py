"""ONNX export and import: onnx.checker, onnxruntime against feedforward, from_onnx round trips."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import nnmath as nm
from conftest import ACTIVATION_NAMES
from nnmath.activations import Activation
from nnmath.cli import main
from nnmath.io.onnx import ONNX_ACTIVATIONS

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx package (nnmath[onnx])")
ort = pytest.importorskip("onnxruntime", reason="the exported models are run by onnxruntime")

#: a parameter other than the default, so a lost alpha would show
PARAMS = {"leaky_relu": {"alpha": 0.2}, "elu": {"alpha": 0.7}}


def _run(path, X):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": X})
    return out


def _net(name: str, output: str | None = None) -> nm.Network:
    act = nm.get_activation(name, **PARAMS.get(name, {}))
    out = act if output is None else nm.get_activation(output)
    return nm.Network([6, 5, 4, 3], activation=act, output_activation=out, seed=3)


def test_every_activation_of_the_registry_maps_to_onnx():
    assert sorted(ONNX_ACTIVATIONS) == ACTIVATION_NAMES


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_onnxruntime_gives_feedforward(tmp_path, name):
    net = _net(name, output="softmax" if name != "softmax" else None)
    path = nm.to_onnx(net, tmp_path / "m.onnx")
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= 17
    assert [n.op_type for n in model.graph.node].count("Gemm") == 3
    X = np.random.default_rng(0).normal(scale=3.0, size=(50, 6)).astype(np.float32)
    out = _run(path, X)
    assert out.dtype == np.float32 and out.shape == (50, 3)
    np.testing.assert_allclose(out, net.feedforward(X), rtol=1e-5, atol=1e-5)
    back = nm.from_onnx(path)
    assert back.sizes == net.sizes and back.activation_functions == net.activation_functions
    assert back.cost_name == net.cost_name
    for W, W2, b, b2 in zip(net.weights, back.weights, net.biases, back.biases):
        assert np.array_equal(W, W2) and np.array_equal(b, b2)


def test_output_activation_alone_and_float64(tmp_path):
    net = nm.Network([4, 3, 2], activation="tanh", output_activation="sigmoid", dtype="float64")
    path = nm.to_onnx(net, tmp_path / "m.onnx", dtype="float64")
    X = np.random.default_rng(1).normal(size=(9, 4))
    out = _run(path, X)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, net.feedforward(X), rtol=1e-12, atol=1e-12)
    assert nm.from_onnx(path).dtype == np.float64


def test_names_read_like_the_lecture(tmp_path):
    net = nm.Network([3, 4, 2], activation="gelu", seed=0)
    model = onnx.load(str(nm.to_onnx(net, tmp_path / "m.onnx")))
    g = model.graph
    assert [i.name for i in g.input] == ["x"] and [o.name for o in g.output] == ["a3"]
    gemm = g.node[0]
    assert list(gemm.input) == ["x", "0.weight", "0.bias"] and list(gemm.output) == ["z2"]
    ops = [n.op_type for n in g.node[1:6]]
    assert ops == ["Div", "Erf", "Add", "Mul", "Mul"]  # GELU exactly: ½ z (1 + erf(z/√2))
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["nnmath.config"])["sizes"] == [3, 4, 2]


def test_refuses_what_it_cannot_write(tmp_path):
    custom = Activation.from_functions(np.sin, np.cos, name="sine")
    net = nm.Network([2, 2, 1], activation=custom, output_activation="identity", seed=0)
    with pytest.raises(ValueError, match="custom activation 'sine'.*sigmoid"):
        nm.to_onnx(net, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    with pytest.raises(ValueError, match="opset 16"):
        nm.to_onnx(nm.Network([2, 1]), tmp_path / "m.onnx", opset=16)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        nm.to_onnx(nm.Network([2, 1]), tmp_path / "nope" / "m.onnx")


def test_from_onnx_refuses_other_graphs(tmp_path):
    h = onnx.helper
    W = onnx.numpy_helper.from_array(np.ones((2, 3), np.float32), "W")
    graph = h.make_graph(
        [h.make_node("MatMul", ["x", "W"], ["y"])],
        "g",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3])],
        [W],
    )
    with pytest.raises(ValueError, match="does not start with a Gemm.*nm.to_onnx writes"):
        nm.from_onnx(h.make_model(graph))
    # one of ours, with GELU's √2 changed: the constant is named
    model = nm.io.onnx.onnx_model(nm.Network([2, 2], activation="gelu", seed=0))
    for t in model.graph.initializer:
        if t.name == "gelu.sqrt2":
            t.CopyFrom(onnx.numpy_helper.from_array(np.array(2.0, np.float32), t.name))
    with pytest.raises(ValueError, match="constant 'gelu.sqrt2'"):
        nm.from_onnx(model)
    # an extra node after the activation
    model = nm.io.onnx.onnx_model(nm.Network([2, 2], activation="relu", seed=0))
    model.graph.node.append(h.make_node("Neg", ["a2"], ["n"]))
    with pytest.raises(ValueError, match=r"\['Relu', 'Neg'\] are no nnmath activation"):
        nm.from_onnx(model)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all \xff\xfe")
    with pytest.raises(ValueError, match="not an ONNX model"):
        nm.from_onnx(bad)


def test_cli_export(tmp_path, capsys):
    net = nm.Network([5, 4, 3], activation="elu", output_activation="softmax", seed=2)
    net.save(tmp_path / "m.safetensors")
    out = tmp_path / "m.onnx"
    assert main(["export", str(tmp_path / "m.safetensors"), str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["sizes"] == [5, 4, 3] and result["bytes"] == out.stat().st_size
    X = np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32)
    np.testing.assert_allclose(_run(out, X), net.feedforward(X), rtol=1e-5, atol=1e-5)
    assert main(["export", str(tmp_path / "missing.safetensors"), str(out)]) == 2
    assert "no such file" in capsys.readouterr().err


def _saved(model, path):
    path.write_bytes(model.SerializeToString())
    return path


def _with_tensor(model, name, change):
    for t in model.graph.initializer:
        if t.name == name:
            t.CopyFrom(onnx.numpy_helper.from_array(change(onnx.numpy_helper.to_array(t)), name))
    return model


@pytest.mark.parametrize("name", ["0.weight", "2.bias"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_from_onnx_refuses_non_finite_weights_as_load_does(tmp_path, name, bad):
    model = nm.io.onnx.onnx_model(nm.Network([3, 4, 2], seed=0))
    path = _saved(_with_tensor(model, name, lambda a: np.full_like(a, bad)), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=rf"^{path}: tensor '{name}' contains NaN or infinite"):
        nm.from_onnx(path)


def test_from_onnx_refuses_a_non_finite_activation_parameter(tmp_path):
    model = nm.io.onnx.onnx_model(nm.Network([3, 2], activation="leaky_relu", seed=0))
    model.graph.node[1].attribute[0].f = float("nan")
    with pytest.raises(ValueError, match=r"leaky_relu's parameters \{'alpha': nan\} are not"):
        nm.from_onnx(_saved(model, tmp_path / "m.onnx"))


@pytest.mark.parametrize(
    "text, words",
    [
        ("[1, 2]", "its nnmath.config metadata is not a JSON object"),
        ('"cost"', "its nnmath.config metadata is not a JSON object"),
        ("{cost: 1", "its nnmath.config metadata is not valid JSON"),
        ('{"cost": 5}', "names the cost 5, which nnmath does not know"),
        ('{"cost": ["quadratic"]}', "names the cost ['quadratic']"),
        ('{"cost": "hinge"}', "names the cost 'hinge'"),
        ('{"init": {"a": 1}}', "names the init {'a': 1}"),
    ],
)
def test_from_onnx_refuses_malformed_metadata_with_a_value_error_naming_the_file(
    tmp_path, text, words
):
    """It used to raise AttributeError ('list' object has no attribute 'get') or TypeError."""
    model = nm.io.onnx.onnx_model(nm.Network([3, 2], seed=0))
    onnx.helper.set_model_props(model, {"nnmath.config": text})
    path = _saved(model, tmp_path / "m.onnx")
    with pytest.raises(ValueError) as info:
        nm.from_onnx(path)
    assert type(info.value) is ValueError and str(info.value).startswith(f"{path}: ")
    assert words in str(info.value)
    assert nm.from_onnx(path, cost="quadratic", init="normal").sizes == [3, 2]  # not read


def test_an_opset_above_the_installed_onnx_is_refused(tmp_path, capsys):
    newest = onnx.defs.onnx_opset_version()
    words = f"opset {newest + 1}: the installed onnx {onnx.__version__} knows opsets up to {newest}"
    with pytest.raises(ValueError, match=re.escape(words)):
        nm.to_onnx(nm.Network([2, 1]), tmp_path / "m.onnx", opset=newest + 1)
    assert not (tmp_path / "m.onnx").exists()
    nm.Network([2, 1]).save(tmp_path / "m.safetensors")
    argv = ["export", str(tmp_path / "m.safetensors"), str(tmp_path / "m.onnx")]
    assert main([*argv, "--opset", str(newest + 1)]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1
    assert main([*argv, "--opset", str(newest), "--quiet"]) == 0
