"""The rungs of Nielsen's chapter-6 ladder, declared once, and the book's initialisation.

Each rung is the network, the data and the hyper-parameters of one of the book's steps from
97.80 % to 99.67 % on MNIST (``network3.py``'s experiments in the chapter's text). Facts of
the book's protocol this module follows:

* every layer's weights ``w ~ N(0, 1/n_out)`` and biases ``b ~ N(0, 1)``, where ``n_out`` of a
  convolution-pooling layer is ``out·k²/pool²``; the softmax layer starts at zero;
* its L2 term is ``(λ/2) Σ w² / (number of mini-batches)``, which is nnmath's
  ``(λ'/2n) Σ w²`` with ``λ' = λ · mini_batch_size`` (see :func:`nnmath_lmbda`);
* dropout (rung 7) acts on the input of each fully connected layer and of the softmax layer
  (``FullyConnectedLayer(..., p_dropout=0.5)``), so a ``Dropout(0.5)`` stands before each;
* the book's convolution-pooling layer applies σ after the max-pooling, ``σ(max(z) + b)``,
  which equals ``max(σ(z + b))`` for a σ that never decreases: ``Conv2D`` then ``MaxPool2D``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["RUNGS", "Rung", "book_parameters", "build_network", "nnmath_lmbda"]

#: the book's mini-batch size, for every rung
MINI_BATCH = 10


@dataclass(frozen=True)
class Rung:
    """One step of the ladder.

    Attributes
    ----------
    number : int
        1 to 8, as :data:`RUNGS` orders them.
    change : str
        What the book changes at this step, in words.
    conv : tuple of int
        Feature maps of each 5×5 convolution (each followed by 2×2 max-pooling).
    dense : tuple of int
        Units of each fully connected hidden layer.
    activation : str
        σ of the convolutions and the hidden layers.
    eta, lmbda : float
        The book's η and λ (its own L2 convention; :func:`nnmath_lmbda` converts it).
    epochs : int
    expanded : bool
        Train on the 250,000 images of one-pixel shifts (:func:`nnmath.data.expand`).
    dropout : float
        ``p`` before each fully connected layer and the softmax layer (0: none).
    nets : int
        Networks trained; more than one vote (:class:`nnmath.Ensemble`).
    book : float
        The book's test accuracy.
    """

    number: int
    change: str
    conv: tuple[int, ...]
    dense: tuple[int, ...]
    activation: str
    eta: float
    lmbda: float
    epochs: int
    expanded: bool
    dropout: float
    nets: int
    book: float


def _rung(number: int, change: str, book: float, **kw: Any) -> Rung:
    base: dict[str, Any] = dict(conv=(20, 40), dense=(100,), activation="relu", eta=0.03)
    base.update(lmbda=0.1, epochs=60, expanded=True, dropout=0.0, nets=1)
    base.update(kw)
    return Rung(number=number, change=change, book=book, **base)


#: the book's ladder, in its order
RUNGS: tuple[Rung, ...] = (
    _rung(
        1,
        "one hidden layer of 100 sigmoid units",
        0.9780,
        conv=(),
        activation="sigmoid",
        eta=0.1,
        lmbda=0.0,
        expanded=False,
    ),
    _rung(
        2,
        "+ a 20-filter 5×5 convolution with 2×2 max-pooling",
        0.9878,
        conv=(20,),
        activation="sigmoid",
        eta=0.1,
        lmbda=0.0,
        expanded=False,
    ),
    _rung(
        3,
        "+ a second, 40-filter, convolution-pooling layer",
        0.9906,
        activation="sigmoid",
        eta=0.1,
        lmbda=0.0,
        expanded=False,
    ),
    _rung(4, "ReLU, L2 λ = 0.1, η = 0.03", 0.9923, expanded=False),
    _rung(5, "the training data expanded by one-pixel shifts (250,000 images)", 0.9937),
    _rung(6, "an extra fully connected layer of 100 ReLU units", 0.9943, dense=(100, 100)),
    _rung(
        7,
        "two fully connected layers of 1,000 units with dropout 0.5, 40 epochs",
        0.9960,
        dense=(1000, 1000),
        dropout=0.5,
        lmbda=0.0,
        epochs=40,
    ),
    _rung(
        8,
        "the majority vote of five such networks",
        0.9967,
        dense=(1000, 1000),
        dropout=0.5,
        lmbda=0.0,
        epochs=40,
        nets=5,
    ),
)


def nnmath_lmbda(book_lmbda: float) -> float:
    """nnmath's λ' for the book's λ: ``(λ/2) Σ w² / (n/B) = (λ'/2n) Σ w²`` gives ``λ' = λ B``."""
    return book_lmbda * MINI_BATCH


def build_network(
    rung: Rung,
    image: tuple[int, int, int],
    seed: int,
    dtype: str,
    backend: str = "numpy",
    device: str | None = None,
) -> Any:
    """The rung's network, softmax output with the log-likelihood cost, with the book's
    initial weights drawn from ``numpy.random.default_rng(seed)`` (on any backend: the same
    draws, moved to its device)."""
    from ..layers import Conv2D, Dense, Dropout, Input, MaxPool2D
    from ..network import Network

    layers: list[Any] = [Input(image if rung.conv else image[0] * image[1] * image[2])]
    for maps in rung.conv:
        layers += [Conv2D(maps, 5, activation=rung.activation), MaxPool2D(2)]
    for units in rung.dense:
        layers += [Dropout(rung.dropout)] if rung.dropout else []
        layers.append(Dense(units, activation=rung.activation))
    layers += [Dropout(rung.dropout)] if rung.dropout else []
    layers.append(Dense(10, activation="softmax"))
    net = Network(
        layers, cost="log_likelihood", dtype=dtype, seed=seed, backend=backend, device=device
    )
    net.set_parameters(*book_parameters(net, np.random.default_rng(seed)))
    return net


def book_parameters(net: Any, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
    """The book's initial ``w ~ N(0, 1/n_out)``, ``b ~ N(0, 1)`` for each layer with
    parameters (a convolution's ``n_out`` is ``out·k²/pool²``, the pooling that follows it),
    and zeros for the softmax layer, drawn in the layers' order."""
    weights, biases = [], []
    layers = [layer for layer in net.layers if type(layer).__name__ != "Flatten"]
    shapes = [(W.shape, b.shape) for W, b in zip(net.weights, net.biases)]
    fan_outs = _fan_outs(layers)
    for i, ((w_shape, b_shape), n_out) in enumerate(zip(shapes, fan_outs)):
        if i == len(shapes) - 1:  # the softmax layer
            weights.append(np.zeros(w_shape))
            biases.append(np.zeros(b_shape))
        else:
            weights.append(rng.normal(0.0, np.sqrt(1.0 / n_out), w_shape))
            biases.append(rng.normal(0.0, 1.0, b_shape))
    return weights, biases


def _fan_outs(layers: list[Any]) -> list[float]:
    """``n_out`` of each layer with parameters, as the book's initialisation counts it."""
    fan: list[float] = []
    for i, layer in enumerate(layers):
        if not layer.has_parameters:
            continue
        W = layer.W
        if W.ndim == 4:  # (out, in, k, k), then the pooling that follows
            after = layers[i + 1] if i + 1 < len(layers) else None
            pool = after.k if type(after).__name__ == "MaxPool2D" else 1
            fan.append(W.shape[0] * W.shape[2] * W.shape[3] / pool**2)
        else:
            fan.append(W.shape[0])
    return fan
