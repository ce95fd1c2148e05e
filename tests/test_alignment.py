"""The data of nnmath's own NumPy arrays start on 64-byte boundaries (nnmath.backend.ALIGNMENT):
a network's weights and biases however it was made, the optimizer's state, and every buffer
of the compiled epoch (benchmarks/alignment.py measures what a misaligned one costs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nnmath as nm
from nnmath.backend import ALIGNMENT, aligned_copy, aligned_zeros, get_backend
from nnmath.optim import OPTIMIZERS


def aligned(a: np.ndarray) -> bool:
    return type(a) is np.ndarray and a.ctypes.data % ALIGNMENT == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8])
@pytest.mark.parametrize("shape", [0, 1, 7, (3, 5), (0, 4), (30, 784)])
def test_aligned_zeros_are_zeros_on_a_boundary(shape, dtype) -> None:
    a = aligned_zeros(shape, dtype)
    assert (
        (aligned(a) or a.size == 0)
        and a.dtype == dtype
        and a.flags.c_contiguous
        and a.flags.writeable
    )
    assert a.shape == ((shape,) if isinstance(shape, int) else shape) and not a.any()


def test_aligned_copy_keeps_values_and_casts() -> None:
    src = np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2]  # strided
    out = aligned_copy(src, np.float32)
    assert aligned(out) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, src)
    out[0, 0] = 99  # new memory
    assert src[0, 0] == 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_network_s_parameters_are_aligned_however_it_is_made(dtype, tmp_path: Path) -> None:
    net = nm.Network([5, 7, 3], dtype=dtype, seed=0)
    assert all(map(aligned, net.weights + net.biases))
    loaded = nm.load(nm.save(net, tmp_path / "m.safetensors"))
    assert all(map(aligned, loaded.weights + loaded.biases))
    moved = net.to(get_backend("numpy"))
    assert all(map(aligned, moved.weights + moved.biases))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_state_and_the_epoch_buffers_are_aligned(name: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 5)), rng.integers(0, 3, 40)
    net = nm.Network([5, 6, 3], dropout=0.3, seed=0)
    path = tmp_path / "run.safetensors"
    opt = OPTIMIZERS[name](eta=0.01)
    if name == "sgd":
        opt = OPTIMIZERS[name](eta=0.01, momentum=0.5)  # a state to check
    net.fit(X, y, epochs=2, mini_batch_size=8, optimizer=opt, checkpoint=path, seed=0)
    arrays = [a for v in opt.state.values() if isinstance(v, list) for a in v]
    assert arrays and all(map(aligned, arrays))
    resumed = OPTIMIZERS[name](eta=0.01, **({"momentum": 0.5} if name == "sgd" else {}))
    net2 = nm.Network([5, 6, 3], dropout=0.3, seed=0)
    net2.fit(X, y, epochs=3, mini_batch_size=8, optimizer=resumed, resume=path, seed=0)
    restored = [a for v in resumed.state.values() if isinstance(v, list) for a in v]
    assert restored and all(map(aligned, restored))
    from nnmath.engine import c_available, epoch_runner

    if not c_available():
        pytest.skip("the compiled epoch is not built here (no C compiler at install)")
    runner = epoch_runner(net, opt, net.check_inputs(X), net.check_targets(y, 40), 8)
    buffers = [*runner.A, *runner.Z, *runner.D, runner.y_batch]
    buffers += [*runner.nabla_w_parts, *runner.nabla_b_parts]
    buffers += [m for m in runner.mask if m is not None] + list(runner.layer_input)
    assert all(map(aligned, buffers))
