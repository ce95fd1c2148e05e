"""Conversion to and from PyTorch: a Network is ``nn.Sequential(Linear, σ, Linear, σ, …)``,
a network of layers ``nn.Sequential(Conv2d, σ, MaxPool2d, Flatten, Linear, σ, …)``.

Which ``torch.nn`` module stands for which activation is declared with the activation itself
(its ``torch``, in :mod:`nnmath.activations._declarations`); :data:`TORCH_ACTIVATIONS` is the
registry's view of them, keyed by registry name. Which module stands for which layer is
declared on the layer's class (:attr:`nnmath.layers.Layer.torch`, a
:class:`~nnmath.layers.TorchLayer`). A new activation or layer type needs no line here.

Layouts: torch's images are ``(m, C, H, W)``, ours keep the examples last, ``(C, H, W, m)``;
both flatten an example in the order channel, row, column, so a Linear after a Flatten has
the same ``W`` on both sides and the weights are copied as they are (a convolution's ``W``
is ``(out, C, k, k)`` in both).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np

from .._registry import default_cost
from ..activations import ACTIVATIONS, Activation, TorchModule, get_activation
from ..activations._base import declared
from ..backend import to_numpy
from ..layers import LAYERS, Input, Layer, Residual
from ..layers import Activation as ActivationLayer
from ..network import Network
from .torch_residual import is_residual_block, residual_module

__all__ = ["TORCH_ACTIVATIONS", "TorchActivation", "from_torch", "to_torch"]


def __getattr__(name: str) -> Any:
    """``ResidualBlock``, the module of a residual block, made on first use (torch optional)."""
    if name == "ResidualBlock":
        from .torch_residual import residual_block_class

        return residual_block_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: registry name -> its ``torch.nn`` module: a live view of each activation's ``torch``,
#: declared with its σ and σ' in :mod:`nnmath.activations._declarations`
TORCH_ACTIVATIONS: Mapping[str, TorchModule] = declared(ACTIVATIONS, "torch")
TorchActivation = TorchModule  # the record's name before it moved beside the activations


def _torch_module(act: Activation) -> Any:
    """The ``torch.nn`` module of one of nnmath's activations."""
    import torch.nn as nn

    spec = TORCH_ACTIVATIONS.get(act.name)
    if spec is None:
        raise ValueError(
            f"activation {act.name!r} has no PyTorch module here; to_torch handles "
            f"{', '.join(TORCH_ACTIVATIONS)} (the activations that declare a torch module)"
        )
    kwargs = {arg: act.params[p] for p, arg in spec.params.items()}
    kwargs.update({arg: values[0] for arg, values in spec.fixed.items()})
    return getattr(nn, spec.module)(**kwargs)


def to_torch(net: Any) -> Any:
    """An equivalent ``torch.nn.Sequential``: each layer's module (its class's
    :attr:`~nnmath.layers.Layer.torch`), followed by its σ's module for a Dense or Conv2D.

    A dense network is ``Linear, σ, Linear, σ, …``: layer ``i`` becomes
    ``nn.Linear(sizes[i], sizes[i+1])`` at index ``2 i`` (its ``weight`` is our ``W`` of shape
    ``(n_out, n_in)``, no transpose) followed by its activation module at ``2 i + 1``
    (:data:`TORCH_ACTIVATIONS`: ``nn.Identity()`` for identity, ``nn.Softmax(dim=1)`` for
    softmax). A network of layers takes images ``(m, C, H, W)``, torch's layout, and maps
    Conv2D, MaxPool2D, AvgPool2D, Flatten, Dense, Dropout and Activation to ``Conv2d``,
    ``MaxPool2d``, ``AvgPool2d``, ``Flatten``, ``Linear``, ``Dropout`` and σ's module;
    BatchNorm to ``BatchNorm1d`` (after units) or ``BatchNorm2d`` (after images) with its
    momentum, eps and running statistics, LayerNorm to ``LayerNorm(normalized_shape)``. The
    parameters are copies in the network's dtype; ``module.state_dict()`` has the names of a
    model file (:func:`nnmath.io.layer_file.parameter_names`).

    Parameters
    ----------
    net : Network

    Returns
    -------
    torch.nn.Sequential
        In training mode, as every new module (call ``.eval()`` to switch Dropout off).
    """
    import torch

    dtype = torch.float64 if np.dtype(net.dtype) == np.float64 else torch.float32
    modules: list[Any] = []
    for layer in net.layers[1:]:
        modules += _modules_of(layer, dtype)
    return torch.nn.Sequential(*modules)


