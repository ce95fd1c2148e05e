"""Model files and checkpoints of networks of layers: the layers in the header, exact
round trips, corrupted headers refused before any allocation, and bit-identical resume."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import nnmath as nm
from conftest import Interrupt
from layer_architectures import images, random_network
from nnmath.io import ModelFileError
from nnmath.layers import LAYERS, Conv2D, Dense, Dropout, Input, MaxPool2D


def conv_net(dtype: str = "float32") -> nm.Network:
    return nm.Network(
        [Input((1, 8, 8)), Conv2D(3, 3, activation="relu"), MaxPool2D(2),
         Dense(6, activation="leaky_relu"), Dropout(0.3), Dense(3, activation="softmax")],
        cost="log_likelihood", init="he", seed=0, dtype=dtype,
    )  # fmt: skip


def header(path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def rewrite(path, change) -> object:
    """A copy of the file with its architecture JSON changed by ``change(config)``."""
    head, body = header(path)
    config = json.loads(head["__metadata__"]["config"])
    change(config)
    head["__metadata__"]["config"] = json.dumps(config)
    text = json.dumps(head).encode()
    out = path.with_name("edited.safetensors")
    out.write_bytes(struct.pack("<Q", len(text)) + text + body)
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_random_networks_round_trip_bit_for_bit(tmp_path, seed, dtype) -> None:
    net = random_network(seed, dtype)
    path = nm.save(net, tmp_path / "m.safetensors")
    back = nm.load(path)
    assert type(back) is type(net) and back.config() == net.config()
    assert [repr(a) for a in back.layers] == [repr(a) for a in net.layers]
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    X, _ = images(net, 7)
    assert np.array_equal(back.predict(X), net.predict(X))
    assert np.array_equal(back.feedforward(X), net.feedforward(X))


def test_the_header_names_each_layer_and_torch_positions(tmp_path) -> None:
    from safetensors import safe_open

    net = conv_net()
    path = net.save(tmp_path / "m.safetensors")
    with safe_open(str(path), framework="numpy") as f:
        meta, names = f.metadata(), sorted(f.keys())
    assert meta["format_version"] == "2"
    config = json.loads(meta["config"])
    assert [layer["type"] for layer in config["layers"]] == [
        "input", "conv2d", "maxpool2d", "flatten", "dense", "dropout", "dense"
    ]  # fmt: skip
    conv = {"type": "conv2d", "out_channels": 3, "kernel_size": 3, "stride": 1, "padding": 0}
    assert config["layers"][1] == {**conv, "activation": {"name": "relu"}}
    assert config["layers"][4]["activation"] == {"name": "leaky_relu", "alpha": 0.01}
    # Conv2d, ReLU, MaxPool2d, Flatten, Linear, LeakyReLU, Dropout, Linear, Softmax
    assert names == ["0.bias", "0.weight", "4.bias", "4.weight", "7.bias", "7.weight"]


def test_every_layer_type_rebuilds_from_its_config() -> None:
    for cls in LAYERS.values():
        for kwargs, _ in cls.EXAMPLES:
            layer = cls(**kwargs)
            again = cls.from_config(json.loads(json.dumps(layer.config())))
            assert repr(again) == repr(layer) and again.config() == layer.config()


def test_dense_files_are_unchanged(tmp_path) -> None:
    net = nm.Network([Input(4), Dense(3, "tanh"), Dense(2, "softmax")], cost="log_likelihood")
    path = nm.save(net, tmp_path / "d.safetensors")
    head, _ = header(path)
    assert head["__metadata__"]["format_version"] == "1"
    assert "sizes" in json.loads(head["__metadata__"]["config"])
    assert type(nm.load(path)) is nm.Network


def _set(i, key, value):
    def change(config):
        config["layers"][i][key] = value

    return change


@pytest.mark.parametrize(
    "change, message",
    [
        (_set(1, "type", "conv3d"), "unknown layer type 'conv3d'"),
        (_set(1, "out_channels", 10**9), "tensor '0.weight' of layers[1]"),
        (_set(1, "kernel_size", 2**40), "not a σ or a number below 2**31"),
        (_set(1, "stride", 0), "stride must be an int ≥ 1"),
        (_set(1, "dilation", 2), "unexpected keyword argument 'dilation'"),
        (_set(1, "activation", {"name": "nope"}), "unknown activation 'nope'"),
        (_set(1, "activation", {"name": "relu", "alpha": 1}), "invalid parameter alpha"),
        (_set(2, "size", 3), "tensor '4.weight' of layers[4]"),
        (_set(0, "shape", [1, 10**6, 10**6]), "tensor '4.weight'"),
        (_set(0, "shape", [2**30, 2**30, 2**30]), "too large"),
        (_set(5, "p", 1.5), "p is a probability"),
        (lambda c: c["layers"].pop(3), "follows an image without a flatten"),
        (lambda c: c["layers"].pop(0), "one Input, its first layer"),
        (lambda c: c.update(layers="conv"), "not a list"),
        (lambda c: c["layers"].append({"type": "dense", "n": 3}), "'9.weight'"),
    ],
)
def test_corrupted_layers_are_model_file_errors(tmp_path, change, message) -> None:
    path = conv_net().save(tmp_path / "m.safetensors")
    with pytest.raises(ModelFileError, match="edited.safetensors") as info:
        nm.load(rewrite(path, change))
    assert message in str(info.value)


def test_a_header_declaring_huge_layers_allocates_nothing_large(tmp_path) -> None:
    import tracemalloc

    path = conv_net().save(tmp_path / "m.safetensors")
    huge = rewrite(path, _set(4, "n", 2**30))  # a (2**30, 27) W, were it built
    tracemalloc.start()
    with pytest.raises(ModelFileError, match="has shape"):
        nm.load(huge)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 2**20


# ------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize(
    "opt", [{"optimizer": "adam", "eta": 0.01, "lmbda": 0.1},
            {"optimizer": "sgd", "eta": 0.1, "momentum": 0.9},
            {"optimizer": "adam", "eta": 0.05, "patience": 1}],
    ids=["adam", "momentum", "early-stopping"],
)  # fmt: skip
def test_interrupted_and_resumed_equals_uninterrupted_bit_for_bit(tmp_path, opt) -> None:
    net = conv_net()
    X, y = images(net, 40, seed=3)
    Xv, yv = images(net, 10, seed=4)
    kw = dict(epochs=4, mini_batch_size=8, seed=5, validation_data=(Xv, yv), **opt)
    full = conv_net()
    h_full = full.fit(X, y, **kw)
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        conv_net().fit(X, y, checkpoint=path, callbacks=[Interrupt(1)], **kw)
    resumed = conv_net()
    h_res = resumed.fit(X, y, checkpoint=path, resume=True, **kw)
    for a, b in zip(full.weights + full.biases, resumed.weights + resumed.biases):
        assert np.array_equal(a, b)
    assert h_res.training_cost == h_full.training_cost
    assert h_res.validation_accuracy == h_full.validation_accuracy
    assert h_res.best_epoch == h_full.best_epoch and h_res.epochs == h_full.epochs
    if "patience" not in opt:  # (early stopping restores the best epoch's, not the file's)
        back = nm.load(path)  # the checkpoint is a model file too
        assert np.array_equal(back.predict(Xv), full.predict(Xv))


def test_resume_into_another_architecture_is_refused(tmp_path) -> None:
    net = conv_net()
    X, y = images(net, 16)
    path = tmp_path / "run.safetensors"
    net.fit(X, y, epochs=1, eta=0.1, checkpoint=path, seed=0)
    other = nm.Network([Input((1, 8, 8)), Conv2D(4, 3, activation="relu"), MaxPool2D(2),
                        Dense(6, activation="leaky_relu"), Dropout(0.3),
                        Dense(3, activation="softmax")], cost="log_likelihood")  # fmt: skip
    with pytest.raises(ModelFileError, match="checkpoint's layers"):
        other.fit(X, y, epochs=2, eta=0.1, checkpoint=path, resume=True, seed=0)
    dense = nm.Network([64, 3], output_activation="softmax", cost="log_likelihood")
    with pytest.raises(ModelFileError, match="checkpoint's layers"):
        dense.fit(X.reshape(16, -1), y, epochs=2, eta=0.1, checkpoint=path, resume=True)
