"""Defaults derived from the registries, shared by the estimator and the PyTorch bridge."""

from __future__ import annotations

from .costs import COSTS

__all__ = ["default_cost"]


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