def _modules_of(layer: Layer, dtype: Any) -> list[Any]:
    """The ``torch.nn`` modules of one layer: its declared module (with copies of ``W``,
    ``b``), and its σ's module after it when the class says so."""
    import torch

    spec = type(layer).torch
    if isinstance(layer, Residual):  # torch has none: nnmath's ResidualBlock, σ(x + body(x))
        sigma = _torch_module(layer.activation)
        return [residual_module(layer, sigma, lambda inner: _modules_of(inner, dtype))]
    if spec is None:
        raise ValueError(f"{layer!r} has no torch.nn module (its class declares no torch)")
    if spec.module is None:  # the σ-only layer
        return [_torch_module(layer.activation)]
    config = layer.config()
    kwargs = {arg: config[ours] for ours, arg in spec.args.items()}
    kwargs.update({arg: _input_value(layer, axis) for arg, axis in spec.inputs.items()})
    if layer.has_parameters:
        kwargs["dtype"] = dtype
    image = spec.image_module is not None and len(layer.input_shape) == 3
    module = getattr(torch.nn, spec.image_module if image else spec.module)(**kwargs)
    with torch.no_grad():
        if layer.has_parameters:
            module.weight.copy_(torch.from_numpy(np.array(to_numpy(layer.W))))
            module.bias.copy_(torch.from_numpy(np.array(to_numpy(layer.b))))
        for name, value in layer.state().items():  # BatchNorm's running statistics
            getattr(module, name).copy_(torch.from_numpy(np.array(to_numpy(value))))
    return [module, _torch_module(layer.activation)] if spec.sigma else [module]


def _input_value(layer: Layer, axis: int | None) -> Any:
    """The size ``axis`` of the layer's input shape; None: the whole shape (a tuple)."""
    return tuple(layer.input_shape) if axis is None else layer.input_shape[axis]


def _flatten(module: Any) -> list[Any]:
    import torch.nn as nn

    if isinstance(module, nn.Sequential):
        return [leaf for child in module for leaf in _flatten(child)]
    return [module]


def _activation_of(pos: int, leaf: Any) -> Activation:
    """nnmath's activation for the module ``leaf`` at position ``pos`` of the Sequential."""
    import torch.nn as nn

    kind = type(leaf)
    names = [n for n, spec in TORCH_ACTIVATIONS.items() if getattr(nn, spec.module) is kind]
    if not names:
        layers = [c.torch.module for c in LAYERS.values() if c.torch and c.torch.module]
        modules = ", ".join([*layers, *(spec.module for spec in TORCH_ACTIVATIONS.values())])
        raise ValueError(
            f"layer {pos} ({kind.__name__}) has no nnmath counterpart; from_torch reads {modules}"
        )
    spec = TORCH_ACTIVATIONS[names[0]]
    for arg, values in spec.fixed.items():
        if getattr(leaf, arg) not in values:
            raise ValueError(
                f"layer {pos} is {kind.__name__}({arg}={getattr(leaf, arg)!r}); {spec.why}"
            )
    return get_activation(names[0], **{p: getattr(leaf, arg) for p, arg in spec.params.items()})


def _layer_args(pos: int, leaf: Any, cls: type[Layer]) -> dict[str, Any]:
    """The constructor arguments of ``cls`` that the module ``leaf`` holds (a square pair
    ``(k, k)`` as ``k``), after checking the attributes the layer implies."""
    spec = cls.torch
    name = type(leaf).__name__
    for attr, accepted in spec.fixed.items():  # type: ignore[union-attr]
        if getattr(leaf, attr) not in accepted:
            raise ValueError(
                f"layer {pos} is {name}({attr}={getattr(leaf, attr)!r}); nnmath's {cls.__name__} "
                f"has {attr}={accepted[0]!r}"
            )
    args = {}
    for ours, attr in spec.args.items():  # type: ignore[union-attr]
        value = getattr(leaf, attr)
        if isinstance(value, tuple):
            if len(set(value)) != 1:
                raise ValueError(
                    f"layer {pos} is {name}({attr}={value}); nnmath's windows are square"
                )
            value = value[0]
        args[ours] = value
    return args


