"""What batch and layer normalisation share: their cache, their arguments' checks and the
step of backward through ``ẑ = (z − μ)/√(σ² + ε)``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..backend import get_namespace
from ._base import Cache

__all__ = ["NormCache", "checked_number", "through_normalisation"]


@dataclass
class NormCache(Cache):
    """:class:`Cache` plus what backward through a normalisation needs.

    Attributes
    ----------
    z_hat : array shaped like ``z``
        ẑ = (a^{l−1} − μ)/√(σ² + ε), the normalised input.
    inv_std : array
        1/√(σ² + ε), shaped to broadcast against ``z``.
    mean, var : arrays or None
        μ and σ² (biased) measured on this mini-batch, one per unit (BatchNorm's training
        pass: what ``update_state`` folds into the running statistics); None otherwise.
    training : bool
        Whether ``mean``, ``var`` are the mini-batch's (so backward goes through them).
    """

    z_hat: Any = None
    inv_std: Any = None
    mean: Any = None
    var: Any = None
    training: bool = False


def checked_number(layer: str, what: str, value: Any, low: float, high: float) -> float:
    """``value`` as a float in ``[low, high]`` (``(0, high]`` when ``low`` is 0: an ``eps``),
    or a ValueError that names the layer and the argument."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value > low if low == 0 else value >= low) and value <= high:
        return float(value)
    span = f"(0, {high:g}]" if low == 0 else f"[{low:g}, {high:g}]"
    raise ValueError(f"{layer}: {what} must be a number in {span}, got {value!r}")


def through_normalisation(d: Any, z_hat: Any, inv_std: Any, axes: tuple[int, ...]) -> Any:
    """∂C/∂z of ẑ = (z − μ)/√(σ² + ε) where μ, σ² are means over ``axes`` of ``z`` itself,
    from ``d = ∂C/∂ẑ``::

        g = (1/√(σ² + ε)) (d − mean(d) − ẑ mean(d ⊙ ẑ))     (means over ``axes``)

    (the terms ``− mean(d)`` and ``− ẑ mean(d ⊙ ẑ)`` are the paths through μ and σ²)."""
    xp = get_namespace(d)
    mean_d = xp.mean(d, axis=axes, keepdims=True)
    mean_dz = xp.mean(d * z_hat, axis=axes, keepdims=True)
    return inv_std * (d - mean_d - z_hat * mean_dz)
