"""A network of layers (:mod:`nnmath.layers`): the path ``nm.Network([Input(...), ...])`` takes.

``nm.Network(layers, ...)`` returns a :class:`LayerNetwork` when ``layers`` holds anything
beyond ``Input(n)`` and ``Dense`` layers (those are exactly the sizes network
``Network([n, ...], activation=[...])``, compiled epoch and all). It *is* a
:class:`~nnmath.network.Network`: ``predict``, ``accuracy``, ``cost``, ``evaluate``,
``copy_parameters``, ``set_parameters`` and ``fit`` (the reference loop, with its optimizers,
callbacks and dropout keys) are the same methods; only the forward and backward passes go
through the layers' protocol, one layer at a time:

* forward: ``cache = layer.forward(a^{l−1})`` holds ``z^l``, ``a^l`` (and what backward needs);
* backward: ``δ^L`` from the cost, then for each layer from the top
  ``back = layer.backward(δ^l, cache)`` gives ``∂C/∂w^l``, ``∂C/∂b^l`` and
  ``g = ∂C/∂a^{l−1}``, and the layer below completes equation 2,
  ``δ^{l−1} = below.delta(cache_below, g)`` (``g ⊙ σ'(z^{l−1})``).

Rows ``X`` are ``(m, C·H·W)`` or ``(m, C, H, W)``; inside, the columns ``(C·H·W, m)`` are
reshaped by the Input layer to ``(C, H, W, m)`` (examples last, as the lecture's columns).
It runs on every backend (``backend="torch"``, ``"cupy"``: the layers' maths is the array
namespace's). What cannot take a network of layers yet (Nielsen's JSON files) raises
NotImplementedError
(:func:`nnmath._unsupported.refuse_layers`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import dropout as _dropout
from ._architecture import check_output
from .backend import Backend, get_backend, resolve_dtype
from .costs import Cost, get_cost
from .layers import Cache, Dropout, Layer, build_layers, size_of
from .layers._base import parameter_gradients
from .network import Gradients, Network

__all__ = ["CHUNK_ELEMENTS", "LayerNetwork"]

#: the most array elements one layer may keep for a chunk of columns in an inference pass
#: (:meth:`LayerNetwork.feed_columns`): 2^23, 32 MiB of float32
CHUNK_ELEMENTS = 2**23


@functools.cache
def _takes_need_g(backward: Any) -> bool:
    return "need_g" in inspect.signature(backward).parameters


def _backward(layer: Layer, delta: Any, cache: Cache, bottom: bool) -> Any:
    """``layer.backward(δ^l, cache)``; the bottom layer is told that nothing below takes its
    g (``need_g=False``: a convolution then skips col2im) when its backward has that
    parameter, so that a layer written without it still works."""
    if bottom and _takes_need_g(type(layer).backward):
        return layer.backward(delta, cache, need_g=False)
    return layer.backward(delta, cache)


class ParameterList(list):
    """``net.weights`` (or ``biases``) of a network of layers: the layers' arrays, in order;
    ``net.weights[i] = W`` sets the layer's own ``W`` too (as it would on a dense network)."""

    def __init__(self, layers: list[Layer], attr: str) -> None:
        super().__init__(getattr(layer, attr) for layer in layers)
        self.layers, self.attr = layers, attr

    def __setitem__(self, i: Any, value: Any) -> None:
        if not isinstance(i, int):
            raise TypeError(f"set one entry (net.{self.attr}[i] = ...) or the whole list")
        super().__setitem__(i, value)
        setattr(self.layers[i], self.attr, value)


