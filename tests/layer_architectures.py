"""Random networks of layers built from each layer type's EXAMPLES (``nnmath.layers.LAYERS``),
for the file, torch and ONNX tests: a new layer type with its EXAMPLES is in them unedited."""

from __future__ import annotations

import copy

import numpy as np

import nnmath as nm
from nnmath.layers import LAYERS, Dense, Dropout, Flatten, Input

#: the layer types drawn between the Input and the output layer (the Input and Flatten are
#: put where they belong)
KINDS = [cls for name, cls in sorted(LAYERS.items()) if cls not in (Input, Flatten)]


def random_layers(seed: int, dropout: bool = True) -> tuple[list, str]:
    """``(layers, cost)``: an image Input, 2–6 layers drawn from the EXAMPLES that fit the
    shape so far (a Flatten before a Dense after an image), then Dense(4, softmax) with
    log-likelihood or Dense(3, sigmoid) with cross-entropy."""
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 4)), int(rng.integers(7, 12)), int(rng.integers(7, 12)))
    layers: list = [Input(shape)]
    for _ in range(int(rng.integers(2, 7))):
        cls = KINDS[int(rng.integers(len(KINDS)))]
        if cls is Dropout and not dropout:
            continue
        kwargs, _ = cls.EXAMPLES[int(rng.integers(len(cls.EXAMPLES)))]
        layer = cls(**kwargs)
        extra = [Flatten()] if cls is Dense and len(shape) == 3 else []
        try:
            probe = shape
            for lay in [*extra, layer]:
                probe = copy.copy(lay).build(probe, "he", np.random.default_rng(0), np.float64)
        except ValueError:  # does not fit this shape (a window too large, softmax on images)
            continue
        layers += [*extra, layer]
        shape = probe
    if len(shape) == 3:
        layers.append(Flatten())
    if rng.random() < 0.5:
        return [*layers, Dense(4, activation="softmax")], "log_likelihood"
    return [*layers, Dense(3, activation="sigmoid")], "cross_entropy"


def random_network(seed: int, dtype: str = "float64", dropout: bool = True) -> nm.Network:
    layers, cost = random_layers(seed, dropout)
    return nm.Network(layers, cost=cost, init="glorot", seed=seed, dtype=dtype)


def images(net: nm.Network, m: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``m`` random images ``(m, C, H, W)`` of the net's dtype and labels."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, *net.layers[0].shape)).astype(net.dtype)
    return X, rng.integers(0, net.n_outputs, m)
