"""A sweep's declaration: the grid parameters, their checks, and the grid itself.

A :class:`Sweep` is a grid (parameter -> values) × seeds on one data set, built from Python,
a TOML file (:func:`load_sweep`) or the command line; every name and value is checked here,
and names are checked against the registries (:data:`nnmath.ACTIVATIONS`,
:data:`nnmath.COSTS`, :data:`nnmath.INITS`, :data:`nnmath.OPTIMIZERS`,
:data:`nnmath.data.LOADERS`), so a new registry entry is a valid grid value at once.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import os
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._registry import canonical_names
from ..activations import ACTIVATIONS, get_activation
from ..costs import COSTS, get_cost
from ..data import LOADERS, dataset_key
from ..init import INITS
from ..optim import OPTIMIZERS, default_eta
from .task import Task

__all__ = [
    "DENSE_ONLY",
    "MAX_TASKS",
    "MEASURES",
    "PARAMETERS",
    "Sweep",
    "SweepError",
    "hidden_layers",
    "load_sweep",
]

MEASURES = ("train", "vanishing")
DTYPES = ("float32", "float64")
#: the most tasks a sweep may have: its tasks (and their rows) are held in memory, and each
#: is a training run
MAX_TASKS = 100_000


class SweepError(ValueError):
    """A sweep that cannot run: a bad sweep file, parameter or value, or no scheduler."""


@dataclass(frozen=True)
class _Param:
    """One grid parameter: its type, default and meaning, and the names it may take.

    ``choices`` is a registry itself (not a copy), so entries added to it later count.
    """

    kind: type
    default: Any
    help: str
    choices: Collection[str] | None = None

    def describe(self) -> str:
        """The meaning, with the valid names when there is a list of them."""
        if self.choices is None:
            return self.help
        return f"{self.help}: {' | '.join(canonical_names(self.choices))}"


#: Grid parameters, their type, default and meaning (``epochs`` defaults by measurement).
PARAMETERS: dict[str, _Param] = {
    "activation": _Param(str, "sigmoid", "σ of the hidden layers", ACTIVATIONS),
    "output_activation": _Param(
        str, "sigmoid", "σ of the output layer (softmax with log_likelihood)", ACTIVATIONS
    ),
    "depth": _Param(int, 1, "number of hidden layers"),
    "width": _Param(int, 30, "units per hidden layer"),
    "init": _Param(str, "scaled_normal", "weight initialisation", INITS),
    "cost": _Param(str, "cross_entropy", "cost function", COSTS),
    "eta": _Param(float, 0.5, "learning rate η (default: 0.5 for sgd, another optimizer's own)"),
    "lmbda": _Param(float, 0.0, "L2 regularisation λ"),
    "optimizer": _Param(str, "sgd", "optimizer", OPTIMIZERS),
    "momentum": _Param(float, 0.0, "SGD momentum μ"),
    "mini_batch_size": _Param(int, 10, "mini-batch size"),
    "epochs": _Param(int, None, "training epochs (default: 10 for train, 2 for vanishing)"),
    "dtype": _Param(str, "float32", "floating-point type", DTYPES),
    "layers": _Param(
        str,
        None,
        'a network of layers, e.g. "conv(20,5,relu) pool(2) dense(10,softmax)", instead of '
        "depth, width, activation and output_activation",
    ),
}
#: the parameters of a dense network that ``layers`` replaces (a sweep has one or the other)
DENSE_ONLY = ("activation", "output_activation", "depth", "width")
_DEFAULT_EPOCHS = {"train": 10, "vanishing": 2}
_TOP_LEVEL = ("measure", "dataset", "subset", "seeds", "grid")


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _normalize(name: str, value: Any) -> Any:
    """One value of grid parameter ``name``, type-checked and in canonical form."""
    kind = PARAMETERS[name].kind
    bad = f"bad value {value!r} for {name}"
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise SweepError(f"{bad}: expected an integer")
        value = int(value)
        if value < (0 if name == "epochs" else 1):
            raise SweepError(f"{bad}: must be {'≥ 0' if name == 'epochs' else '≥ 1'}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise SweepError(f"{bad}: expected a number")
        value = float(value)
        if not math.isfinite(value) or value < 0 or (name == "eta" and value == 0):
            raise SweepError(f"{bad}: must be finite and {'> 0' if name == 'eta' else '≥ 0'}")
        return value
    if not isinstance(value, str):
        what = "a layer description" if name == "layers" else "a name"
        raise SweepError(f"{bad}: expected {what} (a string)")
    if name == "layers":
        return _layers(value)
    try:
        if name in ("activation", "output_activation"):
            value = get_activation(value).name
            if name == "activation" and value == "softmax":
                raise SweepError(f"{bad}: softmax is an output activation")
            return value
        if name == "cost":
            return get_cost(value).name
    except SweepError:
        raise  # already says which value is bad
    except (ValueError, TypeError) as exc:
        raise SweepError(f"{bad}: {str(exc).splitlines()[0]}") from None
    choices = PARAMETERS[name].choices or ()
    if value not in choices:
        raise SweepError(f"{bad}: choose one of {sorted(choices)}{_suggest(value, choices)}")
    return value


def _layers(text: str) -> str:
    """A layer description in its canonical form (one task key for one network)."""
    from ..layers import describe, parse

    try:
        return describe(parse(text))
    except ValueError as exc:
        raise SweepError(f"bad value {text!r} for layers: {exc}") from None


def _check_layers(grid: Mapping[str, tuple[Any, ...]], dataset: str) -> None:
    """A grid of ``layers`` has no parameter of a dense network, and each description fits
    the data set's images and classes when they are known before loading it."""
    from ..data import SHAPES
    from ..layers import parse

    dense = [name for name in DENSE_ONLY if name in grid]
    if dense:
        raise SweepError(
            f"{', '.join(dense)} {'does' if len(dense) == 1 else 'do'} not apply to layers: "
            "write σ and sizes in each layer "
            'description, e.g. layers = ["conv(20,5,relu) pool(2) dense(10,softmax)"]'
        )
    if dataset not in SHAPES:
        return  # a folder: its shape is checked when a task loads it
    shape, n_classes = SHAPES[dataset]
    for text in grid["layers"]:
        try:
            parse(text, shape, n_classes)
        except ValueError as exc:
            raise SweepError(f"layers {text!r} on {dataset} {shape}: {exc}") from None


