"""Model files (safetensors + JSON architecture) and the PyTorch bridge."""

from __future__ import annotations

import json
import os
import pickle
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nnmath as nm
from conftest import ELEMENTWISE_NAMES, time_limit
from nnmath.io import ModelFileError

SRC = str(Path(__file__).resolve().parents[1] / "src")

# every registered element-wise activation (the registry's, so a new entry is tested without
# an edit), with non-default parameters where it has some
HIDDEN = [
    (name, {key: 0.5 * value + 0.1 for key, value in nm.get_activation(name).params.items()})
    for name in ELEMENTWISE_NAMES
]
OUTPUTS = [("softmax", "log_likelihood"), ("sigmoid", "cross_entropy"), ("identity", "quadratic")]


def make_net(
    hidden: str = "tanh",
    params: dict | None = None,
    output: str = "softmax",
    cost: str = "log_likelihood",
    dtype: str = "float32",
    seed: int = 0,
) -> nm.Network:
    act = nm.get_activation(hidden, **(params or {}))
    return nm.Network(
        [5, 4, 3, 3],
        activation=[act, act],
        output_activation=output,
        cost=cost,
        init="glorot",
        dtype=dtype,
        seed=seed,
    )


def same_network(a: nm.Network, b: nm.Network) -> bool:
    return a.config() == b.config() and all(
        x.dtype == y.dtype and np.array_equal(x, y)
        for x, y in zip(a.weights + a.biases, b.weights + b.biases)
    )


def header_and_data(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def write_raw(path: Path, header: dict, data: bytes) -> Path:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


# ---------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden,params", HIDDEN)
def test_round_trip_every_activation(tmp_path, dtype, hidden, params):
    net = make_net(hidden, params, dtype=dtype)
    path = nm.save(net, tmp_path / "m.safetensors")
    back = nm.load(path)
    assert same_network(net, back)
    assert back.activation_functions[0].params == params
    X = np.random.default_rng(1).standard_normal((7, 5))
    assert np.array_equal(net.feedforward(X), back.feedforward(X))


@pytest.mark.parametrize("output,cost", OUTPUTS)
def test_round_trip_outputs_and_costs(tmp_path, output, cost):
    net = make_net(output=output, cost=cost, dtype="float64")
    net.save(tmp_path / "m.safetensors")  # the Network method
    back = nm.load(tmp_path / "m.safetensors")
    assert same_network(net, back)
    assert back.cost_name == cost


def test_metadata_is_plain_json_strings(tmp_path):
    from safetensors import safe_open

    net = make_net("elu", {"alpha": 0.5})
    path = nm.save(net, tmp_path / "m.safetensors")
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
        names = sorted(f.keys())
    assert meta["format"] == "nnmath.network"
    assert meta["nnmath_version"] == nm.__version__
    assert json.loads(meta["config"]) == net.config()
    assert names == ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]


def test_custom_activation_cannot_be_saved(tmp_path):
    act = nm.Activation.from_functions(np.sin, np.cos, name="sine")
    net = nm.Network([2, 3, 1], activation=act, output_activation="identity", seed=0)
    with pytest.raises(ValueError, match="custom activation 'sine'"):
        nm.save(net, tmp_path / "m.safetensors")
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------- atomic writes


def test_failed_write_leaves_old_file_intact(tmp_path, monkeypatch):
    path = nm.save(make_net(seed=0), tmp_path / "m.safetensors")
    before = path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        nm.save(make_net(seed=1), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary left
    monkeypatch.undo()
    nm.save(make_net(seed=1), path)
    assert same_network(nm.load(path), make_net(seed=1))


# ---------------------------------------------------------------------------- bad files


@pytest.fixture
def saved(tmp_path) -> Path:
    return nm.save(make_net("leaky_relu", {"alpha": 0.1}), tmp_path / "good.safetensors")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file at"):
        nm.load(tmp_path / "absent.safetensors")


def test_directory_is_not_a_model(tmp_path):
    with pytest.raises(ModelFileError, match="directory"):
        nm.load(tmp_path)


@pytest.mark.parametrize("keep", [0, 5, 8, 40, -1])
def test_truncated_file(saved, keep):
    raw = saved.read_bytes()
    cut = saved.with_name("cut.safetensors")
    cut.write_bytes(raw[:keep] if keep >= 0 else raw[:-3])
    with pytest.raises(ModelFileError, match="cut.safetensors") as info:
        nm.load(cut)
    assert any(w in info.value.problem for w in ("too short", "truncated"))


def test_pickle_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"weights": Payload()}))
    with pytest.raises(ModelFileError, match="pickle"):
        nm.load(path)
    assert not marker.exists()


