"""The layer protocol: every layer is the lecture's pair of equations, forward and backward.

Inside the core a mini-batch keeps its examples in the *last* axis, as the lecture's columns:
a dense activation is ``(n, m)``, an image ``(C, H, W, m)``. A layer ``l`` maps ``a^{l−1}`` to

* forward: ``z^l = w^l ⋆ a^{l−1} + b^l`` and ``a^l = σ(z^l)`` (⋆ is a product, a correlation,
  a pooling or a mask; a layer without σ has ``a^l = z^l``), kept in a :class:`Cache`;
* backward: from ``δ^l = ∂C/∂z^l`` the gradients ``∂C/∂w^l``, ``∂C/∂b^l`` (averaged over the
  ``m`` examples) and ``g = ∂C/∂a^{l−1} = (w^l)ᵀ ⋆ δ^l``, the error that reaches the layer
  below. That layer completes equation 2 with its own σ, :meth:`Layer.delta`:
  ``δ^{l−1} = g ⊙ σ'(z^{l−1})``, exactly as :meth:`nnmath.network.Network.backprop_columns`
  splits ``δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)``.

A new layer type is one subclass of :class:`Layer` and one entry of
:data:`nnmath.layers.LAYERS`; the network, ``fit``, the optimizers and the tests need no edit.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..activations import Activation, get_activation

__all__ = [
    "Backward",
    "Cache",
    "Layer",
    "OnnxLayer",
    "Shape",
    "TorchLayer",
    "module_positions",
    "parameter_gradients",
    "size_of",
]

Shape = tuple[int, ...]


def size_of(shape: Shape) -> int:
    """Number of units of one example of ``shape`` (``C·H·W`` for an image)."""
    return int(np.prod(shape, dtype=np.int64))


@dataclass
class Cache:
    """What a layer's forward pass keeps for its backward pass (one mini-batch).

    Attributes
    ----------
    a_prev : array ``input_shape + (m,)``
        a^{l−1}, the layer's input (for a Dense layer, ``(n_in, m)``).
    z : array ``output_shape + (m,)``
        z^l = w^l ⋆ a^{l−1} + b^l.
    a : array ``output_shape + (m,)``
        a^l = σ(z^l) (``z`` itself for a layer without σ).
    """

    a_prev: Any
    z: Any
    a: Any


@dataclass
class Backward:
    """What a layer's backward pass gives, for one mini-batch.

    Attributes
    ----------
    g : array ``input_shape + (m,)``, or None
        ∂C/∂a^{l−1} = (w^l)ᵀ ⋆ δ^l per example: the layer below turns it into its δ (None
        when the caller said it needs none, ``need_g=False``).
    nabla_w, nabla_b : arrays shaped like ``W``, ``b``, or None
        ∂C/∂w^l and ∂C/∂b^l averaged over the mini-batch; None for a layer without parameters.
    inner : list of (nabla_w, nabla_b), or None
        A layer of layers' (:class:`~nnmath.layers.Residual`): its inner layers' gradients,
        aligned with its :meth:`Layer.parameter_layers`; None for any other layer.
    """

    g: Any
    nabla_w: Any = None
    nabla_b: Any = None
    inner: list[tuple[Any, Any]] | None = None


def module_positions(layers: Sequence[Layer]) -> list[int]:
    """Each layer's position in the ``torch.nn.Sequential`` of ``layers`` that
    :func:`nnmath.io.to_torch` builds: its module, then its σ's module when its class
    declares one (:attr:`TorchLayer.sigma`); a layer without a declared module (a
    residual block) is one module."""
    positions, k = [], 0
    for layer in layers:
        spec = type(layer).torch
        positions.append(k)
        k += 1 + bool(spec is not None and spec.sigma)
    return positions


def parameter_gradients(layer: Layer, back: Backward) -> list[tuple[Any, Any]]:
    """``(∂C/∂w, ∂C/∂b)`` of each layer of ``layer.parameter_layers()``, in order, from its
    :class:`Backward`: one pair, none, or a layer of layers' ``inner`` list."""
    if back.inner is not None:
        return back.inner
    return [(back.nabla_w, back.nabla_b)] if layer.has_parameters else []


