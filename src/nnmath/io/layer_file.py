"""The model file of a network of layers (:mod:`nnmath.layers`): its layers in the header.

The architecture (``__metadata__["config"]``, the JSON of :meth:`LayerNetwork.config`) is
``{"layers": [...], "cost", "init", "dtype"}``; each layer is ``{"type": <its name in
nnmath.layers.LAYERS>, **layer.config()}``, its constructor's arguments, a σ as
``{"name": ..., **params}``::

    [{"type": "input", "shape": [1, 8, 8]},
     {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "stride": 1, "padding": 0,
      "activation": {"name": "relu"}},
     {"type": "maxpool2d", "size": 2, "stride": 2}, {"type": "flatten"},
     {"type": "dense", "n": 10, "activation": {"name": "softmax"}}]

A layer's ``W`` and ``b`` are the tensors ``"{k}.weight"``, ``"{k}.bias"`` (and a BatchNorm's
state ``"{k}.running_mean"``, ``"{k}.running_var"``, torch's buffers), ``k`` its module's
position in :func:`nnmath.io.to_torch`'s ``nn.Sequential`` (each layer's modules as its class
declares them, :attr:`Layer.torch`), so ``to_torch(net).load_state_dict(load_file(path))``
works as it is (with a BatchNorm, ``strict=False``: torch's ``num_batches_tracked`` counter,
unused with a momentum, is not kept); a network of Input and Dense layers gets
``0, 2, 4, …``, a dense file's names.

Reading checks the layers one by one: every type registered, every argument one its
constructor takes with a value it accepts, and each layer's parameter shapes (from the shape
its input has) equal to the header's tensors *before* the layer is built, so that nothing
larger than the file is ever allocated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..activations import ACTIVATIONS
from ..layers import LAYERS, Dense, Input, Layer, Residual
from ..layers._base import module_positions
from .safetensors import finite_number

__all__ = [
    "LAYERS_VERSION",
    "check_layers",
    "layers_from_config",
    "parameter_names",
    "state_names",
    "torch_positions",
]

#: the format version of a file with layers (dense files stay version 1, readable by all)
LAYERS_VERSION = 2
_MAX_DIM = 2**31  # any one number of a layer's config (channels, kernel, units, …)
_MAX_DEPTH = 16  # residual blocks inside residual blocks


def torch_positions(layers: list[Layer]) -> list[int]:
    """Each layer's (after the Input) position in :func:`nnmath.io.to_torch`'s
    ``nn.Sequential``: its module, then its σ's module when the class declares one."""
    return module_positions(layers[1:])


def parameter_names(net: Any) -> list[tuple[str, str]]:
    """``("{k}.weight", "{k}.bias")`` of each layer with parameters, in order (``weights[i]``):
    ``k`` is its position in :func:`nnmath.io.to_torch`'s ``nn.Sequential``."""
    return _names(net.layers, "")


def _names(layers: list[Layer], prefix: str) -> list[tuple[str, str]]:
    """:func:`parameter_names` of ``layers`` (Input first) under ``prefix``; a residual
    block's inner layers are its module's ``body``: ``"{k}.body.{j}.weight"``."""
    names = []
    for layer, k in zip(layers[1:], torch_positions(layers)):
        if isinstance(layer, Residual):
            names += _names([Input(layer.input_shape), *layer.layers], f"{prefix}{k}.body.")
        elif layer.has_parameters:
            names.append((f"{prefix}{k}.weight", f"{prefix}{k}.bias"))
    return names


def state_names(layers: list[Layer]) -> list[tuple[str, ...]]:
    """``("{k}.running_mean", "{k}.running_var")`` of each layer that keeps a state (its
    :meth:`~nnmath.layers.Layer.state`), in order: the names of torch's buffers, so that
    ``to_torch(net).state_dict()`` has them too."""
    return [
        tuple(f"{k}.{name}" for name in layer.state())
        for layer, k in zip(layers[1:], torch_positions(layers))
        if layer.state()
    ]


def _check_state(i: int, layer: Layer, k: int, shapes: Mapping[str, Any]) -> None:
    """Each tensor of a built layer's state is in the header with the state's shape."""
    for name, value in layer.state().items():
        got, want = shapes.get(f"{k}.{name}"), tuple(value.shape)
        if got is None or tuple(got) != want:
            raise ValueError(
                f"tensor '{k}.{name}' of layers[{i}] ({layer!r}) has shape {got}, the layer "
                f"keeps {name} of shape {want}: a file without its running statistics cannot "
                "predict as the network did"
            )


def _checked_sigma(where: str, sigma: Any) -> None:
    """A σ of a layer's config: a registered name and its own finite parameters."""
    if not isinstance(sigma, dict) or not isinstance(sigma.get("name"), str):
        raise ValueError(f"{where}: its σ {sigma!r:.100} is not {{'name': ..., ...}}")
    if sigma["name"] not in ACTIVATIONS:
        raise ValueError(
            f"{where}: unknown activation {sigma['name']!r}; this nnmath knows "
            f"{sorted(ACTIVATIONS)}"
        )
    takes = ACTIVATIONS[sigma["name"]]().params
    for key, value in sigma.items():
        if key != "name" and (key not in takes or not finite_number(value)):
            raise ValueError(
                f"{where}: σ {sigma['name']} has invalid parameter {key}={value!r:.60}"
            )


