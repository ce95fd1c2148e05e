"""Reading the registries (activations, costs, optimizers, inits, data sets) where names are
listed or paired, so that no module keeps a copy of them."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from .costs import COSTS

__all__ = ["canonical_names", "default_cost"]


def canonical_names(registry: Collection[str]) -> list[str]:
    """A registry's names, sorted, without its aliases.

    An alias is a key whose entry carries another ``name`` (``"linear"`` for identity,
    ``"swish"`` for SiLU); entries without a ``name`` (functions, tuples) count as their key.
    """
    if isinstance(registry, Mapping):
        return sorted(k for k, v in registry.items() if getattr(v, "name", k) == k)
    return sorted(registry)


def default_cost(output: str) -> str:
    """The cost whose shortcut δ^L = a − y belongs to the output activation ``output``.

    Each cost of :data:`nnmath.costs.COSTS` names its ``fused_activation``: so this is
    ``log_likelihood`` after softmax and ``cross_entropy`` after sigmoid; after any other
    output (identity, tanh, ...) it is ``quadratic``, the cost defined for every output.

    Parameters
    ----------
    output : str
        The registry name of the output layer's activation.

    Returns
    -------
    str
        A key of :data:`nnmath.costs.COSTS`.
    """
    for name, cost in COSTS.items():
        if cost.fused_activation == output:
            return name
    return "quadratic"