@dataclass(frozen=True)
class TorchLayer:
    """The ``torch.nn`` module of one layer type (named, so torch stays an optional import):
    what :func:`nnmath.io.to_torch` builds and :func:`nnmath.io.from_torch` reads.

    Attributes
    ----------
    module : str or None
        The class name in ``torch.nn`` (``"Conv2d"``); None: the layer's σ's own module
        (:attr:`nnmath.activations.Activation.torch`), for the σ-only layer.
    args : mapping of str to str
        Our constructor argument -> the module's argument (and attribute) of the same
        meaning: ``{"kernel_size": "kernel_size"}``; a square pair ``(k, k)`` reads as ``k``.
    inputs : mapping of str to int
        The module's argument -> the axis of the layer's input shape it is
        (``{"in_channels": 0}``): to_torch passes it, from_torch checks it.
    fixed : mapping of str to tuple
        The module's attributes nnmath's layer implies (``dilation``, ``ceil_mode``): torch's
        defaults, which from_torch checks, refusing a module with another value.
    sigma : bool
        The layer's σ follows it as the next module (``Linear``, ``Conv2d``).
    image_module : str or None
        The module that stands for the layer after an image, when it is another
        (``BatchNorm2d`` beside ``BatchNorm1d``); from_torch reads both.

    An axis of ``inputs`` given as None is the whole input shape (LayerNorm's
    ``normalized_shape``). A layer's :meth:`Layer.state` entries are the module's buffers of
    the same names (``running_mean``), copied both ways.
    """

    module: str | None
    args: Mapping[str, str] = field(default_factory=dict)
    inputs: Mapping[str, int | None] = field(default_factory=dict)
    fixed: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    sigma: bool = False
    image_module: str | None = None


@dataclass(frozen=True)
class OnnxLayer:
    """The ONNX operator of one layer type: what :func:`nnmath.io.to_onnx` writes and
    :func:`nnmath.io.from_onnx` reads back.

    Attributes
    ----------
    op : str or None
        The operator (``"Conv"``); None: the σ's own operators (the σ-only layer).
    attrs : mapping of str to (str, int)
        An attribute -> (our constructor argument, how many times it is repeated):
        ``{"pads": ("padding", 4)}`` writes ``pads=[p, p, p, p]`` (square windows).
    fixed : mapping of str to int
        Attributes written as they are (Gemm's ``transB=1``, Flatten's ``axis=1``).
    weights : mapping of str to int
        Our constructor argument -> the axis of ``W`` it is (``{"n": 0}``). A layer with
        parameters takes ``W`` and ``b`` as its second and third inputs, then its
        :meth:`Layer.state` (``running_mean``, ``running_var``) as the next ones.
    constants : mapping of str to str
        More inputs, scalar constants: their name -> our argument (Dropout's ``ratio``: ``p``).
    sigma : bool
        The layer's σ's operators follow it.
    floats : mapping of str to (str, bool)
        Float attributes: their name -> (our argument, written as ``1 − value``):
        BatchNormalization's ``epsilon`` is our ``eps``, its ``momentum`` our ``1 − momentum``
        (ONNX weighs the running value by it, torch and nnmath the new one).
    state : tuple of str
        The names of the layer's state, inputs after ``W`` and ``b`` (in this order).
    """

    op: str | None
    attrs: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    fixed: Mapping[str, int] = field(default_factory=dict)
    weights: Mapping[str, int] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    sigma: bool = False
    floats: Mapping[str, tuple[str, bool]] = field(default_factory=dict)
    state: tuple[str, ...] = ()