def _read_layers(module: Any) -> list[tuple[type[Layer], dict[str, Any], Any]]:
    """``(layer class, constructor arguments, module)`` of each layer of the Sequential: a
    σ module after a Linear or Conv2d is its σ (identity when none follows), any other a
    σ-only layer."""
    import torch.nn as nn

    by_module = {
        getattr(nn, name): c
        for c in LAYERS.values()
        if c.torch
        for name in (c.torch.module, c.torch.image_module)
        if name
    }
    found: list[list[Any]] = []  # [class, arguments, module, σ still to come]
    for pos, leaf in enumerate(_flatten(module)):
        cls = by_module.get(type(leaf))
        if is_residual_block(leaf):  # its body read as layers, its σ module as the block's σ
            inner = [c(**args) for c, args, _ in _read_layers(leaf.body)]
            args = {"layers": inner, "activation": _activation_of(pos, leaf.activation)}
            found.append([Residual, args, leaf, False])
            continue
        if cls is not None:
            found.append([cls, _layer_args(pos, leaf, cls), leaf, cls.torch.sigma])
            continue
        act = _activation_of(pos, leaf)
        if found and found[-1][3]:
            found[-1][1]["activation"], found[-1][3] = act, False
        else:
            found.append([ActivationLayer, {"name": act}, leaf, False])
    for entry in found:
        if entry[3]:  # a Linear or Conv2d with no σ module after it: an identity layer
            entry[1]["activation"] = ACTIVATIONS["identity"]()
    return [(cls, args, leaf) for cls, args, leaf, _ in found]


def _input_of(found: list[tuple[type[Layer], dict[str, Any], Any]], shape: Any) -> Input:
    """The Input layer: ``input_shape`` when given, else the first module's inputs."""
    if not found:
        raise ValueError("the module has no Linear or Conv2d layer (no layer at all)")
    if shape is not None:
        return Input(shape)
    cls, _, leaf = found[0]
    spec = cls.torch
    if spec is None or spec.module != "Linear":  # only a Linear says its whole input
        raise ValueError(
            f"layer 0 ({type(leaf).__name__}) comes before any Linear layer, so the input's "
            "shape is unknown: pass input_shape=(C, H, W) (or n)"
        )
    return Input(leaf.in_features)


def _check_inputs(net: Any, found: list[tuple[type[Layer], dict[str, Any], Any]]) -> None:
    """Each module's declared inputs (``in_features``, ``in_channels``) are what the layer
    before it gives."""
    for i, (layer, (cls, _, leaf)) in enumerate(zip(net.layers[1:], found)):
        spec = cls.torch
        inputs = spec.inputs if spec else {}  # a block's: its body's, checked apart
        for arg, axis in inputs.items():
            want, got = _input_value(layer, axis), getattr(leaf, arg)
            if (tuple(got) if axis is None else got) != want:
                raise ValueError(
                    f"{type(leaf).__name__} layer {i} takes {got} inputs but "
                    f"the layer before it gives {want} ({arg})"
                )
        if spec is None:
            continue
        image = len(layer.input_shape) == 3
        module = spec.image_module if image and spec.image_module else spec.module
        if module is not None and type(leaf).__name__ != module:
            raise ValueError(
                f"layer {i} is {type(leaf).__name__} after a layer that gives "
                f"{layer.input_shape}: nnmath's {type(layer).__name__} there is {module}"
            )


def _dtype(module: Any) -> str:
    import torch

    dtypes = {p.dtype for p in module.parameters()}
    if dtypes - {torch.float32, torch.float64} or len(dtypes) > 1:
        raise ValueError(
            f"parameters have dtypes {sorted(map(str, dtypes))}; nnmath reads modules whose "
            "parameters are all float32 or all float64 (call module.float() or .double())"
        )
    return "float64" if dtypes == {torch.float64} else "float32"


