"""to_onnx / from_onnx for networks of layers: onnxruntime runs the exported graph (images
``(batch, C, H, W)``) and gives the network's outputs; from_onnx reads it back exactly."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from layer_architectures import images, random_network
from nnmath.layers import LAYERS, AvgPool2D, Conv2D, Dense, Dropout, Input, MaxPool2D, Residual

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx package (nnmath[onnx])")
ort = pytest.importorskip("onnxruntime", reason="the exported models are run by onnxruntime")


def run(path, X):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": X})
    return out


def test_every_layer_type_but_the_input_declares_its_operator() -> None:
    for cls in LAYERS.values():
        # a Residual is its layers' operators, then Add and σ (nnmath.io.onnx_graph)
        assert (cls.onnx is None) == (cls in (Input, Residual)), cls
        if cls.onnx is not None and cls.onnx.op is not None:
            assert onnx.defs.has(cls.onnx.op), cls.onnx.op


@pytest.mark.parametrize("seed", range(8))
def test_onnxruntime_gives_the_outputs_and_from_onnx_reads_it_back(tmp_path, seed) -> None:
    net = random_network(seed, "float32")
    path = nm.to_onnx(net, tmp_path / "m.onnx")
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    X, _ = images(net, 11, seed)
    out = run(path, X)  # images (batch, C, H, W)
    assert out.dtype == np.float32 and out.shape == (11, net.n_outputs)
    np.testing.assert_allclose(out, net.feedforward(X), rtol=1e-5, atol=1e-6)
    back = nm.from_onnx(path)
    assert back.config() == net.config()
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert np.array_equal(a, b)


def test_the_graph_reads_like_the_lecture(tmp_path) -> None:
    net = nm.Network(
        [Input((1, 8, 8)), Conv2D(2, 3, padding=1, activation="relu"), MaxPool2D(2),
         AvgPool2D(2, stride=1), Dense(5, activation="tanh"), Dropout(0.25),
         Dense(3, activation="softmax")],
        cost="log_likelihood", seed=0,
    )  # fmt: skip
    graph = onnx.load(str(nm.to_onnx(net, tmp_path / "m.onnx"))).graph
    assert [(n.op_type, list(n.input), list(n.output)) for n in graph.node] == [
        ("Conv", ["x", "0.weight", "0.bias"], ["z2"]), ("Relu", ["z2"], ["a2"]),
        ("MaxPool", ["a2"], ["a3"]), ("AveragePool", ["a3"], ["a4"]), ("Flatten", ["a4"], ["a5"]),
        ("Gemm", ["a5", "5.weight", "5.bias"], ["z6"]), ("Tanh", ["z6"], ["a6"]),
        ("Dropout", ["a6", "layer7.ratio"], ["a7"]),
        ("Gemm", ["a7", "8.weight", "8.bias"], ["z8"]), ("Softmax", ["z8"], ["a8"]),
    ]  # fmt: skip
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 1, 8, 8]
    assert nm.from_onnx(tmp_path / "m.onnx").layers[6].p == 0.25


def test_float64_export_runs_where_onnxruntime_has_the_kernels(tmp_path) -> None:
    net = nm.Network([Input((1, 6, 6)), MaxPool2D(2), Dense(3, activation="softmax")],
                     cost="log_likelihood", dtype="float64", seed=0)  # fmt: skip
    path = nm.to_onnx(net, tmp_path / "m.onnx", dtype="float64")
    X, _ = images(net, 4)
    np.testing.assert_allclose(run(path, X), net.feedforward(X), rtol=1e-12, atol=1e-12)
    assert nm.from_onnx(path).dtype == np.float64
    # onnxruntime's CPU kernels have no float64 Conv or AveragePool: a valid file all the same
    net = nm.Network([Input((1, 6, 6)), Conv2D(2, 3), AvgPool2D(2), Dense(3, "softmax")],
                     cost="log_likelihood", dtype="float64", seed=0)  # fmt: skip
    path = nm.to_onnx(net, tmp_path / "conv.onnx", dtype="float64")
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    back = nm.from_onnx(path)
    assert back.config() == net.config()
    assert all(np.array_equal(a, b) for a, b in zip(back.weights, net.weights))


def test_from_onnx_refuses_a_graph_it_does_not_write(tmp_path) -> None:
    net = nm.Network([Input((1, 6, 6)), Conv2D(2, 3), Dense(2, activation="softmax")],
                     cost="log_likelihood", seed=0)  # fmt: skip
    model = nm.io.onnx.onnx_model(net)
    conv = model.graph.node[0]
    for attr in conv.attribute:
        if attr.name == "strides":
            attr.ints[:] = [2, 1]
    with pytest.raises(ValueError, match="strides=\\[2, 1\\].*square"):
        nm.from_onnx(model)
    model = nm.io.onnx.onnx_model(net)
    model.graph.node[0].attribute.append(onnx.helper.make_attribute("dilations", [2, 2]))
    with pytest.raises(ValueError, match="node 0 \\(Conv"):
        nm.from_onnx(model)
