"""A playground run's network and fit's options, the settings it takes while it trains, and
the verdict on a run that has gone wrong.

The optimizer is an object made here and handed to :meth:`Network.fit`, so that a change of
η or λ while the network trains is set on it between two mini-batches (Adam keeps its
moments), a new mini-batch size is set on fit's run for its next epoch, and dropout on the
network; the weights and the epoch count stay (as in TensorFlow Playground).
"""

from __future__ import annotations

import math
from typing import Any

from ..callbacks import GradientTracker
from ..callbacks.control import constant_output_cost
from ..dropout import check_dropout
from ..layers import Dropout
from ..network import Network
from ..optim import get_optimizer
from .config import HOT, Config
from .layered import layered, network_layers
from .toy import ToyData

__all__ = [
    "build_network",
    "fit_options",
    "make_optimizer",
    "hot_change",
    "retune",
    "Verdict",
]


def build_network(config: Config, n_outputs: int) -> Network:
    """``[features, *layers, outputs]`` with one σ per hidden layer and the output's, seeded:
    the compiled dense network, or with batch normalisation or residual connections on, the
    network of layers of :func:`.layered.network_layers` (the same seed, the same weights)."""
    if layered(config):
        layers, _ = network_layers(config, n_outputs)
        return Network(layers, cost=config.cost, init=config.init, seed=config.seed)
    sizes = [len(config.features), *config.layers, n_outputs]
    return Network(
        sizes,
        activation=[*config.activations, config.output],
        cost=config.cost,
        init=config.init,
        seed=config.seed,
        dropout=config.dropout if config.layers else 0.0,
    )


def make_optimizer(config: Config, n: int) -> Any:
    """The configured optimizer with its η and λ, for ``n`` training rows."""
    return get_optimizer(config.optimizer, eta=config.eta, lmbda=config.lmbda, n=n)


def fit_options(config: Config, data: ToyData, inputs: tuple) -> dict[str, Any]:
    """The keyword arguments of :meth:`Network.fit` for a run on ``inputs`` (the training
    and test rows as features); the test split is fit's validation data, so fit measures it
    after every epoch."""
    return {
        "mini_batch_size": config.batch,
        "optimizer": make_optimizer(config, len(inputs[0])),
        "validation_data": (inputs[1], data.y_test),
        "seed": config.seed,
        "monitor_training_accuracy": data.kind == "classes",
        "monitor": "full",  # the costs of the network after each epoch, as the page shows them
        # the speed of learning of every layer after every epoch, into fit's History (before
        # the session's Controller, so a pause at an epoch's end sees that epoch's entry)
        "callbacks": [GradientTracker(inputs[0], data.y_train)],
        "fast": False,  # the callback acts after every mini-batch: fit's reference loop
    }


def hot_change(old: Config | None, new: Config) -> list[str] | None:
    """The fields of :data:`~nnmath.playground.config.HOT` that differ, when only those do
    (the running network takes them; none for the same configuration again); ``None`` when
    the run must be built again."""
    if old is None:
        return None
    a, b = old.to_dict(), new.to_dict()
    changed = [k for k in a if a[k] != b[k]]
    if any(k not in HOT for k in changed):
        return None
    if layered(old) and (old.dropout > 0) != (new.dropout > 0):
        return None  # a network of layers drops through Dropout layers: added or removed
    return changed


def retune(run: Any, config: Config, changed: list[str]) -> None:
    """Set the ``changed`` settings of ``config`` on fit's ``run`` between two mini-batches.

    A new optimizer starts with its own state (no momentum yet); η and λ are set on the one
    that trains; the mini-batch size takes effect from the next epoch, dropout from the next
    mini-batch."""
    net = run.net
    if "optimizer" in changed:
        run.optimizer = make_optimizer(config, run.X.shape[0])
    else:
        run.optimizer.eta, run.optimizer.lmbda = config.eta, config.lmbda
    run.base_eta = float(run.optimizer.eta)
    run.mini_batch_size = config.batch
    if layered(config):  # p > 0 before and after (else :func:`hot_change` rebuilds)
        for layer in net.layers:
            if isinstance(layer, Dropout):
                layer.p = config.dropout
        return
    net.dropout = check_dropout(config.dropout if config.layers else 0.0, len(net.sizes) - 2)


class Verdict:
    """Whether a run has diverged, judged on each snapshot: its training cost is not finite
    or far above both its cost before training and that of the constant output (always
    answering the mean target, i.e. the class frequencies), or every layer's speed of
    learning has fallen to zero while the cost is no better than that constant output.
    Once said, it stays said for the run: a cost that comes back down is named beside it."""

    #: how many times its reference a diverged run's cost exceeds
    RISE = 1.5
    #: ‖∂C/∂b^l‖ below this in every layer: the network has stopped learning
    STILL = 1e-7

    def __init__(self, net: Any, y: Any) -> None:
        self.guess = constant_output_cost(net, net.check_targets(y, len(y)))
        self.start: float | None = None  # the cost of the first snapshot, before training
        self.said: tuple[str, float] | None = None  # the last divergence's reason and its η

    def __call__(self, cost: float | None, speeds: list[float], eta: float) -> str | None:
        """The page's message for a diverged run, or ``None``."""
        why = self._why(cost, speeds)
        if why is not None:
            self.said = (why, eta)
            return f"the run diverged: {why}. η = {eta:g} is too large: reset and try a smaller η"
        if self.said is None or cost is None:
            return None
        why, then = self.said
        return (
            f"the run diverged: {why}, with η = {then:g}; its training cost is {cost:.3g} now: "
            "reset for a smaller η"
        )

    def _why(self, cost: float | None, speeds: list[float]) -> str | None:
        """What makes this snapshot a diverged run's, or ``None``."""
        if cost is None or not math.isfinite(cost):
            return f"the training cost is {cost}"
        if self.start is None:
            self.start = cost
        still = [l + 2 for l, s in enumerate(speeds) if s is not None and s < self.STILL]
        stuck = len(still) == len(speeds) and cost >= self.guess
        if cost <= self.RISE * max(self.guess, self.start) and not stuck:
            return None
        why = f"training cost {cost:.3g}, above {self.guess:.3g} (always answering the mean target)"
        if still:
            why += f"; layer{'s' * (len(still) > 1)} {', '.join(map(str, still))} stopped learning"
            why += " (speed 0)"
        return why
