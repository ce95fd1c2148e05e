"""A playground run's configuration, checked against nnmath's registries and the limits.

The page sends the configuration as a flat JSON object (the same keys it keeps in the URL's
fragment, so a reload or a shared link rebuilds the same run); :func:`parse_config` checks
every field and says what is wrong and what is allowed, before anything is built.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .._registry import canonical_names
from ..activations import ACTIVATIONS
from ..costs import COSTS
from ..init import INITS
from ..optim import OPTIMIZERS
from .features import FEATURES, LABELS, ONE_D_FEATURES
from .toy import ONE_D, REGRESSION_DATASETS, TOY_DATASETS

__all__ = ["LIMITS", "Limits", "Config", "ConfigError", "parse_config", "options", "HOT"]


class ConfigError(ValueError):
    """A field of a configuration or a message is wrong; the text says which and why."""


@dataclass(frozen=True)
class Limits:
    """What one page may ask for; each is refused with a message naming the limit."""

    hidden_layers: int = 8
    units: int = 64
    points: int = 2000
    classes: int = 10
    upload_bytes: int = 512 * 1024
    sessions: int = 8
    messages_per_second: int = 30
    message_bytes: int = 16 * 1024
    #: messages over ``messages_per_second`` within ``flood_seconds`` that close the connection
    flood_messages: int = 300
    flood_seconds: float = 10.0
    #: messages (other than snapshots and errors) waiting for a page that does not read
    outbox_messages: int = 64
    #: commands waiting for a session's worker
    pending_commands: int = 32


LIMITS = Limits()

#: the output layers the playground offers: one unit per class (softmax, σ), or one unit for
#: a real target (identity, tanh, σ)
OUTPUTS = ("softmax", "sigmoid", "identity", "tanh")
#: the outputs a regression data set may have (softmax of one unit is always 1)
REGRESSION_OUTPUTS = ("identity", "tanh", "sigmoid")
#: activations a hidden layer may take: every one of the registry (a hidden softmax layer
#: back-propagates through its Jacobian, as nnmath's backprop does)
HIDDEN = canonical_names(ACTIVATIONS)
DATASETS = [*TOY_DATASETS, "upload", *REGRESSION_DATASETS]
#: the fields a running network takes as they change, keeping its weights and its epoch
#: count (the optimizer, η, λ, the mini-batch, dropout); any other field builds it again
HOT = ("optimizer", "eta", "lmbda", "batch", "dropout")


@dataclass
class Config:
    """Everything that decides a run: the same Config gives the same data and weights."""

    data: str = "circle"
    noise: float = 0.05
    points: int = 400
    train_fraction: float = 0.5
    features: list[str] = field(default_factory=lambda: ["x1", "x2"])
    layers: list[int] = field(default_factory=lambda: [16, 16])
    activations: list[str] = field(default_factory=lambda: ["tanh", "tanh"])
    output: str = "softmax"
    cost: str = "log_likelihood"
    init: str = "glorot"
    optimizer: str = "adam"
    eta: float = 0.01
    batch: int = 10
    lmbda: float = 0.0
    dropout: float = 0.0
    seed: int = 0
    #: BN before each hidden layer's σ (a network of layers, :mod:`.layered`)
    batch_norm: bool = False
    #: an identity path around each hidden layer as wide as the one below it
    residual: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(raw: dict[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    try:
        x = float(value)
    except ValueError:
        raise ConfigError(f"{key} must be a number, got {value!r}") from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise ConfigError(f"{key} must be between {lo:g} and {hi:g}, got {value!r}")
    return x


def _integer(raw: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    x = _number(raw, key, default, lo, hi)
    if x != int(x):
        raise ConfigError(f"{key} must be a whole number, got {raw.get(key)!r}")
    return int(x)


def _name(raw: dict[str, Any], key: str, default: str, allowed: list[str]) -> str:
    value = raw.get(key, default)
    if value not in allowed:
        raise ConfigError(f"unknown {key} {value!r}; choose one of: {', '.join(allowed)}")
    return str(value)


def _flag(raw: dict[str, Any], key: str, default: bool) -> bool:
    """A toggle: JSON's true/false, or the URL's "true"/"false" (also 1/0)."""
    value = raw.get(key, default)
    words = {"true": True, "false": False, "1": True, "0": False}
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in words:
        return words[value.strip().lower()]
    raise ConfigError(f"{key} is a toggle: true or false, got {value!r}")


def _layers(raw: dict[str, Any], default: Config) -> tuple[list[int], list[str]]:
    layers = raw.get("layers", default.layers)
    if isinstance(layers, str):
        layers = [t.strip() for t in layers.split(",") if t.strip()]
    if not isinstance(layers, list) or len(layers) > LIMITS.hidden_layers:
        raise ConfigError(
            f"layers must be a list of at most {LIMITS.hidden_layers} hidden layer widths, "
            f"got {layers!r}"
        )
    widths = [_integer({"units": w}, "units", 1, 1, LIMITS.units) for w in layers]
    acts = raw.get("activations", default.activations)
    if isinstance(acts, str):
        acts = [t.strip() for t in acts.split(",") if t.strip()]
    if not isinstance(acts, list):
        raise ConfigError(f"activations must be a list of names, got {acts!r}")
    if len(acts) == 1 and len(widths) > 1:
        acts = acts * len(widths)
    if len(acts) != len(widths):
        raise ConfigError(
            f"give one activation per hidden layer: {len(widths)} layers, {len(acts)} activations"
        )
    names = [_name({"activation": a}, "activation", "", HIDDEN) for a in acts]
    return widths, names


def _features(raw: dict[str, Any], default: Config, data: str) -> list[str]:
    """The input features, in :data:`FEATURES`' order; a 1-D data set has only x1's."""
    names = raw.get("features", default.features)
    if isinstance(names, str):
        names = [t.strip() for t in names.split(",") if t.strip()]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"features must be a list of names, got {names!r}")
    allowed = list(ONE_D_FEATURES) if data in ONE_D else list(FEATURES)
    wrong = [n for n in names if n not in allowed]
    if wrong:
        raise ConfigError(
            f"unknown feature {wrong[0]!r} for the data set {data!r}; "
            f"choose from: {', '.join(allowed)}"
        )
    if not names:
        raise ConfigError(f"choose at least one input feature: {', '.join(allowed)}")
    return [n for n in allowed if n in names]


def _check_output(data: str, output: str, cost: str) -> None:
    """The output and cost suit the data: one real output and the quadratic cost for a
    regression data set, a cost's own outputs otherwise."""
    if data in REGRESSION_DATASETS:
        if cost != "quadratic" or output not in REGRESSION_OUTPUTS:
            raise ConfigError(
                f"the regression data set {data!r} needs the quadratic cost and an output of "
                f"{', '.join(REGRESSION_OUTPUTS)}"
            )
        return
    if output not in ("softmax", "sigmoid"):
        raise ConfigError("a classification data set needs an output of softmax or sigmoid")
    allowed = COSTS[cost].output_activations
    if allowed is not None and output not in allowed:
        raise ConfigError(f"the {cost} cost needs an output of {', '.join(sorted(allowed))}")