def test_a_header_length_that_starts_like_a_pickle_still_loads(tmp_path):
    """A safetensors length field of 640, 896, 1152 or 1408 bytes begins 0x80 0x02..0x05, as a
    pickle does; such a file (its JSON header padded with spaces, which the format allows)
    loads, and is the network that was saved."""
    net = make_net()
    path = tmp_path / "model.safetensors"
    nm.save(net, path)
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header, rest = data[8 : 8 + n].rstrip(b" "), data[8 + n :]
    lengths = [k * 256 + 0x80 for k in (2, 3, 4, 5) if k * 256 + 0x80 >= len(header)]
    assert lengths  # the header of this small network is short enough
    for length in lengths:
        padded = tmp_path / f"padded{length}.safetensors"
        blob = struct.pack("<Q", length) + header.ljust(length, b" ") + rest
        assert blob[0] == 0x80 and 2 <= blob[1] <= 5
        padded.write_bytes(blob)
        loaded = nm.load(padded)
        for a, b in zip(loaded.weights + loaded.biases, net.weights + net.biases):
            np.testing.assert_array_equal(a, b)


def test_torch_save_zip_and_npy_are_refused(tmp_path):
    z = tmp_path / "model.pt"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    with pytest.raises(ModelFileError, match=r"a PyTorch file \(torch.save\).*nnmath.from_torch"):
        nm.load(z)
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("model.keras/config.json", b"{}")
    with pytest.raises(ModelFileError, match="zip archive"):
        nm.load(z)
    npy = tmp_path / "w.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(ModelFileError, match="NumPy"):
        nm.load(npy)


def test_an_onnx_file_or_npz_archive_is_named_with_the_reader_to_use(tmp_path):
    """nm.load("model.onnx") said "the header length field says 7020388812967774472 bytes"."""
    pytest.importorskip("onnx", reason="writes an ONNX file")
    net = make_net()
    path = nm.to_onnx(net, tmp_path / "model.onnx")
    words = "this is an ONNX model, not a safetensors file: read it with nnmath.from_onnx"
    for name in ("model.onnx", "model.bin"):  # by its bytes, whatever its name
        path = path.rename(tmp_path / name)
        with pytest.raises(ModelFileError, match=re.escape(words)) as info:
            nm.load(path)
        assert "header length" not in str(info.value)
    np.savez(tmp_path / "w.npz", W=np.ones(3))
    with pytest.raises(ModelFileError, match=r"a NumPy \.npz archive.*net\.set_parameters"):
        nm.load(tmp_path / "w.npz")
    saved = nm.save(net, tmp_path / "really-safetensors.onnx")  # a name alone decides nothing
    assert nm.load(saved).config() == net.config()


def test_garbage_and_wrong_header_length(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"hello, this is not a model file at all")
    with pytest.raises(ModelFileError, match="header length"):
        nm.load(junk)
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(struct.pack("<Q", 2**62) + b"{}")
    with pytest.raises(ModelFileError, match="header length"):
        nm.load(huge)
    notjson = tmp_path / "notjson.safetensors"
    notjson.write_bytes(struct.pack("<Q", 5) + b"{abc}")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        nm.load(notjson)


def edit(saved: Path, change) -> Path:
    header, data = header_and_data(saved)
    header, data = change(header, data)
    return write_raw(saved.with_name("edited.safetensors"), header, data)


def set_config(**updates):
    def change(header, data):
        config = json.loads(header["__metadata__"]["config"])
        config.update(updates)
        header["__metadata__"]["config"] = json.dumps(config)
        return header, data

    return change


