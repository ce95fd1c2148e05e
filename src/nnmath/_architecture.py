"""The σ of every layer of a network, from the constructor's arguments and the cost.

The output layer's σ must give values the cost is defined for: cross-entropy and
log-likelihood take ``ln a`` (``Cost.output_activations``); a single hidden σ that cannot
stand there gives way to the cost's own output σ (``Cost.fused_activation``), and
log-likelihood, which rewards ``a_y`` alone, always takes softmax unless told otherwise.
"""

from __future__ import annotations

import warnings
from typing import Any

from .activations import Activation, get_activation, is_builtin
from .costs import Cost

__all__ = ["check_output", "layer_activations"]


def layer_activations(
    activation: Any, output_activation: Any, n_layers: int, cost: Cost
) -> list[Activation]:
    """One Activation per layer of weights, from the constructor's arguments.

    The output layer's σ must give values the cost is defined for (``cost.output_activations``).
    """
    if isinstance(activation, (list, tuple)):
        acts = list(activation)
        if len(acts) == n_layers - 1:
            if output_activation is None:
                raise ValueError(
                    f"{len(acts)} hidden activations given for {n_layers} layers of weights: "
                    "also pass output_activation, or give one activation per layer"
                )
            acts.append(output_activation)
        elif len(acts) == n_layers:
            if output_activation is not None:
                raise ValueError(
                    "activation already names the output layer's σ; drop output_activation "
                    f"or give {n_layers - 1} hidden activations"
                )
        else:
            raise ValueError(
                f"activation list has {len(acts)} entries; the network has {n_layers - 1} "
                f"hidden layers and {n_layers} layers of weights"
            )
    else:
        hidden = get_activation(activation)
        if output_activation is None:
            allowed = cost.output_activations
            fits = allowed is None or not is_builtin(hidden) or hidden.name in allowed
            # −ln a_y rewards a_y alone: only outputs that sum to one (softmax) can learn
            fits = fits and not (cost.name == "log_likelihood" and is_builtin(hidden))
            output_activation = hidden if fits else cost.fused_activation
        acts = [hidden] * (n_layers - 1) + [output_activation]
    layers = [get_activation(a) for a in acts]
    out = layers[-1]
    check_output(out, cost)
    if cost.name == "log_likelihood" and is_builtin(out) and out.name == "sigmoid":
        warnings.warn(
            "the log_likelihood cost −ln a_y with a sigmoid output rewards a_y alone: every "
            "output can go to 1 and the network learns nothing; use output_activation="
            "'softmax' (its default), or cost='cross_entropy' for sigmoid outputs",
            UserWarning,
            stacklevel=3,
        )
    return layers


def check_output(out: Activation, cost: Cost) -> None:
    """The output layer's σ gives values ``cost`` is defined for (``cost.output_activations``),
    else a ValueError naming both (at construction, and when ``fit`` starts)."""
    allowed = cost.output_activations
    if allowed is not None and is_builtin(out) and out.name not in allowed:
        raise ValueError(
            f"the {cost.name} cost takes ln a and needs outputs in (0, 1), but the output "
            f"activation {out.name!r} gives other values: use output_activation="
            f"{' or '.join(map(repr, sorted(allowed)))}, or cost='quadratic'"
        )