def hidden_layers(point: Mapping[str, Any]) -> int:
    """The hidden layers with weights of a grid point: ``depth``, or those of its
    ``layers`` (all but the output), whose speeds a vanishing sweep records."""
    if point.get("layers") is None:
        return int(point["depth"])
    from ..layers import expand_batch_norm, parse

    layers = expand_batch_norm(parse(point["layers"]))  # dense(n,σ,batch_norm=1): two
    return sum(len(layer.parameter_layers()) for layer in layers) - 1


@dataclass(frozen=True)
class Sweep:
    """A grid of runs: ``grid`` (parameter -> values) × ``seeds`` seeds on one data set.

    Build it with :meth:`from_dict`, :func:`load_sweep` (TOML) or ``Sweep.create(measure,
    dataset=..., seeds=..., depth=[1, 2], ...)``; all three validate every name and value.

    Attributes
    ----------
    measure : {"train", "vanishing"}
    grid : dict of str -> tuple
        The values of every swept parameter (in the order given); parameters not in the grid
        take their defaults (:data:`PARAMETERS`).
    dataset : str
        A data set of :data:`nnmath.data.LOADERS` (``digits``, ...) or a folder of MNIST-style
        IDX files (that every worker can read).
    subset : int or None
        Train on the first ``subset`` training rows only.
    seeds : int
        Runs per grid point, seed indices ``0 … seeds − 1``.
    """

    measure: str
    grid: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    dataset: str = "digits"
    subset: int | None = None
    seeds: int = 1

    @classmethod
    def create(
        cls,
        measure: str = "train",
        *,
        dataset: str = "digits",
        subset: int | None = None,
        seeds: int = 1,
        **grid: Any,
    ) -> Sweep:
        """A validated sweep from keyword arguments (``depth=[2, 4], init="he"``)."""
        return cls.from_dict(
            {"measure": measure, "dataset": dataset, "subset": subset, "seeds": seeds, "grid": grid}
        )

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], source: str = "sweep") -> Sweep:
        """Validate a sweep given as a mapping (the TOML file's layout).

        Raises
        ------
        SweepError
            Unknown keys or parameters, an empty grid, a bad value.
        """
        if not isinstance(spec, Mapping):
            raise SweepError(f"{source}: expected a table of settings, got {type(spec).__name__}")
        for k in spec:
            if k not in _TOP_LEVEL:
                raise SweepError(
                    f"{source}: unknown setting {k!r}{_suggest(k, [*_TOP_LEVEL, *PARAMETERS])}; "
                    f"settings are {list(_TOP_LEVEL)}, grid parameters go under [grid]"
                )
        measure = spec.get("measure", "train")
        if measure not in MEASURES:
            raise SweepError(f"{source}: unknown measure {measure!r}: choose one of {MEASURES}")
        dataset = spec.get("dataset", "digits")
        if isinstance(dataset, str) and dataset_key(dataset) in LOADERS:
            dataset = dataset_key(dataset)
        elif not isinstance(dataset, str) or not Path(dataset).is_dir():
            raise SweepError(
                f"{source}: unknown dataset {dataset!r}: choose one of {sorted(LOADERS)} "
                "or give a folder of MNIST-style IDX files"
            )
        subset = spec.get("subset")
        if subset is not None and (
            isinstance(subset, bool) or not isinstance(subset, int) or subset < 1
        ):
            raise SweepError(f"{source}: subset must be a positive integer, got {subset!r}")
        seeds = spec.get("seeds", 1)
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
            raise SweepError(f"{source}: seeds must be a positive integer, got {seeds!r}")
        raw = spec.get("grid") or {}
        if not isinstance(raw, Mapping):
            raise SweepError(f"{source}: grid must be a table of parameter = [values]")
        if not raw:
            raise SweepError(
                f"{source}: the grid is empty: give at least one parameter, e.g. depth = [1, 2, 3]"
            )
        grid: dict[str, tuple[Any, ...]] = {}
        for name, values in raw.items():
            if name not in PARAMETERS:
                raise SweepError(
                    f"{source}: unknown grid parameter {name!r}{_suggest(name, PARAMETERS)}; "
                    f"parameters are {list(PARAMETERS)}"
                )
            values = list(values) if isinstance(values, (list, tuple)) else [values]
            if not values:
                raise SweepError(f"{source}: grid parameter {name!r} has no values")
            try:
                normalized = tuple(_normalize(name, v) for v in values)
            except SweepError as exc:  # the value's own message, after the file's name
                raise SweepError(f"{source}: {exc}") from None
            if len(set(normalized)) != len(normalized):
                raise SweepError(f"{source}: grid parameter {name!r} repeats a value")
            grid[name] = normalized
        if "layers" in grid:
            try:
                _check_layers(grid, dataset)
            except SweepError as exc:
                raise SweepError(f"{source}: {exc}") from None
        sweep = cls(measure=measure, grid=grid, dataset=dataset, subset=subset, seeds=seeds)
        sweep.check_size(source)
        return sweep

    @property
    def n_tasks(self) -> int:
        """Grid points × seeds, counted without building them."""
        return math.prod(len(v) for v in self.grid.values()) * self.seeds

    def check_size(self, source: str = "sweep") -> None:
        """Refuse a sweep of more than :data:`MAX_TASKS` tasks before any is built.

        Raises
        ------
        SweepError
            Naming the count, the grid points and the seeds.
        """
        n = self.n_tasks
        if n > MAX_TASKS:
            raise SweepError(
                f"{source}: the sweep has {n:,} tasks ({n // self.seeds:,} grid points x "
                f"{self.seeds:,} seeds), more than the {MAX_TASKS:,} a sweep may hold; "
                "fewer values or seeds, or split it into several sweeps"
            )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "measure": self.measure,
            "dataset": self.dataset,
            "seeds": self.seeds,
            "grid": {k: list(v) for k, v in self.grid.items()},
        }
        if self.subset is not None:
            d["subset"] = self.subset
        return d

    def parameters(self) -> list[str]:
        """The grid parameters of this sweep's tasks (and table): ``layers`` and no dense
        network's parameters when it sweeps layer descriptions, else all but ``layers``."""
        if "layers" in self.grid:
            return [name for name in PARAMETERS if name not in DENSE_ONLY]
        return [name for name in PARAMETERS if name != "layers"]

    def defaults(self) -> dict[str, Any]:
        d = {name: PARAMETERS[name].default for name in self.parameters()}
        d["epochs"] = _DEFAULT_EPOCHS[self.measure]
        return d

    def points(self) -> list[dict[str, Any]]:
        """Every grid point (all parameters, defaults filled in), the grid's order."""
        self.check_size()
        base = self.defaults()
        names = list(self.grid)
        points = [
            {**base, **dict(zip(names, combo, strict=True))}
            for combo in itertools.product(*(self.grid[n] for n in names))
        ]
        for point in points:  # defaults that can learn: as nnmath train chooses them
            if "eta" not in self.grid and point["optimizer"] != "sgd":
                point["eta"] = default_eta(point["optimizer"])  # Adam's η is its own, not SGD's
            if (
                "output_activation" in point
                and "output_activation" not in self.grid
                and (point["cost"] == "log_likelihood")
            ):
                point["output_activation"] = "softmax"  # −ln a_y needs outputs that sum to 1
        return points

    def tasks(self) -> list[Task]:
        """Every grid point × seed index as a :class:`Task`, grid order, seeds innermost."""
        out = []
        for params in self.points():
            ident = {
                "measure": self.measure,
                "dataset": self.dataset,
                "subset": self.subset,
                **params,
            }
            blob = json.dumps(ident, sort_keys=True).encode()
            digest = hashlib.sha256(blob).digest()
            entropy = int.from_bytes(digest[:16], "little")
            for s in range(self.seeds):
                key = hashlib.sha256(blob + f"#seed={s}".encode()).hexdigest()[:16]
                out.append(
                    Task(key, self.measure, self.dataset, self.subset, dict(params), s, entropy)
                )
        return out

    @property
    def varying(self) -> list[str]:
        """The grid parameters with more than one value (the summary's grouping columns)."""
        return [n for n, v in self.grid.items() if len(v) > 1]

    def columns(self) -> list[str]:
        """The results table's columns, in order."""
        cols = ["key", "measure", "dataset", "subset", "seed_index", *self.parameters()]
        cols += [
            "training_cost",
            "validation_accuracy",
            "test_accuracy",
            "diverged",
            "epochs_run",
            "epoch_costs",
            "epoch_accuracies",
        ]
        if self.measure == "vanishing":
            depth = max(hidden_layers(p) for p in self.points())
            cols += [f"speed_l{k}" for k in range(1, depth + 1)] + ["speed_out", "speeds"]
        return cols + ["wall_time", "worker"]


def load_sweep(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> Sweep:
    """Read a sweep from a TOML file, optionally overriding settings and grid parameters.

    Examples
    --------
    ::

        measure = "vanishing"
        dataset = "digits"
        subset = 1000
        seeds = 5
        [grid]
        activation = ["sigmoid", "tanh", "relu", "elu"]
        depth = [2, 4, 6, 8]
        init = ["scaled_normal", "glorot", "he"]
        epochs = 1

    ``overrides`` (``{"seeds": 2, "grid": {"depth": [1, 2]}}``) replaces the file's settings
    and, one parameter at a time, its grid (the command line's options do this).

    Raises
    ------
    SweepError
        A missing or malformed file, or a bad setting (see :meth:`Sweep.from_dict`).
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            spec = tomllib.load(fh)
    except FileNotFoundError:
        raise SweepError(f"sweep file {str(path)!r} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"{path}: not valid TOML: {exc}") from None
    for k, v in (overrides or {}).items():
        if k == "grid" and isinstance(spec.get("grid"), dict):
            spec["grid"] = {**spec["grid"], **v}
        else:
            spec[k] = v
    return Sweep.from_dict(spec, source=str(path))