@pytest.mark.parametrize(
    "change,message",
    [
        (set_config(sizes=[5, 4, 7, 3]), "has shape"),
        (set_config(sizes=[5, 4, 3]), "expected 2 activations"),
        (
            set_config(activations=[{"name": "no_such_sigma"}] * 3),
            "unknown activation 'no_such_sigma'",
        ),
        (
            set_config(activations=[{"name": "elu", "alpha": "__import__('os')"}] * 3),
            "invalid parameters",
        ),
        (set_config(cost="hinge"), "unknown cost 'hinge'"),
        (set_config(dtype="float16"), "float32 or float64"),
        (set_config(dtype="float64"), "is float32, the architecture says float64"),
        (set_config(sizes="[5, 4, 3, 3]"), "positive integers"),
    ],
)
def test_hand_crafted_architecture(saved, change, message):
    with pytest.raises(ModelFileError, match="edited.safetensors") as info:
        nm.load(edit(saved, change))
    assert message in str(info.value)


def _activations(*acts):
    return set_config(activations=list(acts))


def _add_tensor(name, arr):
    raw = arr.astype("<f4").tobytes()

    def change(header, data):
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}  # fmt: skip
        return header, data + raw

    return change


@pytest.mark.parametrize(
    "change, message",
    [
        (_activations({"name": "elu", "beta": 2}, {"name": "elu"}, {"name": "softmax"}),
         "activation 0 (elu) has unknown parameters ['beta']; it takes ['alpha']"),
        (_activations({"name": "elu", "alpha": 10**400}, {"name": "elu"}, {"name": "softmax"}),
         "invalid parameters"),
        (_activations({"name": "elu", "alpha": True}, {"name": "elu"}, {"name": "softmax"}),
         "invalid parameters"),
        (_activations({"name": "tanh"}, {"name": "tanh"}, {"name": "relu"}),
         "cannot be built: the log_likelihood cost takes ln a"),
        (set_config(sizes=[5, 4, 3, 2**64]), "positive integers"),
        (_add_tensor("extra", np.zeros(2)), "tensors ['extra'] that are not part of a 3-layer"),
        (_add_tensor("0.weightx", np.zeros(2)), "tensors ['0.weightx']"),
        (_add_tensor("optimizer.m_w.0", np.zeros(2)), "tensors ['optimizer.m_w.0']"),
    ],
)  # fmt: skip
def test_malformed_models_are_model_file_errors_naming_the_file(saved, change, message):
    with pytest.raises(ModelFileError, match="edited.safetensors") as info:
        nm.load(edit(saved, change))
    assert message in str(info.value)


def test_a_header_of_a_million_tensors_is_refused_at_once(tmp_path):
    """58 MB of empty tensor entries: refused once the count passes MAX_TENSORS, well inside
    a second (it took 27 s and 2.3 GB when every entry was parsed and checked)."""
    import time

    from nnmath.io.safetensors import MAX_TENSORS

    entry = '"t%d":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}'
    text = ("{" + ",".join(entry % i for i in range(1_000_000)) + "}").encode()
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text)
    t0 = time.perf_counter()
    with pytest.raises(ModelFileError, match=f"more than {MAX_TENSORS} tensor entries"):
        nm.load(path)
    assert time.perf_counter() - t0 < 5  # generous for a loaded machine; measured ~0.3 s


