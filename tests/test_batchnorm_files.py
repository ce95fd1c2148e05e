"""BatchNorm and LayerNorm in files: model files with the running statistics (round trip,
refusals), checkpoints with bit-identical resume and the best epoch's statistics, and ONNX
run by onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from conftest import Interrupt
from nnmath.io import ModelFileError
from nnmath.layers import Activation, BatchNorm, Conv2D, Dense, Input, LayerNorm, MaxPool2D


def bn_net(dtype: str = "float64") -> nm.Network:
    layers = [
        Input((1, 8, 8)),
        Conv2D(3, 3, activation="identity"),
        BatchNorm(momentum=0.2),
        Activation("relu"),
        MaxPool2D(2),
        Dense(6, "tanh", batch_norm=True),
        LayerNorm(eps=1e-3),
        Dense(3, "softmax"),
    ]
    return nm.Network(layers, cost="log_likelihood", init="he", seed=0, dtype=dtype)


def data(net: nm.Network, n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, *net.layers[0].shape)) + 1.0).astype(net.dtype)
    return X, rng.integers(0, 3, n)


def states(net: nm.Network) -> list[dict]:
    return [{k: np.array(v) for k, v in layer.state().items()} for layer in net.stateful]


def same_states(a: list[dict], b: list[dict]) -> bool:
    return len(a) == len(b) and all(
        x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x) for x, y in zip(a, b)
    )


def trained(dtype: str = "float64") -> nm.Network:
    net = bn_net(dtype)
    X, y = data(net, 30)
    net.fit(X, y, epochs=2, mini_batch_size=10, eta=0.1, seed=0)
    return net


# ------------------------------------------------------------------------- model files


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_and_load_keep_the_running_statistics_bit_for_bit(tmp_path, dtype) -> None:
    net = trained(dtype)
    back = nm.load(net.save(tmp_path / "m.safetensors"))
    assert back.config() == net.config()
    assert all(np.array_equal(a, b) for a, b in zip(net.weights + net.biases,
                                                    back.weights + back.biases))  # fmt: skip
    assert same_states(states(back), states(net)) and len(states(net)) == 2
    X, _ = data(net, 7, seed=5)
    assert np.array_equal(back.feedforward(X), net.feedforward(X))


def test_the_file_names_the_statistics_as_torchs_buffers(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.numpy import load_file

    net = trained()
    tensors = load_file(net.save(tmp_path / "m.safetensors"))
    assert {"2.running_mean", "2.running_var", "8.running_mean", "8.running_var"} <= set(tensors)
    model = nm.to_torch(bn_net())  # another start: load_state_dict puts the file's in
    missing, unexpected = model.load_state_dict(
        {k: torch.from_numpy(v) for k, v in tensors.items()}, strict=False
    )
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    np.testing.assert_array_equal(model[2].running_var.numpy(), net.layers[2].running_var)


def _rewritten(path, change) -> object:
    """A copy of the model file with its tensors changed by ``change(tensors)``."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    with safe_open(str(path), "np") as f:
        metadata = f.metadata()
    tensors = load_file(path)
    change(tensors)
    out = path.with_name("edited.safetensors")
    save_file(tensors, str(out), metadata=metadata)
    return out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.pop("2.running_var"), r"'2.running_var' of layers\[2\] .* has shape None"),
        (lambda t: t.update({"8.running_mean": np.zeros(5)}), r"running_mean of shape \(6,\)"),
        (lambda t: t["2.running_mean"].__setitem__(0, np.nan), "'2.running_mean' contains NaN"),
        (lambda t: t["8.running_var"].__setitem__(1, -1.0), "negative or NaN variances"),
    ],
)
def test_a_file_with_missing_misshaped_or_non_finite_statistics_is_refused(
    tmp_path, change, message
) -> None:
    path = trained().save(tmp_path / "m.safetensors")
    with pytest.raises(ModelFileError, match=message):
        nm.load(_rewritten(path, change))