def parse_config(raw: Any) -> Config:
    """Check a configuration sent by the page; missing fields take :class:`Config`'s defaults.

    Raises
    ------
    ConfigError
        Naming the field, the value and what is allowed.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"the configuration must be a JSON object, got {type(raw).__name__}")
    d = Config()
    unknown = sorted(set(raw) - set(d.to_dict()))
    if unknown:
        raise ConfigError(f"unknown configuration field(s) {', '.join(map(repr, unknown))}")
    layers, acts = _layers(raw, d)
    data = _name(raw, "data", d.data, DATASETS)
    output = _name(raw, "output", d.output, list(OUTPUTS))
    cost = _name(raw, "cost", d.cost, sorted(COSTS))
    _check_output(data, output, cost)
    return Config(
        data=data,
        noise=_number(raw, "noise", d.noise, 0.0, 0.5),
        points=_integer(raw, "points", d.points, 20, LIMITS.points),
        train_fraction=_number(raw, "train_fraction", d.train_fraction, 0.1, 0.9),
        features=_features(raw, d, data),
        layers=layers,
        activations=acts,
        output=output,
        cost=cost,
        init=_name(raw, "init", d.init, sorted(INITS)),
        optimizer=_name(raw, "optimizer", d.optimizer, sorted(OPTIMIZERS)),
        eta=_number(raw, "eta", d.eta, 1e-6, 100.0),
        batch=_integer(raw, "batch", d.batch, 1, LIMITS.points),
        lmbda=_number(raw, "lmbda", d.lmbda, 0.0, 100.0),
        dropout=_number(raw, "dropout", d.dropout, 0.0, 0.9),
        seed=_integer(raw, "seed", d.seed, 0, 2**31 - 1),
        batch_norm=_flag(raw, "batch_norm", d.batch_norm),
        residual=_flag(raw, "residual", d.residual),
    )


def options() -> dict[str, Any]:
    """What the page may choose from: the registries' names, the defaults and the limits."""
    return {
        "datasets": DATASETS,
        "regression": list(REGRESSION_DATASETS),
        "one_d": sorted(ONE_D),
        "features": [{"name": n, "label": LABELS[n]} for n in FEATURES],
        "one_d_features": list(ONE_D_FEATURES),
        "hot": list(HOT),
        "activations": HIDDEN,
        "outputs": list(OUTPUTS),
        "costs": sorted(COSTS),
        "inits": sorted(INITS),
        "optimizers": sorted(OPTIMIZERS),
        "defaults": Config().to_dict(),
        "limits": asdict(LIMITS),
    }