class Layer:
    """One layer of a network: its shapes, its parameters and its two equations.

    Subclasses set :attr:`name` and implement :meth:`build` (shapes and parameters from the
    input's shape), :meth:`forward` and :meth:`backward`; a layer with parameters keeps them
    as ``W`` and ``b``. Examples are the last axis of every array.

    Attributes
    ----------
    input_shape, output_shape : tuple of int
        One example's shape in and out (``(n,)`` or ``(C, H, W)``); set by :meth:`build`.
    activation : Activation or None
        σ of ``a^l = σ(z^l)``; None for a layer whose output is ``z^l`` itself.
    W, b : arrays or None
        The parameters ``w^l``, ``b^l`` (None for a layer without).
    arguments : dict
        The constructor's arguments by name (defaults filled in), as given.
    """

    name = "layer"
    #: the words of the layer description language (:mod:`nnmath.layers.language`), the
    #: first one what :func:`~nnmath.layers.describe` writes; ``name`` is always read too
    words: ClassVar[tuple[str, ...]] = ()
    has_parameters = False
    #: whether a training pass mixes the examples of a mini-batch (BatchNorm's statistics):
    #: the gradient check then perturbs one example at a time, and fit never cuts the batch
    couples_examples = False
    arguments: dict[str, Any]  # set by __new__, for every layer
    #: instances the tests build and check (central differences, torch), with an input shape:
    #: ``(constructor keyword arguments, input_shape)``; declared once, per layer type
    EXAMPLES: ClassVar[tuple[tuple[dict[str, Any], Shape], ...]] = ()
    #: its ``torch.nn`` module and ONNX operator (None: it has none, as the Input)
    torch: ClassVar[TorchLayer | None] = None
    onnx: ClassVar[OnnxLayer | None] = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Layer:
        """A layer that keeps the arguments it was made with, by its constructor's parameter
        names, defaults filled in (``arguments``): the constructor is their one declaration,
        which :func:`~nnmath.layers.describe` reads back."""
        layer = super().__new__(cls)
        try:
            bound = inspect.signature(cls.__init__).bind(layer, *args, **kwargs)
        except TypeError:  # __init__ says what is wrong (or copy.copy makes it bare)
            layer.arguments = {}
        else:
            bound.apply_defaults()
            layer.arguments = dict(list(bound.arguments.items())[1:])  # without self
        return layer

    def __init__(self) -> None:
        self.input_shape: Shape = ()
        self.output_shape: Shape = ()
        self.activation: Activation | None = None
        self.W: Any = None
        self.b: Any = None

    def build(self, input_shape: Shape, init: str, rng: np.random.Generator, dtype: Any) -> Shape:
        """Set the shapes (and draw ``W``, ``b`` with ``init`` from ``rng``); returns
        ``output_shape``. Raises ValueError when ``input_shape`` does not fit the layer."""
        self.input_shape = self.output_shape = tuple(input_shape)
        return self.output_shape

    def forward(
        self, a_prev: Any, mask: Any = None, training: bool = False
    ) -> Cache:  # pragma: no cover - abstract
        """``z^l`` and ``a^l`` of the columns ``a_prev`` (``input_shape + (m,)``); ``mask`` is
        a Dropout layer's, ``training`` says the pass is one of ``fit``'s (a batch-normalising
        layer then uses the mini-batch's statistics, else its running ones)."""
        raise NotImplementedError

    def backward(
        self, delta: Any, cache: Cache, need_g: bool = True
    ) -> Backward:  # pragma: no cover - abstract
        """``∂C/∂a^{l−1}``, ``∂C/∂w^l``, ``∂C/∂b^l`` from ``δ^l`` (``output_shape + (m,)``);
        with ``need_g=False`` (the bottom layer: nothing below takes it) ``g`` may be None."""
        raise NotImplementedError

    def torch_z(self, a_prev: Any, F: Any, W: Any = None, b: Any = None, mask: Any = None) -> Any:
        """z^l of the torch tensor ``a_prev`` (our layout, examples last) by
        ``torch.nn.functional`` ``F``: the independent twin the tests differentiate with
        autograd (``W``, ``b``: torch tensors of the parameters)."""
        raise NotImplementedError(f"{type(self).__name__} has no torch twin")  # pragma: no cover

    def delta(self, cache: Cache, g: Any) -> Any:
        """δ^l = ∂C/∂z^l = (∂a^l/∂z^l)ᵀ g, the end of equation 2: ``g ⊙ σ'(z^l)`` for an
        element-wise σ (``σ.vjp``), ``g`` itself for a layer without σ. Shape of ``z``."""
        if self.activation is None:
            return g
        return self.activation.vjp(cache.z, cache.a, g)

    def parameter_shapes(self) -> tuple[Shape, Shape]:
        """The shapes ``W`` and ``b`` must have, from the layer's shapes (a layer with
        parameters says; :meth:`build` set them)."""
        raise TypeError(f"{self!r} has no parameters")

    def parameters(self) -> list[Any]:
        """``[W, b]`` for a layer with parameters, ``[]`` otherwise."""
        return [self.W, self.b] if self.has_parameters else []

    def elements_per_example(self) -> int:
        """The array elements a training pass keeps for one example in this layer (z^l and
        a^l; a convolution its im2col columns too): what bounds a chunk of rows and what a
        mini-batch costs in memory (:func:`nnmath._fit_checks.pass_bytes`)."""
        return 2 * size_of(self.output_shape)

    def parameter_layers(self) -> list[Layer]:
        """The layers whose ``W``, ``b`` this one holds, in order: itself when it has
        parameters; a layer made of layers lists its inner ones (``net.weights`` follows)."""
        return [self] if self.has_parameters else []

    def sublayers(self) -> list[Layer]:
        """The layers this one is made of, in order (built, or as given before ``build``);
        empty for a layer that is not made of layers."""
        return []

    def state(self) -> dict[str, Any]:
        """What the layer keeps that no gradient trains (BatchNorm's running mean and
        variance), by name, as arrays: saved, checkpointed and restored with ``W``, ``b``.
        Empty for most layers."""
        return {}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Put back what :meth:`state` gave (same names and shapes)."""
        if state:
            raise ValueError(f"{self!r} keeps no state, got {sorted(state)}")

    def update_state(self, cache: Cache) -> None:
        """After a training pass (``forward(..., training=True)``), fold what it measured into
        the state (the running statistics); most layers keep none."""

    def config(self) -> dict[str, Any]:
        """The constructor's arguments as JSON values (a σ as ``{"name": ..., **params}``):
        ``type(self).from_config(self.config())`` is the same layer, unbuilt. Model files
        store it (:mod:`nnmath.io.model`)."""
        return {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Layer:
        """The layer :meth:`config` describes; a dict argument is a σ (``{"name": ...}``).

        Raises
        ------
        TypeError, ValueError
            An argument the constructor does not take, or a value it refuses.
        """
        args = {k: sigma_of(v) if isinstance(v, Mapping) else v for k, v in config.items()}
        return cls(**args)

    def describe(self) -> str:
        """One line: the layer's name and output shape (``Conv2D(20, 5) → (20, 24, 24)``)."""
        return f"{self!r} → {self.output_shape}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def sigma_config(act: Activation) -> dict[str, Any]:
    """A σ as JSON: its registry name and parameters (``{"name": "elu", "alpha": 1.0}``)."""
    return {"name": act.name, **act.params}


