"""What a pass over many examples costs in memory, and that nothing asks for more than the
machine has: a network of layers' inference pass goes in chunks of columns (a convolution's
im2col columns of 60,000 images would take gigabytes), and fit refuses a mini-batch whose
training pass cannot fit, before it trains."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import nnmath as nm
from nnmath import layer_network, validation
from nnmath._fit_checks import pass_bytes
from nnmath.layers import Conv2D, Dense, Input, MaxPool2D


def _chapter6(dtype: str = "float32") -> nm.Network:
    return nm.Network(
        [Input((1, 28, 28)), Conv2D(20, 5, activation="relu"), MaxPool2D(2),
         Conv2D(40, 5, activation="relu"), MaxPool2D(2), Dense(100, activation="relu"),
         Dense(10, activation="softmax")],
        cost="log_likelihood", init="he", seed=0, dtype=dtype,
    )  # fmt: skip


def test_a_convolution_keeps_z_a_and_its_columns_per_example() -> None:
    conv = _chapter6().layers[3]  # Conv2D(40, 5) on (20, 12, 12): 40 × 8 × 8 out
    cache = conv.forward(np.zeros((20, 12, 12, 3), np.float32))
    kept = cache.z.size + cache.a.size + cache.cols.size
    assert conv.elements_per_example() == kept // 3 == 2 * 40 * 64 + 20 * 25 * 64


def test_an_inference_pass_over_many_images_stays_in_chunks(monkeypatch) -> None:
    """3,000 images through the chapter-6 network: whole, its second convolution's columns
    alone are 3,000 × 500 × 64 × 4 bytes = 384 MB; in chunks, the pass peaks near
    CHUNK_ELEMENTS' 32 MiB, with the same outputs."""
    net = _chapter6()
    X = np.random.default_rng(0).random((3000, 784), dtype=np.float32)
    tracemalloc.start()
    try:
        chunked = net.feedforward(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * 4 * layer_network.CHUNK_ELEMENTS  # a few chunk-sized arrays at once
    monkeypatch.setattr(layer_network, "CHUNK_ELEMENTS", 10**12)  # one pass, all columns
    np.testing.assert_allclose(chunked, net.feedforward(X), rtol=1e-6, atol=1e-7)


def test_fit_refuses_a_mini_batch_beyond_memory_before_training(monkeypatch) -> None:
    net = _chapter6()
    before = [w.copy() for w in net.weights]
    per_example = pass_bytes(net, 1)
    assert per_example == 4 * sum(lay.elements_per_example() for lay in net.layers[1:]) + 4 * max(
        lay.elements_per_example() for lay in net.layers[1:]
    )
    monkeypatch.setattr(validation, "physical_memory", lambda: 50 * per_example)
    X, y = np.zeros((200, 784), np.float32), np.zeros(200, int)
    with pytest.raises(ValueError, match="mini_batch_size=64 examples would need") as info:
        net.fit(X, y, epochs=1, mini_batch_size=64)
    assert "at most 50 examples a mini-batch fit" in str(info.value)
    assert all(np.array_equal(a, b) for a, b in zip(before, net.weights))
    net.fit(X, y, epochs=1, mini_batch_size=50)  # what the message says fits, trains


def test_a_dense_networks_pass_is_its_z_a_and_delta() -> None:
    net = nm.Network([64, 30, 10], dtype="float64")
    assert pass_bytes(net, 10) == 3 * 10 * (64 + 30 + 10) * 8