# ------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize(
    "opt",
    [{"optimizer": "adam", "eta": 0.01}, {"optimizer": "sgd", "eta": 0.1, "momentum": 0.9}],
    ids=["adam", "momentum"],
)
def test_interrupted_and_resumed_equals_uninterrupted_with_the_statistics(tmp_path, opt) -> None:
    X, y = data(bn_net(), 40, seed=3)
    kw = dict(epochs=4, mini_batch_size=8, seed=5, **opt)
    full = bn_net()
    full.fit(X, y, **kw)
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        bn_net().fit(X, y, checkpoint=path, callbacks=[Interrupt(1)], **kw)
    resumed = bn_net()
    resumed.fit(X, y, checkpoint=path, resume=True, **kw)
    for a, b in zip(full.weights + full.biases, resumed.weights + resumed.biases):
        assert np.array_equal(a, b)
    assert same_states(states(resumed), states(full))
    assert not same_states(states(full), states(bn_net()))  # they did move


def test_early_stopping_restores_the_best_epochs_statistics_through_a_resume(tmp_path) -> None:
    X, y = data(bn_net(), 40, seed=3)
    Xv, yv = data(bn_net(), 10, seed=4)
    seen: list = []

    def record(net, history, epoch):
        seen.append(states(net))

    kw = dict(epochs=6, mini_batch_size=8, seed=5, optimizer="adam", eta=0.05, patience=1)
    kw["validation_data"] = (Xv, yv)
    full = bn_net()
    history = full.fit(X, y, callbacks=[record], **kw)
    assert history.best_epoch is not None
    assert same_states(states(full), seen[history.best_epoch])
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        bn_net().fit(X, y, checkpoint=path, callbacks=[Interrupt(history.best_epoch + 1)], **kw)
    resumed = bn_net()
    resumed.fit(X, y, checkpoint=path, resume=True, **kw)
    assert same_states(states(resumed), states(full))
    assert all(np.array_equal(a, b) for a, b in zip(full.weights, resumed.weights))


# ------------------------------------------------------------------------------ ONNX


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnxruntime_runs_the_inference_form_and_from_onnx_reads_it_back(tmp_path, dtype) -> None:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    net = trained("float32")
    if dtype == "float64":  # no float64 Conv kernel in onnxruntime: a dense net there
        layers = [Input(5), Dense(4, "relu", batch_norm=True), LayerNorm(), Dense(3, "softmax")]
        net = nm.Network(layers, cost="log_likelihood", seed=0, dtype=dtype)
        X5 = np.random.default_rng(0).standard_normal((20, 5))
        net.fit(X5, np.arange(20) % 3, epochs=2, mini_batch_size=5, eta=0.1)
    path = nm.to_onnx(net, tmp_path / "m.onnx", dtype=dtype)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    ops = [n.op_type for n in model.graph.node]
    assert "BatchNormalization" in ops and "LayerNormalization" in ops
    bn = next(n for n in model.graph.node if n.op_type == "BatchNormalization")
    assert list(bn.input)[3:] == [
        f"{bn.input[1][:-7]}.running_mean",
        f"{bn.input[1][:-7]}.running_var",
    ]
    X = np.random.default_rng(2).standard_normal((9, *net.layers[0].shape)).astype(dtype)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": X})
    tol = 1e-5 if dtype == "float32" else 1e-9  # ONNX's epsilon is a float32 attribute
    np.testing.assert_allclose(out, net.feedforward(X), rtol=tol, atol=tol)
    assert np.array_equal(out.argmax(axis=1), net.predict(X))
    back = nm.from_onnx(path)
    assert back.config() == net.config()
    assert same_states(states(back), states(net))


def test_layernorm_over_images_in_onnx_and_torch(tmp_path) -> None:
    """LayerNorm on an image normalises its C·H·W values: ONNX's axis 1, torch's
    normalized_shape (C, H, W)."""
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    layers = [Input((2, 5, 5)), LayerNorm(), Conv2D(3, 3, activation="tanh"), LayerNorm(1e-3)]
    net = nm.Network([*layers, Dense(3, "softmax")], cost="log_likelihood", seed=0)
    X = np.random.default_rng(0).standard_normal((12, 2, 5, 5)).astype(np.float32)
    net.fit(X, np.arange(12) % 3, epochs=2, mini_batch_size=4, eta=0.1)
    assert net.layers[1].W.shape == (2, 5, 5) and net.layers[1].W.std() > 0  # γ trained
    path = nm.to_onnx(net, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": X})
    np.testing.assert_allclose(out, net.feedforward(X), rtol=1e-5, atol=1e-6)
    assert nm.from_onnx(path).config() == net.config()
    model = nm.to_torch(net).eval()
    assert tuple(model[0].normalized_shape) == (2, 5, 5)
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(X)).numpy(), out, rtol=1e-5, atol=1e-6)
