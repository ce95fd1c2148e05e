"""Conversion to and from PyTorch: a Network is ``nn.Sequential(Linear, σ, Linear, σ, …)``.

Which ``torch.nn`` module stands for which activation is declared with the activation itself
(its ``torch``, in :mod:`nnmath.activations._declarations`); :data:`TORCH_ACTIVATIONS` is the
registry's view of them, keyed by registry name. A new activation needs no line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._registry import default_cost
from .._unsupported import refuse_layers
from ..activations import ACTIVATIONS, Activation, TorchModule, get_activation
from ..activations._base import declared
from ..backend import to_numpy
from ..network import Network

__all__ = ["TORCH_ACTIVATIONS", "TorchActivation", "from_torch", "to_torch"]


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
    """An equivalent ``torch.nn.Sequential``: ``Linear, σ, Linear, σ, …``.

    Layer ``i`` becomes ``nn.Linear(sizes[i], sizes[i+1])`` at index ``2 i`` (its ``weight``
    is our ``W`` of shape ``(n_out, n_in)``, no transpose) followed by its activation module
    at ``2 i + 1`` (:data:`TORCH_ACTIVATIONS`: ``nn.Identity()`` for identity,
    ``nn.Softmax(dim=1)`` for softmax). The parameters are copies in the network's dtype. So
    ``module.state_dict()`` has the same names as a model file.

    Parameters
    ----------
    net : Network

    Returns
    -------
    torch.nn.Sequential
    """
    refuse_layers(net, "nnmath.io.to_torch")
    import torch
    import torch.nn as nn

    dtype = torch.float64 if np.dtype(net.dtype) == np.float64 else torch.float32
    modules: list[Any] = []
    for W, b, act in zip(net.weights, net.biases, net.activation_functions):
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.array(to_numpy(W))))
            linear.bias.copy_(torch.from_numpy(np.array(to_numpy(b))))
        modules += [linear, _torch_module(act)]
    return nn.Sequential(*modules)


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
        modules = ", ".join(spec.module for spec in TORCH_ACTIVATIONS.values())
        raise ValueError(
            f"layer {pos} ({kind.__name__}) has no nnmath counterpart; from_torch reads "
            f"Linear and {modules}"
        )
    spec = TORCH_ACTIVATIONS[names[0]]
    for arg, values in spec.fixed.items():
        if getattr(leaf, arg) not in values:
            raise ValueError(
                f"layer {pos} is {kind.__name__}({arg}={getattr(leaf, arg)!r}); {spec.why}"
            )
    return get_activation(names[0], **{p: getattr(leaf, arg) for p, arg in spec.params.items()})


def _linear_layers(module: Any) -> list[tuple[Any, Activation | None]]:
    """The module's Linear layers, each with the activation module that follows it (or None)."""
    import torch.nn as nn

    layers: list[list[Any]] = []  # [linear, activation or None]
    for pos, leaf in enumerate(_flatten(module)):
        if type(leaf) is nn.Linear:
            layers.append([leaf, None])
            continue
        act = _activation_of(pos, leaf)
        name = type(leaf).__name__
        if not layers:
            raise ValueError(f"layer {pos} ({name}) comes before any Linear layer")
        if layers[-1][1] is not None:
            raise ValueError(
                f"layer {pos} ({name}) follows another activation; nnmath has one "
                "activation per Linear layer"
            )
        layers[-1][1] = act
    if not layers:
        raise ValueError("the module has no Linear layer")
    return [(linear, act) for linear, act in layers]


def _sizes(layers: list[tuple[Any, Activation | None]]) -> list[int]:
    sizes = [layers[0][0].in_features]
    for i, (linear, _) in enumerate(layers):
        if linear.in_features != sizes[-1]:
            raise ValueError(
                f"Linear layer {i} takes {linear.in_features} inputs but the layer before it "
                f"gives {sizes[-1]}"
            )
        sizes.append(linear.out_features)
    return sizes


def _dtype(module: Any) -> str:
    import torch

    dtypes = {p.dtype for p in module.parameters()}
    if dtypes - {torch.float32, torch.float64} or len(dtypes) > 1:
        raise ValueError(
            f"parameters have dtypes {sorted(map(str, dtypes))}; nnmath reads modules whose "
            "parameters are all float32 or all float64 (call module.float() or .double())"
        )
    return "float64" if dtypes == {torch.float64} else "float32"


def from_torch(module: Any, cost: str | None = None, init: str = "normal") -> Network:
    """Read a ``torch.nn.Sequential`` of Linear layers and activations into a :class:`Network`.

    Each ``nn.Linear`` may be followed by one of the modules of :data:`TORCH_ACTIVATIONS`
    (``Sigmoid``, ``Tanh``, ``ReLU``, ``LeakyReLU`` whose ``negative_slope`` becomes
    ``alpha``, ``ELU`` with its ``alpha``, ``Softmax(dim=1)``, ``Identity``, ...); a Linear
    with none is an identity layer. Nested ``Sequential`` modules are flattened.

    Parameters
    ----------
    module : torch.nn.Sequential (or one nn.Linear)
    cost : str, optional
        The cost to record; by default the one whose shortcut δ^L = a − y belongs to the
        output (:func:`nnmath._registry.default_cost`: ``log_likelihood`` after a softmax output,
        ``cross_entropy`` after a sigmoid output), else ``quadratic``.
    init : str
        The init name to record (the weights come from the module).

    Returns
    -------
    Network
        In float64 when the module's parameters are float64, else float32.

    Raises
    ------
    ValueError
        For a layer nnmath has no counterpart of, two activations in a row, a Linear whose
        input size does not match the previous output, or parameters of another dtype.
    """
    layers = _linear_layers(module)
    sizes = _sizes(layers)
    dtype = _dtype(module)
    acts = [act if act is not None else ACTIVATIONS["identity"]() for _, act in layers]
    if cost is None:
        cost = default_cost(acts[-1].name)
    net = Network(sizes, activation=acts, cost=cost, init=init, dtype=dtype, seed=0)
    weights, biases = [], []
    for linear, _ in layers:
        weights.append(linear.weight.detach().cpu().numpy())
        bias = linear.bias
        biases.append(
            bias.detach().cpu().numpy() if bias is not None else np.zeros(linear.out_features)
        )
    net.set_parameters(weights, biases)
    return net