def _checked_value(where: str, key: str, value: Any) -> None:
    """A plain argument: a number of sensible size, a short list of them, or a σ."""
    if isinstance(value, dict):
        _checked_sigma(where, value)
        return
    if key == "layers" and isinstance(value, list):  # a residual block's F: layers again
        if where.count(".layers[") >= _MAX_DEPTH or not 1 <= len(value) <= 4096:
            raise ValueError(f"{where}: layers nested too deep, or not 1 to 4096 of them")
        for j, entry in enumerate(value):
            _checked_entry(f"{where}.layers[{j}]", entry)
        return
    numbers = value if isinstance(value, list) and len(value) <= 3 else [value]
    for v in numbers:
        if not finite_number(v) or abs(v) >= _MAX_DIM:
            raise ValueError(f"{where}: {key}={value!r:.60} is not a σ or a number below 2**31")


def _checked_entry(where: str, entry: Any) -> tuple[type[Layer], dict[str, Any]]:
    """A layer's JSON object: a registered ``"type"`` and its checked arguments."""
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        raise ValueError(f"{where} is not a JSON object with a 'type'")
    cls = LAYERS.get(entry["type"])
    if cls is None:
        raise ValueError(
            f"{where} has the unknown layer type {entry['type']!r:.60}; this nnmath knows "
            f"{sorted(LAYERS)}"
        )
    args = {k: v for k, v in entry.items() if k != "type"}
    for key, value in args.items():
        _checked_value(where, key, value)
    return cls, args


def layers_from_config(entries: Any) -> list[Layer]:
    """The (unbuilt) layers the JSON ``entries`` describe, each checked by its constructor.

    Raises
    ------
    ValueError
        Naming the entry: not a list starting with an input, an unknown type, an argument
        the layer does not take or a value it refuses.
    """
    if not isinstance(entries, list) or not 2 <= len(entries) <= 4096:
        raise ValueError("layers is not a list of 2 to 4096 layers")
    layers = []
    for i, entry in enumerate(entries):
        where = f"layers[{i}]"
        cls, args = _checked_entry(where, entry)
        try:
            layer = cls.from_config(args)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where} ({entry['type']}): {exc}") from None
        if (i == 0) != isinstance(layer, Input):
            raise ValueError(f"{where}: a network of layers has one Input, its first layer")
        layers.append(layer)
    return layers


def check_layers(
    layers: list[Layer],
    shapes: Mapping[str, Any],
    dtype: Any,
    init: str,
    prefix: str = "",
    vectors: bool = True,
) -> list[tuple[str, str]]:
    """Build ``layers`` in place, one by one, checking each layer's parameter shapes against
    ``shapes`` (tensor name -> shape, from the header) *before* building it (and its state's,
    as large as its ``b``, after); returns the tensor names of the layers with parameters
    (:func:`state_names` gives the state's). A residual block's inner layers are checked
    the same way (under ``prefix`` ``"{k}.body."``, ending in any shape: ``vectors=False``).

    Raises
    ------
    ValueError
        A tensor missing or of another shape, a layer whose input does not fit it, or an
        input too large to count.
    """
    shape = layers[0].shape
    if math.prod(shape) >= 2**62:  # counted as int64 (size_of)
        raise ValueError(f"the input's shape {shape} is too large")
    rng = np.random.default_rng(0)
    names = []
    for i, (layer, k) in enumerate(zip(layers[1:], torch_positions(layers)), start=1):
        if isinstance(layer, Dense) and len(shape) != 1:
            raise ValueError(f"layers[{i}] ({layer!r}) follows an image without a flatten")
        if isinstance(layer, Residual):  # F's tensors checked before the block builds F
            inner = [Input(shape), *layer.given]
            names += check_layers(inner, shapes, dtype, init, f"{prefix}{k}.body.", False)
        if layer.has_parameters:
            layer.input_shape = shape  # what the shapes of W and b follow from
            names.append((f"{prefix}{k}.weight", f"{prefix}{k}.bias"))
            for name, want in zip(names[-1], layer.parameter_shapes()):
                got = shapes.get(name)
                if got is None or tuple(got) != tuple(want):
                    raise ValueError(
                        f"tensor {name!r} of layers[{i}] ({layer!r}) has shape {got}, the "
                        f"layer needs {tuple(want)} for its input {shape}"
                    )
        try:
            shape = layer.build(shape, init, rng, dtype)  # allocates only what the file holds
        except ValueError as exc:
            raise ValueError(f"layers[{i}]: {exc}") from None
        if not prefix:  # a block's inner state is its own, "{k}.body.{j}.name" (state_names)
            _check_state(i, layer, k, shapes)
        if math.prod(shape) >= 2**62:  # a padding of 2**30: sizes would wrap round in int64
            raise ValueError(f"layers[{i}] ({layer!r}) gives {shape}, too large to count")
    if vectors and len(shape) != 1:
        raise ValueError(f"the last layer gives images {shape}: a network ends with vectors")
    return names