def test_special_files_are_refused(tmp_path):
    import os

    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)  # reading it would block until a writer comes
    with time_limit(10, "nm.load(FIFO)"), pytest.raises(ModelFileError, match="device or a FIFO"):
        nm.load(fifo)
    if Path("/dev/zero").exists():
        with (
            time_limit(10, "nm.load('/dev/zero')"),
            pytest.raises(ModelFileError, match="device or a FIFO"),
        ):
            nm.load("/dev/zero")


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_save_writes_with_the_users_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = nm.save(make_net(), tmp_path / "m.safetensors")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_missing_tensor(saved):
    def drop_last_bias(header, data):
        entry = header.pop("4.bias")
        begin, end = entry["data_offsets"]
        # rebuild the data section without that tensor's bytes
        for e in header.values():
            if isinstance(e, dict) and "data_offsets" in e and e["data_offsets"][0] >= end:
                e["data_offsets"] = [o - (end - begin) for o in e["data_offsets"]]
        return header, data[:begin] + data[end:]

    with pytest.raises(ModelFileError, match=r"tensor '4.bias' \(layer 2\) is missing"):
        nm.load(edit(saved, drop_last_bias))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_weights(saved, bad):
    """save refuses what load would refuse (and writes nothing); load refuses a file holding
    them all the same."""
    import safetensors.numpy
    from safetensors import safe_open

    net = nm.load(saved)
    net.weights[1][0, 0] = bad
    target = saved.with_name("nan.safetensors")
    with pytest.raises(ValueError, match=r"tensor '2.weight' holds 1 NaN or infinite values"):
        nm.save(net, target)
    assert not target.exists()
    with safe_open(str(saved), framework="numpy") as f:
        tensors, metadata = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
    tensors["2.weight"][0, 0] = bad
    safetensors.numpy.save_file(tensors, str(target), metadata=metadata)
    with pytest.raises(ModelFileError, match="NaN"):
        nm.load(target)


def test_byte_ranges_are_checked(saved):
    def overlap(header, data):
        header["0.bias"]["data_offsets"] = header["0.weight"]["data_offsets"]
        return header, data

    with pytest.raises(ModelFileError, match="byte range|starts at byte"):
        nm.load(edit(saved, overlap))

    def out_of_range(header, data):
        header["0.bias"]["data_offsets"] = [0, 10**9]
        return header, data

    with pytest.raises(ModelFileError, match="outside"):
        nm.load(edit(saved, out_of_range))

    def bad_dtype(header, data):
        header["0.bias"]["dtype"] = "U8"
        return header, data

    with pytest.raises(ModelFileError, match="dtype 'U8'"):
        nm.load(edit(saved, bad_dtype))


def test_safetensors_without_nnmath_metadata(tmp_path):
    import safetensors.numpy

    path = tmp_path / "bare.safetensors"
    safetensors.numpy.save_file({"0.weight": np.ones((2, 2), np.float32)}, str(path))
    with pytest.raises(ModelFileError, match="without nnmath's architecture metadata"):
        nm.load(path)


def test_errors_are_value_errors(tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"\x00" * 3)
    with pytest.raises(ValueError):
        nm.load(bad)


# ---------------------------------------------------------------------------- PyTorch

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden,params", HIDDEN)
@pytest.mark.parametrize("output,cost", OUTPUTS)
def test_to_torch_same_outputs(dtype, hidden, params, output, cost):
    net = make_net(hidden, params, output, cost, dtype=dtype, seed=3)
    module = nm.to_torch(net)
    X = np.random.default_rng(2).standard_normal((9, 5)).astype(dtype)
    with torch.no_grad():
        out = module(torch.from_numpy(X)).numpy()
    assert out.dtype == np.dtype(dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(out, net.feedforward(X), rtol=tol, atol=tol)
    back = nm.from_torch(module, cost=cost, init="glorot")
    assert same_network(net, back)
    assert back.config()["activations"] == net.config()["activations"]
    assert back.sizes == net.sizes and back.cost_name == cost
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert np.array_equal(a, b)


def test_from_torch_built_in_torch():
    nn = torch.nn
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Linear(6, 8),
        nn.ELU(alpha=0.3),
        nn.Sequential(nn.Linear(8, 5), nn.LeakyReLU(0.05)),
        nn.Linear(5, 4),
        nn.Softmax(dim=1),
    )
    net = nm.from_torch(module)
    assert net.sizes == [6, 8, 5, 4]
    assert [a.name for a in net.activation_functions] == ["elu", "leaky_relu", "softmax"]
    assert net.activation_functions[0].alpha == pytest.approx(0.3)
    assert net.cost_name == "log_likelihood"
    X = torch.randn(10, 6)
    with torch.no_grad():
        expected = module(X).numpy()
    np.testing.assert_allclose(net.feedforward(X.numpy()), expected, rtol=1e-5, atol=1e-6)
    # a final Linear with nothing after it is an identity layer
    plain = nm.from_torch(nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1)))
    assert [a.name for a in plain.activation_functions] == ["tanh", "identity"]
    assert plain.cost_name == "quadratic"


