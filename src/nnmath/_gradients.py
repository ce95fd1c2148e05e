"""What one backward pass computes: :class:`Gradients` (re-exported by :mod:`nnmath.network`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Gradients"]


@dataclass
class Gradients:
    """What one backward pass computes, per layer of weights (first hidden layer first).

    The shapes below are a dense network's; for a network of layers
    (:mod:`nnmath.layer_network`) ``nabla_w``, ``nabla_b`` follow its ``weights``, ``biases``
    and ``deltas``, ``zs`` hold one entry per layer after the Input, of that layer's shape.

    Attributes
    ----------
    nabla_w : list of arrays, ``nabla_w[i].shape == weights[i].shape``
        ∂C/∂w^l = δ^l (a^{l−1})ᵀ, averaged over the mini-batch.
    nabla_b : list of arrays, ``nabla_b[i].shape == biases[i].shape``
        ∂C/∂b^l = δ^l, averaged over the mini-batch.
    deltas : list of arrays ``(sizes[i+1], m)``
        δ^l = ∂C_x/∂z^l for every example (columns), *not* averaged.
    zs : list of arrays ``(sizes[i+1], m)``
        z^l for every example.
    activations : list of arrays ``(sizes[i], m)``
        a^l, with ``activations[0]`` the input.
    caches : list
        A network of layers' :class:`~nnmath.layers.Cache` per layer after the Input (what
        ``update_state`` folds into running statistics); empty for a dense network.
    """

    nabla_w: list[Any]
    nabla_b: list[Any]
    deltas: list[Any] = field(default_factory=list)
    zs: list[Any] = field(default_factory=list)
    activations: list[Any] = field(default_factory=list)
    caches: list[Any] = field(default_factory=list)
