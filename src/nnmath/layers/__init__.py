"""Layers of a network, each the lecture's pair of equations: forward and backward.

>>> import nnmath as nm
>>> from nnmath.layers import Input, Conv2D, MaxPool2D, Dense
>>> net = nm.Network([Input((1, 28, 28)), Conv2D(20, 5, activation="relu"), MaxPool2D(2),
...                   Dense(100, activation="relu"), Dense(10, activation="softmax")],
...                  cost="log_likelihood", init="he", seed=0)

Every layer follows one protocol (:class:`Layer`, in :mod:`nnmath.layers._base`): ``build``
(shapes and parameters), ``forward`` (``z^l``, ``a^l`` in a named :class:`Cache`),
``backward`` (``∂C/∂a^{l−1}``, ``∂C/∂w^l``, ``∂C/∂b^l`` from ``δ^l``) and ``delta``
(``δ^l = g ⊙ σ'(z^l)``). Inside, examples are the last axis: ``(n, m)`` or ``(C, H, W, m)``.
A :class:`Residual` block is a layer made of layers, ``a^{out} = σ(a^{in} + F(a^{in}))``
(``parameter_layers`` lists its inner ones, ``Backward.inner`` their gradients).
:data:`LAYERS` declares them once; the tests are parametrized by it, and the one-line
description language reads its words from it (:func:`parse`, :func:`describe`:
``parse("conv(20,5,relu) pool(2) dense(10,softmax)", input_shape=(1, 28, 28))``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._base import Backward, Cache, Layer, OnnxLayer, Shape, TorchLayer, size_of
from .activation import Activation
from .batchnorm import BatchNorm
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .language import describe, parse
from .layernorm import LayerNorm
from .pool import AvgPool2D, MaxPool2D
from .residual import Residual
from .shape import Flatten, Input

__all__ = [
    "LAYERS",
    "Activation",
    "AvgPool2D",
    "Backward",
    "BatchNorm",
    "Cache",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "Input",
    "Layer",
    "LayerNorm",
    "MaxPool2D",
    "OnnxLayer",
    "Residual",
    "Shape",
    "TorchLayer",
    "build_layers",
    "expand_batch_norm",
    "dense_sizes",
    "describe",
    "parse",
    "sizes_network_arguments",
    "is_layer_list",
    "size_of",
]

#: every layer type by name (``Layer.name``): the tests run each one's checks from here
LAYERS: dict[str, type[Layer]] = {
    cls.name: cls
    for cls in [
        Input,
        Dense,
        Conv2D,
        MaxPool2D,
        AvgPool2D,
        Dropout,
        Activation,
        Flatten,
        BatchNorm,
        LayerNorm,
        Residual,
    ]
}


def is_layer_list(spec: Any) -> bool:
    """Whether ``spec`` (Network's first argument) is a list of layer objects, not of sizes."""
    return isinstance(spec, Sequence) and len(spec) > 0 and isinstance(spec[0], Layer)


def dense_sizes(layers: Sequence[Layer]) -> tuple[list[int], list[Any]] | None:
    """``(sizes, activations)`` when ``layers`` is ``Input(n)`` and Dense layers only (the
    sizes network, compiled epoch and all); ``None`` for any other list."""
    first, rest = layers[0], layers[1:]
    if type(first) is not Input or len(first.shape) != 1 or not rest:
        return None
    if not all(type(layer) is Dense and not layer.batch_norm for layer in rest):
        return None
    return [first.shape[0], *(d.n for d in rest)], [d.activation for d in rest]


def sizes_network_arguments(
    layers: Sequence[Layer], activation: Any, output_activation: Any, dropout: Any
) -> tuple[list[int], list[Any]]:
    """``(sizes, activation)`` for ``Network`` from ``Input(n)`` and Dense ``layers``.

    Raises
    ------
    ValueError
        When ``activation`` (other than the default), ``output_activation`` or ``dropout``
        is given too: each Dense has its σ, and dropout is a Dropout layer.
    """
    default_sigma = isinstance(activation, str) and activation == "sigmoid"  # Network's default
    if not default_sigma or output_activation is not None or dropout:
        raise ValueError(
            "a list of layers takes σ per layer (Dense(n, activation=...)) and dropout as a "
            "layer (Dropout(p)): leave activation, output_activation and dropout out"
        )
    found = dense_sizes(layers)
    if found is None:  # Network.__new__ sends any other list to LayerNetwork
        raise ValueError("not a list of Input(n) and Dense layers: build nm.Network(layers)")
    return found


def expand_batch_norm(layers: Sequence[Any]) -> list[Any]:
    """Each ``Dense(n, σ, batch_norm=True)`` written out as ``Dense(n, "identity"),
    BatchNorm(), Activation(σ)`` (σ after the normalisation, as Ioffe and Szegedy put it).

    Parameters
    ----------
    layers : sequence of Layer (or anything else, passed through for the checks after)

    Returns
    -------
    list
        The entries in order, each shorthand Dense replaced by its three layers; every other
        entry as it is.
    """
    out: list[Any] = []
    for layer in layers:
        if isinstance(layer, Dense) and layer.batch_norm:
            out += [Dense(layer.n, "identity"), BatchNorm(), Activation(layer.activation)]
        else:
            out.append(layer)
    return out


def build_layers(
    layers: Sequence[Any], init: str, rng: np.random.Generator, dtype: Any
) -> list[Layer]:
    """Check ``layers``, insert the implicit :class:`Flatten` before a Dense after an image,
    and build a copy of each in order (shapes, then ``W``, ``b`` drawn from ``rng``): the
    given objects stay unbuilt, so one list may describe several networks.

    Raises
    ------
    TypeError, ValueError
        A list that does not start with one Input, an entry that is not a layer, a layer
        whose input shape does not fit (the message names the layer and its position).
    """
    if not layers or not isinstance(layers[0], Input):
        raise ValueError("a network of layers starts with Input(shape), e.g. Input((1, 28, 28))")
    layers = expand_batch_norm(layers)
    built: list[Layer] = [copy.copy(layers[0])]
    shape = layers[0].shape
    for i, layer in enumerate(layers[1:], start=1):
        if not isinstance(layer, Layer) or isinstance(layer, Input):
            raise TypeError(
                f"layers[{i}] is {layer!r:.60}: after the Input, give layer objects of "
                f"nnmath.layers ({', '.join(sorted(c.__name__ for c in LAYERS.values()))})"
            )
        if isinstance(layer, Dense) and len(shape) != 1:
            flatten = Flatten()  # implicit: torch's flatten order (channel, row, column)
            shape = flatten.build(shape, init, rng, dtype)
            built.append(flatten)
        layer = copy.copy(layer)  # the network's own: two networks never share a W
        try:
            shape = layer.build(shape, init, rng, dtype)
        except ValueError as err:
            raise ValueError(f"layers[{i}]: {err}") from None
        built.append(layer)
    if len(shape) != 1:
        raise ValueError(f"the last layer gives images {shape}: end with a Dense layer")
    return built