@pytest.mark.parametrize(
    "module,message",
    [
        (lambda nn: nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5)), "Dropout"),
        (lambda nn: nn.Sequential(nn.Conv1d(1, 1, 3)), "Conv1d"),
        (lambda nn: nn.Sequential(nn.ReLU(), nn.Linear(3, 2)), "before any Linear"),
        (lambda nn: nn.Sequential(nn.Linear(3, 2), nn.Linear(4, 2)), "takes 4 inputs"),
        (lambda nn: nn.Sequential(nn.Linear(3, 2), nn.Softmax(dim=0)), "Softmax\\(dim=0\\)"),
        (lambda nn: nn.Sequential(nn.Linear(3, 2).half()), "float32 or all float64"),
        (lambda nn: nn.Sequential(), "no Linear"),
    ],
)
def test_from_torch_unsupported(module, message):
    with pytest.raises(ValueError, match=message):
        nm.from_torch(module(torch.nn))


def test_saved_file_loads_with_safetensors_torch_alone(saved):
    """No nnmath on the reading side: safetensors.torch + a Sequential built from the metadata."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    nn = torch.nn
    with safe_open(str(saved), framework="pt") as f:
        config = json.loads(f.metadata()["config"])
    modules = {"tanh": nn.Tanh, "softmax": lambda: nn.Softmax(dim=1)}
    layers = []
    for n_in, n_out, act in zip(config["sizes"], config["sizes"][1:], config["activations"]):
        layers.append(nn.Linear(n_in, n_out))
        if act["name"] == "leaky_relu":
            layers.append(nn.LeakyReLU(act["alpha"]))
        else:
            layers.append(modules[act["name"]]())
    module = nn.Sequential(*layers)
    module.load_state_dict(load_file(str(saved)))  # strict: every name and shape matches
    net = nm.load(saved)
    X = np.random.default_rng(4).standard_normal((6, 5)).astype(np.float32)
    with torch.no_grad():
        out = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(out, net.feedforward(X), rtol=1e-5, atol=1e-6)
    # and to_torch's module takes the file's state dict as it is
    nm.to_torch(make_net(seed=9)).load_state_dict(load_file(str(saved)))


def test_import_nnmath_does_not_import_torch_or_sklearn_base():
    code = (
        "import sys, nnmath\n"
        "print('torch' in sys.modules, 'sklearn.base' in sys.modules)\n"
        "nnmath.load, nnmath.NNMathClassifier\n"
        "print('sklearn.base' in sys.modules, 'torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        check=True,
    ).stdout.split()
    assert out == ["False", "False", "True", "False"]


def test_deeply_nested_header_is_a_clear_error(tmp_path):
    depth = 100_000
    text = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
    path = tmp_path / "deep.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text)
    with pytest.raises(ModelFileError, match="not valid JSON"):
        nm.load(path)


def test_random_corruption_never_escapes_as_another_error(saved):
    """Flip, drop or insert bytes anywhere: load either works or raises ModelFileError."""
    raw = bytearray(saved.read_bytes())
    rng = np.random.default_rng(0)
    bad = saved.with_name("fuzz.safetensors")
    outcomes = {"loaded": 0, "refused": 0}
    for trial in range(300):
        data = bytearray(raw)
        i = int(rng.integers(0, len(data)))
        if trial % 3 == 0:
            data[i] ^= 1 << int(rng.integers(0, 8))
        elif trial % 3 == 1:
            del data[i : i + int(rng.integers(1, 9))]
        else:
            data[i:i] = bytes(rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8))
        bad.write_bytes(bytes(data))
        try:
            nm.load(bad)
            outcomes["loaded"] += 1
        except ModelFileError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and sum(outcomes.values()) == 300
