"""Backends: the same network code on NumPy and PyTorch tensors (CPU here; CUDA / CuPy when a
GPU is present). Parity is checked in float64: the same seed gives the same weights, the
same gradients (to 1e-10) and the same training run as NumPy."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import nnmath as nm
from nnmath.backend import (
    Backend,
    BackendUnavailable,
    DeviceUnavailable,
    get_backend,
    to_numpy,
)
from nnmath.diagnostics import gradient_norms

torch = pytest.importorskip(
    "torch", reason="the PyTorch backend tests need torch: pip install torch==2.13.0"
)

ROOT = Path(__file__).resolve().parents[1]
HAS_CUDA = torch.cuda.is_available()
HAS_CUPY = importlib.util.find_spec("cupy") is not None
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no GPU present: PyTorch sees no CUDA device")


def _cupy_gpu() -> bool:
    if not HAS_CUPY:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


needs_cupy = pytest.mark.skipif(
    not _cupy_gpu(), reason="CuPy backend needs cupy-cuda12x and an NVIDIA GPU (none here)"
)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny matrices: one intra-op thread is fastest (and avoids stalls on a busy host)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


CASES = [  # (sizes, hidden, output, cost)
    ([5, 4, 3], "sigmoid", "sigmoid", "quadratic"),
    ([6, 7, 5, 3], "tanh", "sigmoid", "cross_entropy"),
    ([4, 8, 3], "relu", "softmax", "log_likelihood"),
    ([5, 6, 6, 4, 3], "leaky_relu", "softmax", "quadratic"),
    ([3, 5, 3], "elu", "softmax", "cross_entropy"),
    ([6, 4, 3], "tanh", "identity", "quadratic"),
    ([5, 9, 3], "relu", "sigmoid", "cross_entropy"),
]


def _pair(sizes, hidden, output, cost, dtype="float64", init="glorot", seed=3):
    kw = dict(
        activation=hidden, output_activation=output, cost=cost, init=init, seed=seed, dtype=dtype
    )
    return nm.Network(sizes, **kw), nm.Network(sizes, backend="torch", **kw)


def _data(sizes, m=23, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, sizes[0])), rng.integers(0, sizes[-1], m)


def _close(torch_list, numpy_list, rtol=1e-10, atol=1e-12):
    assert len(torch_list) == len(numpy_list)
    for t, a in zip(torch_list, numpy_list):
        assert isinstance(t, torch.Tensor)
        np.testing.assert_allclose(to_numpy(t), a, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------- get_backend


def test_numpy_backend_is_numpy_itself() -> None:
    b = get_backend()
    assert (b.name, b.device, b.xp) == ("numpy", "cpu", np)
    x = np.arange(3.0)
    assert b.asarray(x, np.float64) is x  # no copy on the NumPy path
    assert b.owns(x) and not b.owns(torch.zeros(2))


def test_torch_backend_namespace_and_moves() -> None:
    import array_api_compat.torch as compat_torch

    b = get_backend("torch", "cpu")
    assert (b.name, b.device) == ("torch", "cpu") and b.xp is compat_torch
    x = np.arange(6.0).reshape(2, 3)
    t = b.asarray(x, np.float32)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.device.type == "cpu"
    assert b.owns(t) and not b.owns(x)
    back = b.to_numpy(t)
    assert isinstance(back, np.ndarray) and back.dtype == np.float32
    np.testing.assert_array_equal(back, x)
    c = b.copy(t)
    c += 1
    np.testing.assert_array_equal(to_numpy(t), x)  # a real copy
    assert get_backend(b) is b and get_backend("TORCH") == b


def test_networks_with_a_backend_copy_and_pickle() -> None:
    import copy
    import pickle

    net = nm.Network([3, 4, 2], seed=0, backend="torch", dtype="float64")
    for twin in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert twin.backend == net.backend and twin.backend.xp is net.backend.xp
        _close(twin.weights, [to_numpy(W) for W in net.weights], rtol=0, atol=0)


def test_unknown_backend_and_device_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown backend 'jax'.*cupy.*numpy.*torch"):
        get_backend("jax")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        get_backend("torch", "tpu")
    with pytest.raises(ValueError, match="does not run on device 'cuda'.*torch"):
        get_backend("numpy", "cuda")
    with pytest.raises(ValueError, match="unknown backend"):
        nm.Network([2, 2], backend="tensorflow")


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a GPU; the no-GPU error cannot occur")
def test_cuda_without_gpu_says_no_gpu_present() -> None:
    with pytest.raises(DeviceUnavailable, match="no GPU present.*device='cpu'"):
        get_backend("torch", "cuda")
    with pytest.raises(ValueError, match="no GPU present"):  # DeviceUnavailable is a ValueError
        nm.Network([2, 3, 2], backend="torch", device="cuda")
    net = nm.Network([2, 3, 2], seed=0)
    with pytest.raises(ValueError, match="no GPU present"):
        net.to("torch", "cuda")
    assert type(net.weights[0]) is np.ndarray  # a failed move leaves the network as it was


@pytest.mark.skipif(_cupy_gpu(), reason="CuPy and a GPU are present; nothing is missing")
def test_cupy_missing_or_no_gpu_says_what_to_do() -> None:
    if HAS_CUPY:  # installed, but no GPU
        with pytest.raises(DeviceUnavailable, match="no GPU present"):
            get_backend("cupy")
    else:
        with pytest.raises(BackendUnavailable, match=r"not installed: pip install.*cupy-cuda12x"):
            get_backend("cupy")
    with pytest.raises(ValueError, match="CuPy runs on NVIDIA GPUs only"):
        get_backend("cupy", "cpu")


def test_missing_torch_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(ImportError, match=r"needs the package 'torch'.*torch==2\.13\.0"):
        get_backend("torch")


# ---------------------------------------------------------------------------- parity


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("init", ["normal", "scaled_normal", "glorot", "he"])
def test_same_seed_same_weights_on_every_backend(init: str, dtype: str) -> None:
    a, b = _pair([7, 5, 3], "sigmoid", "sigmoid", "quadratic", dtype=dtype, init=init)
    assert b.backend == Backend("torch", "cpu", None)
    for Wa, Wb, ba, bb in zip(a.weights, b.weights, a.biases, b.biases):
        assert Wb.dtype == getattr(torch, dtype) and bb.dtype == getattr(torch, dtype)
        np.testing.assert_array_equal(to_numpy(Wb), Wa)
        np.testing.assert_array_equal(to_numpy(bb), ba)


@pytest.mark.parametrize(("sizes", "hidden", "output", "cost"), CASES)
def test_torch_gradients_equal_numpy(sizes, hidden, output, cost) -> None:
    a, b = _pair(sizes, hidden, output, cost)
    X, y = _data(sizes)
    ga, gb = a.backprop(X, y), b.backprop(X, y)
    _close(gb.nabla_w, ga.nabla_w)
    _close(gb.nabla_b, ga.nabla_b)
    _close(gb.deltas, ga.deltas)
    _close(gb.zs, ga.zs)
    _close(gb.activations, ga.activations)
    assert b.cost(X, y) == pytest.approx(a.cost(X, y), rel=1e-12)


def test_unfused_softmax_delta_and_jacobian_on_torch() -> None:
    """The Jacobian path (softmax vjp with a quadratic cost) and the fused path agree."""
    from nnmath.costs import get_cost

    act = nm.get_activation("softmax")
    z = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a = act(z)
    y = torch.eye(4, dtype=torch.float64)[:, [0, 1, 2, 3, 0, 1]]
    ll = get_cost("log_likelihood")
    fused, full = ll.delta(z, a, y, act), ll.delta(z, a, y, act, fused=False)
    np.testing.assert_allclose(to_numpy(full), to_numpy(fused), rtol=1e-10, atol=1e-12)
    J = act.jacobian(z)  # (m, n, n)
    assert tuple(J.shape) == (6, 4, 4)
    np.testing.assert_allclose(to_numpy(J), act.jacobian(to_numpy(z)), rtol=1e-12)


@pytest.mark.parametrize(
    "options",
    [
        {"eta": 0.5},
        {"eta": 0.3, "lmbda": 0.5, "momentum": 0.8, "nesterov": True},
        {"eta": 0.01, "optimizer": "adam", "lmbda": 0.1},
    ],
    ids=["sgd", "nesterov-l2", "adam"],
)
def test_training_on_torch_matches_numpy(options) -> None:
    sizes = [6, 8, 5, 3]
    a, b = _pair(sizes, "tanh", "softmax", "log_likelihood", init="scaled_normal")
    X, y = _data(sizes, m=60)
    Xv, yv = _data(sizes, m=20, seed=1)
    kw = dict(
        epochs=4,
        mini_batch_size=7,
        seed=5,
        validation_data=(Xv, yv),
        monitor_training_accuracy=True,
        **options,
    )
    ha, hb = a.fit(X, y, **kw), b.fit(X, y, **kw)
    _close(b.weights, a.weights)
    _close(b.biases, a.biases)
    assert hb.validation_accuracy == ha.validation_accuracy
    assert hb.training_accuracy == ha.training_accuracy
    np.testing.assert_allclose(hb.training_cost, ha.training_cost, rtol=1e-10)
    np.testing.assert_allclose(hb.validation_cost, ha.validation_cost, rtol=1e-10)
    assert hb.best_epoch == ha.best_epoch
    for values in (hb.training_cost, hb.validation_cost, hb.validation_accuracy, hb.epoch_time):
        assert all(type(v) is float for v in values)  # plain Python numbers, not tensors
    assert json.dumps(hb.to_dict())  # and so serialisable


def test_early_stopping_restores_weights_on_torch() -> None:
    sizes = [6, 5, 3]
    a, b = _pair(sizes, "sigmoid", "sigmoid", "cross_entropy")
    X, y = _data(sizes, m=40)
    kw = dict(
        epochs=12,
        mini_batch_size=5,
        eta=4.0,
        seed=0,
        validation_data=_data(sizes, 15, 9),
        patience=2,
    )
    ha, hb = a.fit(X, y, **kw), b.fit(X, y, **kw)
    assert (hb.stopped_early, hb.best_epoch, hb.epochs) == (
        ha.stopped_early,
        ha.best_epoch,
        ha.epochs,
    )
    _close(b.weights, a.weights)


def test_results_come_back_as_numpy_and_floats() -> None:
    sizes = [4, 6, 3]
    a, b = _pair(sizes, "relu", "softmax", "log_likelihood")
    X, y = _data(sizes)
    pred = b.predict(X)
    assert isinstance(pred, np.ndarray) and pred.dtype == np.int64
    np.testing.assert_array_equal(pred, a.predict(X))
    acc, cost = b.accuracy(X, y), b.cost(X, y, lmbda=0.3)
    assert type(acc) is float and type(cost) is float
    assert acc == a.accuracy(X, y) and cost == pytest.approx(a.cost(X, y, lmbda=0.3), rel=1e-12)
    na, nb = gradient_norms(a, X, y), gradient_norms(b, X, y)
    assert all(type(v) is float for v in nb.nabla_w + nb.nabla_b)
    np.testing.assert_allclose(nb.nabla_w, na.nabla_w, rtol=1e-10)
    np.testing.assert_allclose(nb.nabla_b, na.nabla_b, rtol=1e-10)


def test_single_output_predict_on_torch() -> None:
    a, b = _pair([3, 4, 1], "tanh", "sigmoid", "cross_entropy")
    X, _ = _data([3, 4, 1])
    y = (X[:, 0] > 0).astype(float)
    np.testing.assert_array_equal(b.predict(X), a.predict(X))
    assert b.accuracy(X, y) == a.accuracy(X, y)


def test_torch_tensor_inputs_are_checked_on_the_device() -> None:
    sizes = [5, 4, 3]
    a, b = _pair(sizes, "sigmoid", "softmax", "log_likelihood")
    X, y = _data(sizes)
    X = X.astype(np.float32)
    Y = np.eye(3)[y]
    Xt, Yt = torch.tensor(X), torch.tensor(Y)  # float32 X is cast to float64 on the device
    _close(b.backprop(Xt, Yt).nabla_w, a.backprop(X, Y).nabla_w)
    assert b.accuracy(Xt, y) == a.accuracy(X, y)
    np.testing.assert_allclose(to_numpy(b.feedforward(Xt[0])), a.feedforward(X[0]), rtol=1e-12)
    bad = Xt.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="X contains NaN"):
        b.backprop(bad, Yt)
    with pytest.raises(ValueError, match="X has 4 features, the network expects 5"):
        b.feedforward(Xt[:, :4])
    with pytest.raises(ValueError, match="X has 23 rows but Y has 22"):
        b.backprop(Xt, Yt[:22])
    with pytest.raises(ValueError, match=r"Y has shape \(23, 2\)"):
        b.backprop(Xt, Yt[:, :2])
    with pytest.raises(TypeError, match="must be real and numeric"):
        b.feedforward(torch.ones(2, 5, dtype=torch.complex64))


# ---------------------------------------------------------------------------- moves


def test_to_moves_weights_and_back_exactly() -> None:
    net = nm.Network([5, 4, 3], seed=2, dtype="float64")
    W0, b0 = net.copy_parameters()
    held = net.weights[0]  # a reference taken before the move
    assert net.to("torch") is net
    assert all(isinstance(W, torch.Tensor) for W in net.weights + net.biases)
    assert "backend='torch'" in repr(net)
    X, y = _data([5, 4, 3])
    net.fit(X, y, epochs=1, mini_batch_size=5, eta=0.1, seed=0)
    W1 = [to_numpy(W).copy() for W in net.weights]
    np.testing.assert_array_equal(held, W0[0])  # new memory: training did not touch it
    assert not np.array_equal(W1[0], W0[0])
    assert net.to("numpy") is net
    assert all(type(W) is np.ndarray and W.dtype == np.float64 for W in net.weights)
    for W, W_torch in zip(net.weights, W1):
        np.testing.assert_array_equal(W, W_torch)
    ref = nm.Network([5, 4, 3], seed=2, dtype="float64")
    ref.set_parameters(W0, b0)
    ref.fit(X, y, epochs=1, mini_batch_size=5, eta=0.1, seed=0)
    for W, W_ref in zip(net.weights, ref.weights):
        np.testing.assert_allclose(W, W_ref, rtol=1e-10, atol=1e-12)


def test_set_parameters_accepts_numpy_on_torch() -> None:
    net = nm.Network([3, 2], seed=0, backend="torch", dtype="float64")
    W, b = net.copy_parameters()
    buffer = net.weights[0]
    net.set_parameters([np.zeros((2, 3))], [np.ones(2)])
    assert net.weights[0] is buffer  # the same tensor, new values
    np.testing.assert_array_equal(to_numpy(net.weights[0]), 0.0)
    np.testing.assert_array_equal(to_numpy(net.biases[0]), 1.0)
    assert not np.all(to_numpy(W[0]) == 0.0)  # the copy kept the old values


def test_optimizer_state_moves_and_saves_as_numpy() -> None:
    sizes = [4, 3, 2]
    net = nm.Network(sizes, seed=0, backend="torch", dtype="float64")
    X, y = _data(sizes, m=12)
    opt = nm.Adam(eta=0.01, n=12)
    net.fit(X, y, epochs=1, mini_batch_size=4, optimizer=opt, seed=0)
    flat = opt.state_arrays()
    assert all(isinstance(v, np.ndarray) for v in flat.values())
    resumed = nm.Adam(eta=0.01, n=12)
    # NumPy state (copied, as a checkpoint file would be): fit moves it to the device
    resumed.load_state_arrays({k: v.copy() for k, v in flat.items()})
    twin = nm.Network(sizes, backend="torch", dtype="float64")
    twin.set_parameters(*net.copy_parameters())
    net.fit(X, y, epochs=1, mini_batch_size=4, optimizer=opt, seed=1)
    twin.fit(X, y, epochs=1, mini_batch_size=4, optimizer=resumed, seed=1)
    assert all(isinstance(v, torch.Tensor) for v in resumed.state["m_w"])
    _close(twin.weights, [to_numpy(W) for W in net.weights], rtol=0, atol=0)


def test_saved_files_and_checkpoints_from_torch_match_numpy(tmp_path: Path) -> None:
    """A torch run saves the same model file, and resumes from a checkpoint bit for bit."""
    sizes = [6, 5, 3]
    X, y = _data(sizes, m=40)
    kw = dict(
        epochs=4,
        mini_batch_size=6,
        eta=0.01,
        optimizer="adam",
        seed=4,
        validation_data=_data(sizes, 12, 8),
    )
    a, full = _pair(sizes, "relu", "softmax", "log_likelihood")
    a.fit(X, y, **kw)
    full.fit(X, y, **kw)
    loaded = nm.load(full.save(tmp_path / "torch.safetensors"))
    assert type(loaded.weights[0]) is np.ndarray  # a model file is backend-free
    _close(full.weights, loaded.weights, rtol=0, atol=0)
    _close(full.weights, a.weights)

    class Stop:
        def __call__(self, net, history, epoch):
            if epoch == 2:
                raise KeyboardInterrupt

    path = tmp_path / "run.safetensors"
    _, first = _pair(sizes, "relu", "softmax", "log_likelihood")
    with pytest.raises(KeyboardInterrupt):
        first.fit(X, y, checkpoint=path, callbacks=[Stop()], **kw)
    _, resumed = _pair(sizes, "relu", "softmax", "log_likelihood")
    resumed.fit(X, y, checkpoint=path, resume=True, **kw)  # NumPy state moved to torch
    _close(resumed.weights, [to_numpy(W) for W in full.weights], rtol=0, atol=0)


# ---------------------------------------------------------------------------- CLI, benchmark


def test_cli_train_on_torch_gives_the_numpy_result(capsys: pytest.CaptureFixture) -> None:
    from nnmath.cli import main

    common = ["train", "--epochs", "2", "--dtype", "float64", "--json"]
    assert main(common) == 0
    ref = json.loads(capsys.readouterr().out)
    assert main([*common, "--backend", "torch", "--device", "cpu"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert (got["backend"], ref["backend"]) == ("torch:cpu", "numpy:cpu")
    assert got["test_accuracy"] == ref["test_accuracy"]
    assert got["training_cost"] == pytest.approx(ref["training_cost"], rel=1e-10)


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a GPU; the no-GPU error cannot occur")
def test_cli_cuda_without_gpu_is_one_line(capsys: pytest.CaptureFixture) -> None:
    from nnmath.cli import main

    assert main(["train", "--epochs", "1", "--backend", "torch", "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no GPU present" in err and len(err.splitlines()) == 1


def test_gpu_benchmark_runs_on_cpu(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = importlib.util.spec_from_file_location("gpu_bench", ROOT / "benchmarks" / "gpu.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "rows.json"
    argv = [
        "--backend",
        "numpy",
        "--backend",
        "torch",
        "--networks",
        "784-5-10",
        "--batch-sizes",
        "10,64",
        "--rows",
        "128",
        "--epochs",
        "1",
        "--json",
        str(out),
    ]
    assert bench.main(argv) == 0
    rows = json.loads(out.read_text())
    assert [(r["backend"], r["batch"]) for r in rows] == [
        ("numpy", 10),
        ("numpy", 64),
        ("torch", 10),
        ("torch", 64),
    ]
    assert all(r["seconds_per_epoch"] > 0 and r["rows"] == 128 for r in rows)
    assert "784,5,10" in capsys.readouterr().out


# ---------------------------------------------------------------------------- GPU


@needs_cuda
@pytest.mark.parametrize(("sizes", "hidden", "output", "cost"), CASES[:4])
def test_torch_cuda_gradients_equal_numpy(sizes, hidden, output, cost) -> None:
    a = nm.Network(
        sizes, activation=hidden, output_activation=output, cost=cost, seed=1, dtype="float64"
    )
    b = nm.Network(
        sizes,
        activation=hidden,
        output_activation=output,
        cost=cost,
        seed=1,
        dtype="float64",
        backend="torch",
        device="cuda",
    )
    assert b.weights[0].device.type == "cuda"
    X, y = _data(sizes)
    ga, gb = a.backprop(X, y), b.backprop(X, y)
    for g_gpu, g in zip(gb.nabla_w + gb.nabla_b, ga.nabla_w + ga.nabla_b):
        np.testing.assert_allclose(to_numpy(g_gpu), g, rtol=1e-10, atol=1e-12)
    kw = dict(epochs=2, mini_batch_size=5, eta=0.3, seed=0)
    a.fit(X, y, **kw)
    b.fit(X, y, **kw)
    for W_gpu, W in zip(b.weights, a.weights):
        np.testing.assert_allclose(to_numpy(W_gpu), W, rtol=1e-9, atol=1e-11)


@needs_cupy
@pytest.mark.parametrize(("sizes", "hidden", "output", "cost"), CASES[:4])
def test_cupy_gradients_equal_numpy(sizes, hidden, output, cost) -> None:
    import cupy

    a = nm.Network(
        sizes, activation=hidden, output_activation=output, cost=cost, seed=1, dtype="float64"
    )
    b = nm.Network(
        sizes,
        activation=hidden,
        output_activation=output,
        cost=cost,
        seed=1,
        dtype="float64",
        backend="cupy",
    )
    assert isinstance(b.weights[0], cupy.ndarray)
    X, y = _data(sizes)
    ga, gb = a.backprop(X, y), b.backprop(X, y)
    for g_gpu, g in zip(gb.nabla_w + gb.nabla_b, ga.nabla_w + ga.nabla_b):
        np.testing.assert_allclose(to_numpy(g_gpu), g, rtol=1e-10, atol=1e-12)
    kw = dict(epochs=2, mini_batch_size=5, eta=0.3, seed=0, validation_data=(X, y))
    ha, hb = a.fit(X, y, **kw), b.fit(X, y, **kw)
    assert hb.validation_accuracy == ha.validation_accuracy
    assert isinstance(b.predict(X), np.ndarray)
