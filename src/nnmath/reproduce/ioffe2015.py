"""``ioffe2015``: Ioffe & Szegedy (2015), "Batch normalization: accelerating deep network
training by reducing internal covariate shift", Sec. 4.1 and Fig. 1, on MNIST.

The paper's network: 784 inputs, three fully connected hidden layers of 100 sigmoid units,
10 outputs (softmax, log-likelihood), weights drawn from a small Gaussian, trained for 50,000
steps on mini-batches of 60, with and without batch normalisation before each hidden
sigmoid: ``Dense(100, "identity"), BatchNorm(), Activation("sigmoid")`` against
``Dense(100, "sigmoid")`` (the output layer is not normalised). Both start from the same
weights. Fig. 1 shows

* (a) the test accuracy against the steps: the batch-normalised network is higher, earlier;
* (b, c) the input of a typical sigmoid of the last hidden layer (``z`` without, the
  normalised ``γ ẑ + β`` with) as its 15th, 50th and 85th percentiles over the test images,
  against the steps: it drifts without batch normalisation and stays put with it.

What the paper does not state, and what we chose (:data:`SIGMA`, :data:`ETAS`): the Gaussian's
σ, the optimizer and its learning rate. Plain mini-batch SGD is the optimizer of the paper's
Sec. 2–3 (the MNIST section names none other); η is chosen from :data:`ETAS` by the
validation accuracy of the network *without* batch normalisation after a short run (so the
test set plays no part, and the choice favours the network batch normalisation is compared
with), and both networks train with it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from . import header
from ._data import mnist
from ._report import Claim, Report, Table

__all__ = ["run", "plot", "build", "train", "drift", "choose_eta"]

WIDTH, HIDDEN, BATCH = 100, 3, 60
#: the standard deviation of the initial weights, N(0, σ²) ("small random Gaussian values"):
#: a hidden unit's z starts within about ±0.3 of 0, so every sigmoid starts near its middle
SIGMA = 0.01
#: the learning rates the validation run chooses from (plain SGD)
ETAS = (0.1, 0.3, 1.0, 3.0)
PERCENTILES = (15, 50, 85)
LABELS = {False: "without BN", True: "with BN"}
#: steps: the paper's 50,000; every: steps between two measurements; start: the step the
#: drift is measured from (after the first tenth, where every network moves fast); select:
#: the steps of the learning-rate choice; watch: test images the percentiles are taken over
FULL = dict(steps=50_000, every=500, start=5_000, select=5_000, watch=10_000, seeds=[0, 1])
QUICK = dict(steps=3_000, every=250, start=500, select=500, watch=2_000, seeds=[0])
TARGET = 0.95  # the test accuracy whose first step is compared


def build(batch_norm: bool, seed: int) -> Any:
    """The paper's network, its weights W ~ N(0, SIGMA²) from ``seed`` (layer by layer, the
    same draws with and without batch normalisation), biases 0."""
    from ..layers import Activation, BatchNorm, Dense, Input
    from ..network import Network

    if batch_norm:
        hidden = [
            layer
            for _ in range(HIDDEN)
            for layer in (Dense(WIDTH, "identity"), BatchNorm(), Activation("sigmoid"))
        ]
        net = Network(
            [Input(784), *hidden, Dense(10, "softmax")], cost="log_likelihood", seed=seed
        )
    else:
        net = Network(
            [784, *[WIDTH] * HIDDEN, 10],
            activation="sigmoid",
            output_activation="softmax",
            cost="log_likelihood",
            seed=seed,
        )
    rng = np.random.default_rng(seed)
    shapes = [W.shape for W in net.weights]
    dense = [i for i, layer in enumerate(_layers_of(net)) if layer != "batch_norm"]
    weights, biases = list(net.weights), list(net.biases)
    for i in dense:  # W ~ N(0, σ²), b = 0: the same numbers in both networks
        weights[i] = rng.normal(0.0, SIGMA, shapes[i]).astype(net.dtype)
        biases[i] = np.zeros_like(biases[i])
    net.weights, net.biases = weights, biases
    return net


def _layers_of(net: Any) -> list[str]:
    """The kind of each entry of ``net.weights``: ``"dense"`` or ``"batch_norm"`` (γ, β)."""
    if not getattr(net, "layered", False):
        return ["dense"] * len(net.weights)
    return ["batch_norm" if type(layer).__name__ == "BatchNorm" else "dense"
            for layer in net.parametrized]


def sigmoid_inputs(net: Any, X: Any) -> np.ndarray:
    """The input of every sigmoid of the last hidden layer: ``z`` (its Dense's) without
    batch normalisation, ``γ ẑ + β`` with (the running statistics, as at inference).
    Shape ``(units, images)``."""
    zs, _ = net.forward(np.asarray(X).T)
    if not getattr(net, "layered", False):
        return np.asarray(zs[-2])
    sigmoids = [i for i, layer in enumerate(net.layers[1:-1]) if layer.activation is not None]
    return np.asarray(zs[sigmoids[-1]])


def _batches(n: int, steps: int, every: int, seed: int) -> list[np.ndarray]:
    """Row indices of each chunk of ``every`` mini-batches: epochs of a permutation of the
    ``n`` training rows drawn from ``seed``, one after another (the same for both networks)."""
    rng = np.random.default_rng(seed)
    need = steps * BATCH
    order = np.concatenate([rng.permutation(n) for _ in range(-(-need // n))])[:need]
    return np.split(order, steps // every)


def train(
    data: Any, batch_norm: bool, eta: float, seed: int, steps: int, every: int, watch: int
) -> dict[str, Any]:
    """Train for ``steps`` mini-batches of 60 with SGD; every ``every`` steps the test
    accuracy and the 15th/50th/85th percentiles of each last-hidden-layer sigmoid's input over
    the first ``watch`` test images.

    Returns
    -------
    dict
        ``steps`` (list), ``test`` (accuracy per entry), ``percentiles`` as a nested list
        ``(entries, 3, units)``.
    """
    net = build(batch_norm, seed)
    X, y = data.train
    Xt, yt = data.test
    out: dict[str, Any] = {"seed": seed, "steps": [], "test": [], "percentiles": []}
    for k, rows in enumerate(_batches(len(y), steps, every, seed)):
        net.fit(X[rows], y[rows], epochs=1, mini_batch_size=BATCH, eta=eta, seed=seed + k)
        z = sigmoid_inputs(net, Xt[:watch])
        out["steps"].append((k + 1) * every)
        out["test"].append(float(net.accuracy(Xt, yt)))
        out["percentiles"].append(np.percentile(z, PERCENTILES, axis=1).tolist())
    return out


def choose_eta(data: Any, steps: int, seed: int) -> tuple[float, dict[float, float]]:
    """The η of :data:`ETAS` with the best validation accuracy of the network without batch
    normalisation after ``steps`` mini-batches (the test set is not read)."""
    X, y = data.train
    Xv, yv = data.validation
    scores = {}
    for eta in ETAS:
        net = build(False, seed)
        (rows,) = _batches(len(y), steps, steps, seed)
        with np.errstate(over="ignore", invalid="ignore"):
            net.fit(X[rows], y[rows], epochs=1, mini_batch_size=BATCH, eta=eta, seed=seed)
            scores[eta] = float(net.accuracy(Xv, yv))
    return max(scores, key=lambda e: scores[e]), scores


def drift(percentiles: Any, steps: list[int], start: int) -> np.ndarray:
    """Per unit, how far its input's distribution moved from step ``start`` to the end: the
    mean over the 15th, 50th and 85th percentiles of ``|p(end) − p(start)|``. Shape ``(units,)``."""
    p = np.asarray(percentiles)  # (entries, 3, units)
    i = steps.index(start)
    return np.abs(p[-1] - p[i]).mean(axis=0)


def first_step(run: dict[str, Any], target: float = TARGET) -> int | None:
    """The first measured step whose test accuracy reaches ``target`` (None: never)."""
    hits = [s for s, a in zip(run["steps"], run["test"]) if a >= target]
    return hits[0] if hits else None


def typical_unit(runs: list[dict[str, Any]], start: int) -> int:
    """The unit of the last hidden layer whose drift (first seed) is the median one."""
    d = drift(runs[0]["percentiles"], runs[0]["steps"], start)
    return int(np.argsort(d)[len(d) // 2])