def sigma_of(config: Mapping[str, Any]) -> Activation:
    """The σ :func:`sigma_config` describes, from the registry (a KeyError-free ValueError
    for an unknown name, a TypeError for an unknown parameter)."""
    params = {k: v for k, v in config.items() if k != "name"}
    return get_activation(config.get("name"), **params)


def activation_of(spec: str | Activation | None) -> Activation | None:
    """σ from the registry by name (or an Activation object); None stays None."""
    return None if spec is None else get_activation(spec)


def check_image(layer: Layer, input_shape: Shape) -> tuple[int, int, int]:
    """``(C, H, W)`` of an image input, or a ValueError that says what to put first."""
    if len(input_shape) != 3:
        raise ValueError(
            f"{layer!r} needs an image input (C, H, W), got shape {tuple(input_shape)}: "
            "start the network with Input((C, H, W))"
        )
    C, H, W = (int(d) for d in input_shape)
    return C, H, W


def out_size(n: int, k: int, stride: int, padding: int, layer: Layer) -> int:
    """Output length ``⌊(n + 2p − k)/s⌋ + 1`` of a window sliding over ``n`` (as torch)."""
    if n + 2 * padding < k:
        raise ValueError(
            f"{layer!r}: a window of {k} does not fit an input of {n} (padding {padding}); "
            "use a smaller kernel or pool, or more padding"
        )
    return (n + 2 * padding - k) // stride + 1
