"""Which networks of layers the compiled epoch trains, read as the epoch's own layers.

The C epoch knows two kinds of layer (``nnm_layer_names`` in ``_layout.h``): dense,
``z = W a + b``, and batch norm, ``z = γ ẑ + β`` per unit over the mini-batch
(``_batchnorm.h``), each followed by its σ; and a dense layer may add an earlier layer's
input to its ``z`` (``skip``), which is a residual block's sum ``a^{in} + F(a^{in})``. A
network of layers (:class:`~nnmath.layer_network.LayerNetwork`) maps onto that when it is

* an ``Input(n)``, then ``Dense`` and ``BatchNorm`` layers on vectors, an ``Activation``
  after a layer whose σ is the identity (it becomes that layer's σ: ``Dense(n, σ,
  batch_norm=True)`` is ``Dense(n, "identity"), BatchNorm(), Activation(σ)``, two compiled
  layers), and
* ``Residual`` blocks of ``Dense`` layers whose last σ is the identity (the block's σ then
  follows the sum): ``Residual([Dense(n, σ1), Dense(n, "identity")], activation=σ)``, and
* ``Dropout`` layers after a hidden layer's σ (the epoch's dropout of that layer's output,
  drawn as :meth:`~nnmath.layer_network.LayerNetwork.dropout_masks` draws it).

The compiled layers are then the network's layers with parameters, in ``net.weights``
order. :func:`plan_of` gives them, or says why the network trains on the reference loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..activations import get_activation

__all__ = ["Plan", "plan_of", "batch_reason"]


@dataclass
class Plan:
    """The compiled epoch's layers of a network of layers.

    Attributes
    ----------
    sizes : list of int
        ``L + 1`` widths: the input's, then each compiled layer's output.
    kinds : list of str
        ``"dense"`` or ``"batchnorm"`` per layer (``_layout.h``'s names).
    skip : list of int
        ``-1``, or ``s``: the layer's ``z`` adds layer ``s``'s input (a block's input).
    activations : list of Activation
        Each layer's σ (the identity where none follows it).
    layers : list of Layer
        The network's layer with parameters behind each compiled layer (``net.parametrized``).
    dropout : list of float
        The probability with which a unit of each layer's output is dropped (0: none).
    """

    sizes: list[int]
    kinds: list[str] = field(default_factory=list)
    skip: list[int] = field(default_factory=list)
    activations: list[Any] = field(default_factory=list)
    layers: list[Any] = field(default_factory=list)
    dropout: list[float] = field(default_factory=list)

    def add(self, layer: Any, kind: str, sigma: Any, skip: int = -1) -> None:
        """Append a compiled layer for ``layer`` (its output width is its last)."""
        self.sizes.append(int(layer.output_shape[0]))
        self.kinds.append(kind)
        self.skip.append(skip)
        self.activations.append(sigma)
        self.layers.append(layer)
        self.dropout.append(0.0)

    @property
    def norms(self) -> list[Any]:
        """The BatchNorm layer behind each compiled layer, or None."""
        return [lay if kind == "batchnorm" else None for lay, kind in zip(self.layers, self.kinds)]


def plan_of(net: Any) -> Plan | str:
    """The compiled layers of the network of layers ``net``, or why it has none."""
    from ..layers import Activation, BatchNorm, Dense, Dropout, Residual

    shape = tuple(net.layers[0].output_shape)
    if len(shape) != 1:
        return f"its input has shape {shape}: the compiled epoch takes vectors (Input(n))"
    plan = Plan([shape[0]])
    for layer in net.layers[1:]:
        if len(layer.input_shape) != 1:
            return f"{layer!r} takes {layer.input_shape}: the compiled epoch takes vectors"
        if isinstance(layer, Dense):
            plan.add(layer, "dense", layer.activation)
        elif isinstance(layer, BatchNorm):
            plan.add(layer, "batchnorm", get_activation("identity"))
        elif isinstance(layer, Activation):
            if not plan.activations or plan.activations[-1].name != "identity":
                return f"{layer!r} follows a layer that has a σ already (two σ in a row)"
            if plan.dropout[-1]:
                return f"{layer!r} follows a Dropout: the compiled epoch drops σ's output"
            plan.activations[-1] = layer.activation
        elif isinstance(layer, Dropout):
            if not plan.kinds or plan.dropout[-1]:
                return f"{layer!r} drops the input or follows a Dropout (the epoch drops outputs)"
            plan.dropout[-1] = float(layer.p)
        elif isinstance(layer, Residual):
            reason = _block_reason(layer, Dense)
            if reason:
                return reason
            start = len(plan.kinds)  # the block's input is this compiled layer's input
            for inner in layer.layers[:-1]:
                plan.add(inner, "dense", inner.activation)
            plan.add(layer.layers[-1], "dense", layer.activation, start)
        else:
            return f"{layer!r}: the compiled epoch has Dense, BatchNorm, Activation and Residual"
    if plan.dropout and plan.dropout[-1]:
        return "a Dropout after the output layer (the compiled epoch drops hidden units only)"
    if [id(x) for x in plan.layers] != [id(x) for x in net.parametrized]:
        return "its layers with parameters are not the compiled layers (a custom layer?)"
    return plan


def _block_reason(block: Any, dense: type) -> str | None:
    """Why a residual block is not one the compiled epoch takes, or None."""
    inner = block.layers
    if not inner or not all(type(x) is dense for x in inner):
        kinds = ", ".join(type(x).__name__ for x in inner)
        return f"a residual block of {kinds}: the compiled epoch's blocks hold Dense layers only"
    last = inner[-1].activation.name
    if last != "identity":
        return (
            f"a residual block whose last Dense has σ {last!r}: the compiled epoch adds the "
            "block's input to that layer's z (its σ must be the identity)"
        )
    return None


def batch_reason(plan: Plan, n: int, mini_batch_size: int | None) -> str | None:
    """Why a network with batch norms cannot train on ``n`` examples in mini-batches of
    ``mini_batch_size`` on the compiled epoch (the reference refuses the same), or None."""
    if "batchnorm" not in plan.kinds or mini_batch_size is None:
        return None
    B = max(1, min(int(mini_batch_size), n))
    if B < 2 or n % B == 1:
        return (
            f"mini-batches of {B} of {n} examples leave a mini-batch of one example, whose "
            "batch variance a BatchNorm cannot take"
        )
    return None


class LayerBuffers:
    """What the C epoch's layer fields point at for one run (``kind``, ``skip``,
    ``bn_momentum``, ``bn_eps``; a batch norm's ``xhat`` ``(B, n)`` and ``inv_std``
    ``(3 n T)`` scratch, each of the ``threads`` parts' totals), and the running statistics,
    read from the layers before each epoch.

    A dense network (``plan`` None) has dense layers without blocks and no batch norm."""

    SMALL = ("kind", "skip", "bn_momentum", "bn_eps")
    POINTERS = ("running_mean", "running_var", "xhat", "inv_std")

    def __init__(self, plan: Plan | None, L: int, B: int, dtype: Any, threads: int = 1) -> None:
        import numpy as np

        from ..backend import aligned_zeros
        from . import binding

        kinds = plan.kinds if plan else ["dense"] * L
        norms = plan.norms if plan else [None] * L
        self.norms = norms
        self.small = {  # kept alive: the struct points into them
            "kind": np.array([binding.kernel_id("layer", k) for k in kinds], np.int64),
            "skip": np.array(plan.skip if plan else [-1] * L, np.int64),
            "bn_momentum": np.array([getattr(x, "momentum", 0.0) for x in norms], np.float64),
            "bn_eps": np.array([getattr(x, "eps", 0.0) for x in norms], np.float64),
        }
        units = [None if x is None else int(x.output_shape[0]) for x in norms]
        self.xhat = tuple(None if u is None else aligned_zeros((B, u), dtype) for u in units)
        self.inv_std = tuple(
            None if u is None else aligned_zeros((3 * u * threads,), dtype) for u in units
        )

    def running(self) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """Each batch norm's running mean and variance as its layer holds them now (the C
        epoch updates them in place), None for the other layers."""
        states = [x.state() if x is not None else None for x in self.norms]
        mean = tuple(s["running_mean"] if s else None for s in states)
        var = tuple(s["running_var"] if s else None for s in states)
        return mean, var

    def lengths(self, running: tuple, dtype: Any) -> list[int]:
        """Per layer the elements of running_mean, running_var, xhat and inv_std (0: none),
        in ``nnm_epoch.lens``' order (``NNM_NORMS`` in ``_checks.h``)."""
        from . import binding

        arrays = zip(*running, self.xhat, self.inv_std)
        return [0 if a is None else binding.length(a, dtype) for row in arrays for a in row]