def from_torch(
    module: Any, cost: str | None = None, init: str = "normal", input_shape: Any = None
) -> Network:
    """Read a ``torch.nn.Sequential`` into a :class:`Network` (of layers, if it has more
    than Linear layers and activations).

    Each ``nn.Linear`` or ``nn.Conv2d`` may be followed by one of the modules of
    :data:`TORCH_ACTIVATIONS` (``Sigmoid``, ``Tanh``, ``ReLU``, ``LeakyReLU`` whose
    ``negative_slope`` becomes ``alpha``, ``ELU`` with its ``alpha``, ``Softmax(dim=1)``,
    ``Identity``, ...), its σ; one with none is an identity layer. ``MaxPool2d``,
    ``AvgPool2d``, ``Flatten``, ``Dropout``, ``BatchNorm1d``/``BatchNorm2d`` (affine, with
    running statistics, which are copied) and ``LayerNorm`` (over each example's whole
    shape) become their layers, a σ module anywhere else an
    :class:`~nnmath.layers.Activation` layer. Nested ``Sequential`` modules are flattened.

    Parameters
    ----------
    module : torch.nn.Sequential (or one nn.Linear)
    cost : str, optional
        The cost to record; by default the one whose shortcut δ^L = a − y belongs to the
        output (:func:`nnmath._registry.default_cost`: ``log_likelihood`` after a softmax output,
        ``cross_entropy`` after a sigmoid output), else ``quadratic``.
    init : str
        The init name to record (the weights come from the module).
    input_shape : int or (C, H, W), optional
        One example's shape; needed when the first module is not a Linear (a Conv2d does
        not know its images' height and width).

    Returns
    -------
    Network
        In float64 when the module's parameters are float64, else float32.

    Raises
    ------
    ValueError
        For a module nnmath has no counterpart of (or with an attribute its layer does not
        have, as a dilation), a layer whose input does not match the previous output, a
        network that does not end in a σ, or parameters of another dtype.
    """
    found = _read_layers(module)
    first = _input_of(found, input_shape)
    dtype = _dtype(module)
    try:
        layers = [cls(**args) for cls, args, _ in found]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a module nnmath cannot read: {exc}") from None
    sigma = layers[-1].activation
    if cost is None:
        cost = default_cost(sigma.name) if sigma is not None else "quadratic"
    net = Network([first, *layers], cost=cost, init=init, dtype=dtype, seed=0)
    if len(net.layers) != len(found) + 1:  # a Flatten put in: torch would fail there
        raise ValueError("a Linear follows an image without a Flatten module before it")
    _check_inputs(net, found)
    weights, biases, states = [], [], []
    for layer, leaf in _parameter_modules(net.layers[1:], [leaf for _, _, leaf in found]):
        weights.append(leaf.weight.detach().cpu().numpy())
        bias = leaf.bias
        zeros = np.zeros(layer.parameter_shapes()[1])
        biases.append(bias.detach().cpu().numpy() if bias is not None else zeros)
    for layer, (_, _, leaf) in zip(net.layers[1:], found):
        if layer.state():  # torch's buffers of the same names (running_mean, running_var)
            buffers = {k: _buffer(leaf, k) for k in layer.state()}
            states.append({k: v.detach().cpu().numpy() for k, v in buffers.items()})
    net.set_parameters(weights, biases, *([states] if states else []))
    return net


def _buffer(leaf: Any, name: str) -> Any:
    """The torch buffer of a layer's state entry ``name`` in its module ``leaf``: the names
    are torch's, a residual block's ``"body.3.running_mean"`` a path in its ``body``."""
    for part in name.split("."):
        leaf = getattr(leaf, part)  # an nn.Sequential's modules are its attributes "0", "1", …
    return leaf


def _parameter_modules(layers: list[Layer], leaves: list[Any]) -> list[tuple[Layer, Any]]:
    """``(layer, module)`` of each layer with parameters, in ``net.weights`` order: a
    residual block's inner ones from its ``body`` (whose inputs are checked too)."""
    pairs = []
    for layer, leaf in zip(layers, leaves):
        if isinstance(layer, Residual):
            found = _read_layers(leaf.body)
            _check_inputs(SimpleNamespace(layers=[None, *layer.layers]), found)
            pairs += _parameter_modules(layer.layers, [inner for _, _, inner in found])
        elif layer.has_parameters:
            pairs.append((layer, leaf))
    return pairs