class LayerNetwork(Network):
    """A network given as layers: ``nm.Network([Input((1, 28, 28)), Conv2D(20, 5), ...])``.

    Parameters
    ----------
    layers : list of nnmath.layers.Layer
        ``Input(shape)`` first; a :class:`~nnmath.layers.Flatten` is put in before a Dense
        that follows an image. The last layer has a σ (Dense or Activation).
    cost, init, seed, dtype, rng
        As :class:`~nnmath.network.Network`; ``init`` draws every W (a convolution's with
        fan-in ``in·k·k``), layer by layer, from one generator.
    backend, device
        As :class:`~nnmath.network.Network`: ``"numpy"``, ``"torch"`` (CPU or CUDA) or
        ``"cupy"``; every layer's maths is written with the array namespace, and ``W``,
        ``b`` are drawn on the host and moved, so a seed gives the same network everywhere.
    activation, output_activation, dropout
        Not taken: each layer has its σ, and dropout is a :class:`~nnmath.layers.Dropout`.

    Attributes
    ----------
    layers : list of Layer, Input first
    sizes : list of int
        Units of each layer's output per example (``C·H·W`` for an image), input first.
    weights, biases : lists of arrays, one per layer with parameters, in order
    activation_functions : list of Activation
        σ of each layer that has one, the output's last.
    dropout : tuple of float
        ``p`` of each Dropout layer.
    stateful : list of Layer
        The layers that keep a state (BatchNorm's running statistics): ``fit`` folds each
        step's measurements in (:meth:`update_state`), and files, checkpoints, early
        stopping and :meth:`to` carry them with the weights.
    """

    layered = True

    def __init__(
        self,
        sizes: Sequence[Layer],
        activation: Any = None,
        output_activation: Any = None,
        cost: str | Cost = "quadratic",
        init: str = "normal",
        seed: int | None = None,
        dtype: str | Any = "float32",
        rng: np.random.Generator | None = None,
        backend: str | Backend = "numpy",
        device: str | None = None,
        dropout: Any = 0.0,
    ) -> None:
        if activation is not None or output_activation is not None or dropout:
            raise ValueError(
                "a network of layers takes σ per layer (Dense(n, activation=...)) and dropout "
                "as a layer (Dropout(p)): leave activation, output_activation and dropout out"
            )
        self.backend = get_backend(backend, device)
        self.dtype = resolve_dtype(dtype)
        self.cost_function = get_cost(cost)
        self.init = init
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self._layers = build_layers(list(sizes), init, self.rng, self.dtype)
        output = self.layers[-1]
        if output.activation is None:
            raise ValueError(f"the last layer is {output!r}: end with Dense(n, activation=...)")
        check_output(output.activation, self.cost_function)
        self.sizes = [size_of(layer.output_shape) for layer in self.layers]
        self.L = len(self.layers)
        if self.backend.name != "numpy":  # drawn on the host, moved to the device once
            self.to(self.backend)

    @property
    def layers(self) -> list[Layer]:  # type: ignore[override]
        """The layers, ``Input`` first, with any implicit ``Flatten`` they were given."""
        return self._layers

    # -- parameters: the layers own them; these lists are read from and written to them ----
    @property
    def parametrized(self) -> list[Layer]:
        """The layers with ``W`` and ``b``, in order (``weights[i]`` is theirs), those inside
        a layer of layers included (:meth:`~nnmath.layers.Layer.parameter_layers`)."""
        return [inner for layer in self.layers for inner in layer.parameter_layers()]

    @property
    def weights(self) -> list[Any]:  # type: ignore[override]
        return ParameterList(self.parametrized, "W")

    @weights.setter
    def weights(self, values: list[Any]) -> None:
        for layer, W in zip(self.parametrized, values, strict=True):
            layer.W = W

    @property
    def biases(self) -> list[Any]:  # type: ignore[override]
        return ParameterList(self.parametrized, "b")

    @biases.setter
    def biases(self, values: list[Any]) -> None:
        for layer, b in zip(self.parametrized, values, strict=True):
            layer.b = b

    @property
    def stateful(self) -> list[Layer]:
        """The layers that keep a state (BatchNorm's running statistics), in order."""
        return [layer for layer in self.layers if layer.state()]

    def copy_parameters(self) -> tuple[list[Any], ...]:
        """Copies of ``weights`` and ``biases`` and, when a layer keeps a state, a third
        list: a copy of each such layer's :meth:`~nnmath.layers.Layer.state` (what early
        stopping restores with the best epoch's weights)."""
        params = super().copy_parameters()
        if not self.stateful:
            return params
        copy = self.backend.copy
        states = [{k: copy(v) for k, v in lay.state().items()} for lay in self.stateful]
        return (*params, states)

    def set_parameters(
        self, weights: list[Any], biases: list[Any], states: list[Any] | None = None
    ) -> None:
        """Copy ``weights``, ``biases`` (and ``states``) into the network, on its backend.

        Parameters
        ----------
        weights, biases : lists of arrays
            As :meth:`Network.set_parameters` (NumPy arrays or the backend's).
        states : list of dict, optional
            One per layer that keeps a state (:attr:`stateful`: each BatchNorm's
            ``{"running_mean", "running_var"}``), as :meth:`copy_parameters` gives; left
            out, the states stay as they are.

        Raises
        ------
        ValueError
            ``states`` of another length, names or shapes, or a negative variance.
        """
        super().set_parameters(weights, biases)
        for layer, state in zip(self.stateful, states or [], strict=states is not None):
            move = self.backend.asarray
            layer.set_state({k: move(v, self.dtype) for k, v in state.items()})

    def to(self, backend: str | Backend, device: str | None = None) -> LayerNetwork:
        """As :meth:`Network.to`; each layer's state (running statistics) moves too."""
        super().to(backend, device)
        for layer in self.stateful:
            state = layer.state()
            layer.set_state({k: self.backend.asarray(v, self.dtype) for k, v in state.items()})
        return self

    def parameter_shapes(self) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """``(W.shape, b.shape)`` each layer with parameters was built for (not read from the
        arrays, so that :func:`nnmath._fit_checks.check_network` can hold them to it)."""
        return [layer.parameter_shapes() for layer in self.parametrized]

    @property
    def activation_functions(self) -> list[Any]:  # type: ignore[override]
        return [layer.activation for layer in self.layers if layer.activation is not None]

    @property
    def dropout(self) -> tuple[float, ...]:  # type: ignore[override]
        return tuple(layer.p for layer in self.layers if isinstance(layer, Dropout))

    def config(self) -> dict[str, Any]:
        """The architecture as plain Python values (what a model file stores beside the
        weights): each layer as ``{"type": its name in LAYERS, **layer.config()}``, Input
        first, then the cost, init and dtype (:mod:`nnmath.io.layer_file`)."""
        return {
            "layers": [{"type": layer.name, **layer.config()} for layer in self.layers],
            "cost": self.cost_function.name,
            "init": self.init,
            "dtype": np.dtype(self.dtype).name,
        }

    def __repr__(self) -> str:
        where = ""
        if self.backend.name != "numpy":
            where = f", backend={self.backend.name!r}, device={self.backend.device!r}"
        return (
            f"Network(layers={self.layers[1:]!r}, input={self.layers[0].shape}, "
            f"cost={self.cost_name!r}, dtype={np.dtype(self.dtype).name!r}{where})"
        )

    def _repr_html_(self) -> str:  # the layer table and the block diagram
        from .display import network_html

        return network_html(self)

    # -- the two passes, through the layers' protocol ---------------------------------------
    def forward_caches(
        self, a: Any, masks: Sequence[Any] | None = None, training: bool = False
    ) -> list[Cache]:
        """Each layer's :class:`~nnmath.layers.Cache` (z^l, a^l, ...), bottom first.

        Parameters
        ----------
        a : array (sizes[0], m)
            Input examples as columns.
        masks : list, one entry per layer after the Input, or None
            Dropout masks (:meth:`dropout_masks`); None entries drop nothing.
        training : bool
            A pass of ``fit`` (and of the gradients it follows): batch-normalising layers use
            the mini-batch's statistics; otherwise their running ones.
        """
        masks = masks if masks is not None else [None] * (self.L - 1)
        caches = []
        for layer, mask in zip(self.layers, [None, *masks]):
            cache = layer.forward(a, mask, training)
            a = cache.a  # a^l feeds layer l+1
            caches.append(cache)
        return caches[1:]  # the Input's reshape is not a layer of the lecture

    def forward(self, a: Any, masks: Sequence[Any] | None = None) -> tuple[list[Any], list[Any]]:
        """``zs`` (each layer's z^l) and ``activations`` (``activations[0] is a``, then each
        a^l) of the columns ``a`` ``(sizes[0], m)``; images are ``(C, H, W, m)``."""
        caches = self.forward_caches(a, masks)
        return [c.z for c in caches], [a, *(c.a for c in caches)]

    def feed_columns(self, a: Any) -> Any:
        """a^L ``(sizes[-1], m)`` of the columns ``a`` ``(sizes[0], m)``, nothing kept: in
        chunks of columns whose largest layer keeps at most :data:`CHUNK_ELEMENTS` elements
        (a convolution's im2col columns of 60,000 images would take gigabytes)."""
        xp = self.backend.xp
        m = a.shape[-1]
        per_example = max(layer.elements_per_example() for layer in self.layers)
        step = max(1, CHUNK_ELEMENTS // per_example)
        outputs = []
        for start in range(0, m, step):
            out = a[..., start : start + step]
            for layer in self.layers:
                out = layer.forward(out).a
            outputs.append(out)
        return outputs[0] if len(outputs) == 1 else xp.concat(outputs, axis=-1)

    def backprop_columns(
        self, x: Any, y: Any, masks: Sequence[Any] | None = None, training: bool = True
    ) -> Gradients:
        """The lecture's four equations, one layer at a time from the top.

        1. δ^L = ∂C/∂a^L ⊙ σ'(z^L) (the cost's ``delta``; fused for softmax + log-likelihood)
        2. g = (w^l)ᵀ ⋆ δ^l (``layer.backward``), δ^{l−1} = g ⊙ σ'(z^{l−1}) (``below.delta``)
        3. ∂C/∂b^l, 4. ∂C/∂w^l (``layer.backward``, averaged over the m columns)

        Parameters
        ----------
        x : array (sizes[0], m)
        y : array (sizes[-1], m)
        masks : see :meth:`forward_caches`
        training : bool
            fit's pass (a BatchNorm normalises with the mini-batch's statistics); False: the
            inference pass's gradients (running statistics), what :func:`~nnmath.trace`
            shows for one example.

        Returns
        -------
        Gradients
            ``nabla_w``, ``nabla_b`` aligned with ``weights``, ``biases``; ``deltas`` and
            ``zs`` one per layer after the Input, ``activations`` with the input first.
        """
        caches = self.forward_caches(x, masks, training=training)
        layers = self.layers[1:]
        top = caches[-1]
        delta = self.cost_function.delta(top.z, top.a, y, layers[-1].activation)  # δ^L
        deltas: list[Any] = [None] * len(layers)
        nabla_w, nabla_b = [], []
        for i in range(len(layers) - 1, -1, -1):
            deltas[i] = delta
            back = _backward(layers[i], delta, caches[i], bottom=i == 0)
            pairs = parameter_gradients(layers[i], back)  # none, one, or a block's inner ones
            nabla_w[:0] = [w for w, _ in pairs]
            nabla_b[:0] = [b for _, b in pairs]
            if i > 0:
                delta = layers[i - 1].delta(caches[i - 1], back.g)  # ⊙ σ'(z^{l-1})
        activations = [x, *(c.a for c in caches)]
        zs = [c.z for c in caches]
        return Gradients(nabla_w, nabla_b, deltas, zs, activations, caches=caches)

    def update_state(self, grads: Gradients) -> None:
        """Fold a training step's measurements (``grads.caches``) into each layer's state
        (BatchNorm's running statistics): ``fit`` calls it once per mini-batch, as torch
        updates them once per training forward pass."""
        for layer, cache in zip(self.layers[1:], grads.caches):
            layer.update_state(cache)

    def dropout_masks(self, key: int, start: int, m: int) -> list[Any] | None:
        """One mask per layer after the Input (None but for Dropout layers), for the ``m``
        examples at positions ``start, …`` of the epoch with dropout ``key``; each Dropout
        layer's mask has its input's shape ``+ (m,)``. None when no layer drops anything.
        Drawn by :func:`nnmath.dropout.masks` (Dropout layers as its hidden layers)."""
        drops = [(i, lay) for i, lay in enumerate(self.layers[1:]) if isinstance(lay, Dropout)]
        drops = [(i, lay) for i, lay in drops if lay.p > 0]
        if not drops:
            return None
        units = [size_of(lay.output_shape) for _, lay in drops]
        probs = [lay.p for _, lay in drops]
        host = _dropout.masks([0, *units, 1], probs, key, start, m, self.dtype)
        out: list[Any] = [None] * (self.L - 1)
        for (i, lay), mask in zip(drops, host):
            out[i] = self.backend.asarray(mask.reshape(*lay.output_shape, m), self.dtype)
        return out

    def check_inputs(self, X: Any) -> Any:
        """Rows ``(m, C·H·W)``, or images ``(m, C, H, W)`` (flattened in C order, a view), or
        one example; checked as :meth:`Network.check_inputs` does."""
        shape = self.layers[0].shape
        arr = X
        if hasattr(X, "shape") and len(shape) > 1 and tuple(X.shape[-len(shape) :]) == shape:
            arr = X.reshape((-1, self.sizes[0]))  # (m, C, H, W) → (m, C·H·W), a view
        elif hasattr(X, "shape") and len(shape) > 1 and len(X.shape) == 4:
            raise ValueError(
                f"X has images of shape {tuple(X.shape[1:])}, the network expects {shape} "
                "(Input's (C, H, W))"
            )
        return super().check_inputs(arr)
