"""The residual block (He et al. 2016): ``a^{out} = σ(a^{in} + F(a^{in}))``, a layer of layers."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..activations import Activation
from ._base import (
    Backward,
    Cache,
    Layer,
    Shape,
    activation_of,
    module_positions,
    parameter_gradients,
    sigma_config,
)
from .conv import Conv2D
from .dense import Dense

__all__ = ["FPath", "Residual", "ResidualCache"]


@dataclass
class ResidualCache(Cache):
    """A residual block's :class:`Cache`: ``a_prev`` = a^{in}, ``z`` = a^{in} + F(a^{in}),
    ``a`` = σ(z), and ``inner``, the cache of each layer of F, bottom first."""

    inner: list[Cache] = field(default_factory=list)


@dataclass
class FPath:
    """The backward pass through F alone (:meth:`Residual.backward_F`).

    Attributes
    ----------
    g : array ``input_shape + (m,)``
        ``J_Fᵀ δ^{out}``, F's term of ``∂C/∂a^{in}``.
    inner : list of (nabla_w, nabla_b)
        The inner layers' gradients, in :meth:`Residual.parameter_layers` order.
    steps : list of (g, delta), one per inner layer, bottom first
        ``∂C/∂a`` of the layer's output and its ``δ = ∂C/∂z``.
    """

    g: Any
    inner: list[tuple[Any, Any]]
    steps: list[tuple[Any, Any]]


class Residual(Layer):
    """A residual block: ``z^{out} = a^{in} + F(a^{in})``, ``a^{out} = σ(z^{out})``.

    ``F`` is the stack ``layers`` (built in order from the block's input shape); its output
    has the input's shape, so the sum is defined. Examples are the last axis: a^{in}, z, a are
    ``input_shape + (m,)``, ``(n, m)`` after a Dense, ``(C, H, W, m)`` after a convolution.

    Backward, from ``δ^{out} = ∂C/∂z^{out}`` (``input_shape + (m,)``): z^{out} has two
    summands, so the error that reaches a^{in} is the sum of two paths,

    ``g = ∂C/∂a^{in} = δ^{out} + J_Fᵀ δ^{out}``:

    * the identity path, ``δ^{out}`` itself (∂a^{in}/∂a^{in} = I), and
    * F's path, ``J_Fᵀ δ^{out}``: F's own backward chain, started at its top layer with
      ``∂C/∂(F's output) = δ^{out}`` (F's output feeds the sum directly) completed by that
      layer's ``delta``, then down through F as through any stack of layers, which also gives
      each inner layer's ``∂C/∂w``, ``∂C/∂b``.

    In the lecture's chain ``∂C/∂b_1 = σ'(z_1) w_2 σ'(z_2) w_3 σ'(z_3) …`` every layer
    multiplies the gradient by a factor ``w σ'(z)``, and a product of many factors below one
    vanishes; the identity path adds ``δ^{out}`` unmultiplied, so the gradient reaches the
    layers below the block however small F's factors are.

    Parameters
    ----------
    layers : sequence of Layer
        F, built in order from the block's input; it must end in the input's shape. A Dense
        after an image (which a network flattens implicitly) and Dropout are refused inside.
    activation : str or Activation
        σ of the sum, element-wise (``"relu"`` as He et al.; ``"identity"`` for none).

    Attributes
    ----------
    layers : list of Layer
        The block's own built copies of ``layers`` (the given objects stay unbuilt).
    """

    name = "residual"
    EXAMPLES = (
        ({"layers": [Dense(4, "tanh"), Dense(5, "identity")], "activation": "relu"}, (5,)),
        ({"layers": [Conv2D(2, 3, padding=1, activation="elu")], "activation": "tanh"}, (2, 4, 5)),
    )

    def __init__(self, layers: Sequence[Layer], activation: str | Activation = "relu") -> None:
        super().__init__()
        self.given = [_layer_of(layer) for layer in layers]
        if not self.given:
            raise ValueError("Residual(layers): give F's layers, e.g. [Dense(64, 'relu'), ...]")
        for layer in self.given:
            _check_inner(layer)
        self.activation = activation_of(activation)
        if not self.activation.elementwise:
            raise ValueError(
                f"Residual's σ must be element-wise, got {self.activation.name!r}: a σ that "
                "couples units (softmax) goes in a Dense after the block"
            )
        self.layers: list[Layer] = []

    def build(self, input_shape: Shape, init: str, rng: np.random.Generator, dtype: Any) -> Shape:
        """Build a copy of each layer of F in order from ``input_shape`` (its ``W``, ``b``
        drawn from ``rng``); F must give ``input_shape`` back.

        Raises
        ------
        ValueError
            An inner layer that does not fit, or F's output shape other than its input's.
        """
        self.input_shape = self.output_shape = shape = tuple(input_shape)
        self.layers = []
        for i, layer in enumerate(self.given):
            if type(layer).name == "dense" and len(shape) != 1:
                raise ValueError(
                    f"Residual: layers[{i}] {layer!r} follows an image {shape}; inside a "
                    "block nothing is flattened: keep F's shape, or put the Dense after it"
                )
            layer = copy.copy(layer)  # the block's own: two networks never share a W
            try:
                shape = layer.build(shape, init, rng, dtype)
            except ValueError as err:
                raise ValueError(f"Residual: layers[{i}]: {err}") from None
            self.layers.append(layer)
        if shape != self.input_shape:
            raise ValueError(
                f"Residual: F maps the input shape {self.input_shape} to {shape}; a^in + F(a^in) "
                f"needs the same shape: make F's last layer give {self.input_shape}"
            )
        return self.output_shape

    def sublayers(self) -> list[Layer]:
        """F's layers: built, or before :meth:`build` the given (unbuilt) ones."""
        return self.layers or self.given

    @property
    def couples_examples(self) -> bool:  # type: ignore[override]
        """Whether F mixes the examples of a mini-batch (a BatchNorm inside the block)."""
        return any(layer.couples_examples for layer in self.sublayers())

    def elements_per_example(self) -> int:
        """F's layers' and the block's own z, a."""
        inner = sum(layer.elements_per_example() for layer in self.layers)
        return super().elements_per_example() + inner

    def parameter_layers(self) -> list[Layer]:
        """The inner layers with ``W``, ``b`` (recursively), in order: the block has none.
        Before :meth:`build`, the given (unbuilt) ones: how many there will be."""
        return [inner for layer in self.sublayers() for inner in layer.parameter_layers()]

    def parameters(self) -> list[Any]:
        """``[W, b]`` of each inner layer with parameters, in order, flattened."""
        return [p for layer in self.parameter_layers() for p in (layer.W, layer.b)]

    def state(self) -> dict[str, Any]:
        """The inner layers' state, each name prefixed as in the block's torch module,
        ``"body.{k}."`` (``k`` the layer's module in ``body``): ``"body.3.running_mean"``."""
        return {
            f"body.{k}.{name}": value
            for k, layer in zip(module_positions(self.layers), self.layers)
            for name, value in layer.state().items()
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Put back what :meth:`state` gave, to each inner layer by its prefix."""
        parts: dict[int, dict[str, Any]] = {k: {} for k in module_positions(self.layers)}
        for key, value in state.items():
            body, k, name = key.split(".", 2) if key.count(".") >= 2 else ("", "", key)
            if body != "body" or not k.isdigit() or int(k) not in parts:
                raise ValueError(f"{self!r} has no inner layer for the state entry {key!r}")
            parts[int(k)][name] = value
        for layer, part in zip(self.layers, parts.values()):
            layer.set_state(part)

    def update_state(self, cache: Cache) -> None:
        """Each inner layer folds its own cache in (a BatchNorm's running statistics)."""
        for layer, inner in zip(self.layers, cache.inner):
            layer.update_state(inner)

    def forward(self, a_prev: Any, mask: Any = None, training: bool = False) -> ResidualCache:
        """z^{out} = a^{in} + F(a^{in}), a^{out} = σ(z^{out}); ``input_shape + (m,)``."""
        caches, a = [], a_prev
        for layer in self.layers:
            cache = layer.forward(a, None, training)
            caches.append(cache)
            a = cache.a
        z = a_prev + a  # z^out = a^in + F(a^in): the skip connection
        return ResidualCache(a_prev, z, self.activation(z), inner=caches)

    def backward(self, delta: Any, cache: Cache, need_g: bool = True) -> Backward:
        """g = δ^{out} + J_Fᵀ δ^{out} (``input_shape + (m,)``), and the inner layers'
        ``(∂C/∂w, ∂C/∂b)`` in :meth:`parameter_layers` order (``Backward.inner``)."""
        path = self.backward_F(delta, cache)
        return Backward(delta + path.g, inner=path.inner)  # identity path + F's path

    def backward_F(self, delta: Any, cache: Cache) -> FPath:
        """F's path alone, from ``δ^{out}``: ``J_Fᵀ δ^{out}``, the inner layers'
        ``(∂C/∂w, ∂C/∂b)`` and each inner layer's ``(g, δ)`` (what the diagnostics show)."""
        g, inner, steps = delta, [], []  # ∂C/∂(F's output) = ∂C/∂z^out: it feeds the sum
        for layer, c in zip(reversed(self.layers), reversed(cache.inner)):
            d = layer.delta(c, g)  # the inner layer's δ, then the g it hands down
            back = layer.backward(d, c)
            inner[:0] = parameter_gradients(layer, back)
            steps.insert(0, (g, d))
            g = back.g
        return FPath(g, inner, steps)

    def torch_z(self, a_prev: Any, F: Any, *params: Any, mask: Any = None) -> Any:
        """The torch twin: each inner layer's own twin and torch's σ module, then the sum
        (``params``: the inner ``W``, ``b`` in :meth:`parameters` order)."""
        a, rest = a_prev, list(params)
        for layer in self.layers:
            n = len(layer.parameters())
            z = layer.torch_z(a, F, *rest[:n])
            rest = rest[n:]
            a = z if layer.activation is None else torch_sigma(layer.activation, z)
        return a_prev + a

    def config(self) -> dict[str, Any]:
        layers = [{"type": layer.name, **layer.config()} for layer in self.given]
        return {"layers": layers, "activation": sigma_config(self.activation)}

    def describe(self) -> str:
        return f"{self!r} → {self.output_shape}"

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.given)
        return f"Residual([{inner}], activation={self.activation.name!r})"


def _layer_of(spec: Any) -> Layer:
    """A layer object, or one from its config ``{"type": name, **config}`` (EXAMPLES, files)."""
    if isinstance(spec, Layer):
        return spec
    if isinstance(spec, Mapping) and "type" in spec:
        from . import LAYERS  # the registry holds this module's class too

        kind = LAYERS.get(spec["type"])
        if kind is None:
            raise ValueError(
                f"Residual: unknown layer type {spec['type']!r}; known: {sorted(LAYERS)}"
            )
        return kind.from_config({k: v for k, v in spec.items() if k != "type"})
    raise TypeError(f"Residual(layers): {spec!r:.60} is not a layer of nnmath.layers")


def _check_inner(layer: Layer) -> None:
    """Refuse what a block cannot hold: an Input, and Dropout (its masks are drawn for the
    network's own layers only)."""
    if type(layer).name in ("input", "dropout"):
        raise ValueError(
            f"Residual: {layer!r} cannot go inside a block; put Dropout before or after the "
            "Residual, and the Input first in the network"
        )


def torch_sigma(act: Activation, z: Any) -> Any:
    """σ(z) by torch's own module for σ (declared with each activation), examples last."""
    import torch

    spec = act.torch
    kwargs = {arg: act.params[p] for p, arg in spec.params.items()}
    kwargs.update({arg: values[0] for arg, values in spec.fixed.items()})
    sigma = getattr(torch.nn, spec.module)(**kwargs)
    return sigma(z.T).T if z.ndim == 2 else sigma(z)  # torch's softmax normalises rows
