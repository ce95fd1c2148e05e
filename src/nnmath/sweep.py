"""Sweeps: grids of independent, deterministic training runs, locally or on a Dask cluster.

The lecture's question — which activation and which initialisation keep the gradients of the
early layers alive as a network gets deeper — is answered by grids of runs: activation ×
depth × init × η × seeds. A :class:`Sweep` declares such a grid (in Python, a TOML file or on
the command line); :func:`run_sweep` runs every grid point × seed as one task and streams the
results, one row per task, into a tidy table file.

Determinism
    Every task's random numbers come from a ``numpy.random.SeedSequence`` whose entropy is a
    hash of the task's resolved parameters (data set, measurement and every network and
    training parameter) and whose spawn key is the seed index. Each task also runs its BLAS on
    one thread. A result therefore never depends on the process, machine or order it ran in.

Execution
    ``scheduler=None``: local worker processes through joblib (``n_jobs``; 1 runs in this
    process). ``scheduler="tcp://HOST:PORT"``: a running ``dask.distributed`` scheduler. Tasks
    carry only their parameters; each worker process loads a data set once and keeps it in a
    per-process cache (:func:`cache_info`).

Results
    One row per task (its ``key``, the parameters, the metrics, ``wall_time`` and ``worker``)
    appended to a CSV or JSON-lines file as soon as it arrives, so an interrupted sweep
    loses nothing and ``resume=True`` runs only the missing tasks. With a ``.parquet`` output
    the rows stream into a ``.jsonl`` file beside it and the Parquet file is written at the end.

Measurements
    ``train``
        Final ``training_cost``, ``validation_accuracy`` and ``test_accuracy``, and the
        per-epoch training cost and validation accuracy (JSON columns ``epoch_costs``,
        ``epoch_accuracies``). A run whose cost became NaN has ``diverged`` true and the
        metrics of its last finite epoch.
    ``vanishing``
        The same, plus Nielsen's "speed of learning" of every layer, ``‖∂C/∂b^l‖`` over the
        training rows (``nnmath.diagnostics.gradient_norms``): at initialisation as columns
        ``speed_l1 … speed_lD`` (hidden layers) and ``speed_out``, and after every epoch in the
        JSON column ``speeds`` (``speeds[e][l]``, epoch 0 being the initial network).
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import itertools
import json
import math
import os
import socket
import tempfile
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "MEASURES",
    "PARAMETERS",
    "Sweep",
    "SweepError",
    "SweepResult",
    "Task",
    "cache_info",
    "load_sweep",
    "read_results",
    "run_sweep",
    "run_task",
    "summarize",
]

MEASURES = ("train", "vanishing")


class SweepError(ValueError):
    """A sweep that cannot run: a bad sweep file, parameter or value, or no scheduler."""


# ---------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class _Param:
    kind: type
    default: Any
    help: str


#: Grid parameters, their type, default and meaning (``epochs`` defaults by measurement).
PARAMETERS: dict[str, _Param] = {
    "activation": _Param(str, "sigmoid", "σ of the hidden layers (nnmath.ACTIVATIONS)"),
    "output_activation": _Param(str, "sigmoid", "σ of the output layer"),
    "depth": _Param(int, 1, "number of hidden layers"),
    "width": _Param(int, 30, "units per hidden layer"),
    "init": _Param(str, "scaled_normal", "weight initialisation (nnmath.INITS)"),
    "cost": _Param(str, "cross_entropy", "cost function (nnmath.COSTS)"),
    "eta": _Param(float, 0.5, "learning rate η"),
    "lmbda": _Param(float, 0.0, "L2 regularisation λ"),
    "optimizer": _Param(str, "sgd", "sgd | adam"),
    "momentum": _Param(float, 0.0, "SGD momentum μ"),
    "mini_batch_size": _Param(int, 10, "mini-batch size"),
    "epochs": _Param(int, None, "training epochs (default: 10 for train, 2 for vanishing)"),
    "dtype": _Param(str, "float32", "float32 | float64"),
}
_DEFAULT_EPOCHS = {"train": 10, "vanishing": 2}
_TOP_LEVEL = ("measure", "dataset", "subset", "seeds", "grid")


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _normalize(name: str, value: Any) -> Any:
    """One value of grid parameter ``name``, type-checked and in canonical form."""
    from .activations import get_activation
    from .costs import get_cost
    from .init import INITS
    from .optim import OPTIMIZERS

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
        raise SweepError(f"{bad}: expected a name (a string)")
    try:
        if name in ("activation", "output_activation"):
            value = get_activation(value).name
            if name == "activation" and value == "softmax":
                raise SweepError(f"{bad}: softmax is an output activation")
            return value
        if name == "cost":
            return get_cost(value).name
    except (ValueError, TypeError) as exc:
        raise SweepError(f"{bad}: {str(exc).splitlines()[0]}") from None
    choices = {"init": INITS, "optimizer": OPTIMIZERS, "dtype": ("float32", "float64")}[name]
    if value not in choices:
        raise SweepError(f"{bad}: choose one of {sorted(choices)}{_suggest(value, choices)}")
    return value


# ---------------------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class Task:
    """One grid point × seed: everything a worker needs (small, shipped to the worker).

    Attributes
    ----------
    key : str
        16 hex digits, a hash of ``measure``, ``dataset``, ``subset``, ``params`` and
        ``seed_index``: the row's identity in the results table.
    params : dict
        Every grid parameter, defaults filled in.
    entropy : int
        The grid point's hash, the ``SeedSequence`` entropy (the seed index is its spawn key).
    """

    key: str
    measure: str
    dataset: str
    subset: int | None
    params: dict[str, Any]
    seed_index: int
    entropy: int

    def seed_sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.entropy, spawn_key=(self.seed_index,))


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
        A name for :func:`nnmath.data.load_dataset` (``digits``, ``mnist``,
        ``fashion-mnist``) or a folder of MNIST-style IDX files (that every worker can read).
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
        from .data import LOADERS

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
        if isinstance(dataset, str) and dataset.lower().replace("_", "-") in LOADERS:
            dataset = dataset.lower().replace("_", "-")
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
            normalized = tuple(_normalize(name, v) for v in values)
            if len(set(normalized)) != len(normalized):
                raise SweepError(f"{source}: grid parameter {name!r} repeats a value")
            grid[name] = normalized
        return cls(measure=measure, grid=grid, dataset=dataset, subset=subset, seeds=seeds)

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

    # ------------------------------------------------------------------ expansion

    def defaults(self) -> dict[str, Any]:
        d = {name: p.default for name, p in PARAMETERS.items()}
        d["epochs"] = _DEFAULT_EPOCHS[self.measure]
        return d

    def points(self) -> list[dict[str, Any]]:
        """Every grid point (all parameters, defaults filled in), the grid's order."""
        base = self.defaults()
        names = list(self.grid)
        return [
            {**base, **dict(zip(names, combo, strict=True))}
            for combo in itertools.product(*(self.grid[n] for n in names))
        ]

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
        cols = ["key", "measure", "dataset", "subset", "seed_index", *PARAMETERS]
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
            depth = max(p["depth"] for p in self.points())
            cols += [f"speed_l{k}" for k in range(1, depth + 1)] + ["speed_out", "speeds"]
        return cols + ["wall_time", "worker"]


def load_sweep(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> Sweep:
    """Read a sweep from a TOML file, optionally overriding settings and grid parameters.

    Example
    -------
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


# ---------------------------------------------------------------------------- one task

_CACHE: dict[tuple[str, int | None], tuple[Any, ...]] = {}
_CACHE_LOCK = threading.Lock()
_LOADS: list[tuple[str, int | None]] = []


def _data(name: str, subset: int | None) -> tuple[Any, ...]:
    """The data set's (X, y, Xv, yv, Xt, yt), loaded once per process and kept."""
    with _CACHE_LOCK:
        if (name, subset) not in _CACHE:
            from .data import load_dataset

            ds = load_dataset(name)
            X, y = ds.train
            if subset is not None:
                if subset > len(y):
                    raise ValueError(
                        f"subset={subset} is more than the {len(y)} training rows of {name}"
                    )
                X, y = X[:subset], y[:subset]
            _CACHE[(name, subset)] = (X, y, *ds.validation, *ds.test, ds.n_classes)
            _LOADS.append((name, subset))
        return _CACHE[(name, subset)]


def cache_info() -> dict[str, Any]:
    """This process's data cache: which data sets it holds and how often each was loaded."""
    return {
        "pid": os.getpid(),
        "cached": sorted(map(str, _CACHE)),
        "loads": [list(k) for k in _LOADS],
    }


def _finite(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def run_task(task: Task, delay: float = 0.0) -> dict[str, Any]:
    """Run one task and return its row (plain Python values; non-finite numbers as None).

    The network is initialised from the first child of the task's ``SeedSequence`` and the
    mini-batches are shuffled with the second, on one BLAS thread, so the row depends on the
    task alone. ``delay`` seconds of sleep first (for tests of interruptions).
    """
    from threadpoolctl import threadpool_limits

    from .diagnostics import gradient_norms
    from .network import Network
    from .train import TrainingDiverged, fit

    t0 = time.perf_counter()
    if delay:
        time.sleep(delay)
    X, y, Xv, yv, Xt, yt, n_classes = _data(task.dataset, task.subset)
    p = task.params
    init_ss, shuffle_ss = task.seed_sequence().spawn(2)
    speeds: list[list[float]] = []
    # one BLAS thread: the same sums in the same order everywhere. A diverging run is recorded
    # in the row (``diverged``) rather than warned about at every step.
    with threadpool_limits(1), np.errstate(over="ignore", invalid="ignore"):
        sizes = [X.shape[1], *[p["width"]] * p["depth"], n_classes]
        net = Network(
            sizes,
            activation=p["activation"],
            output_activation=p["output_activation"],
            cost=p["cost"],
            init=p["init"],
            dtype=p["dtype"],
            rng=np.random.default_rng(init_ss),
        )
        callbacks = []
        if task.measure == "vanishing":
            speeds.append(gradient_norms(net, X, y).nabla_b)
            callbacks.append(lambda n, h, e: speeds.append(gradient_norms(n, X, y).nabla_b))
        diverged = False
        try:
            history = fit(
                net,
                X,
                y,
                epochs=p["epochs"],
                mini_batch_size=p["mini_batch_size"],
                eta=p["eta"],
                lmbda=p["lmbda"],
                optimizer=p["optimizer"],
                momentum=p["momentum"],
                validation_data=(Xv, yv),
                rng=np.random.default_rng(shuffle_ss),
                callbacks=callbacks,
            )
        except TrainingDiverged as exc:
            history, diverged = exc.history, True
        row: dict[str, Any] = {
            "key": task.key,
            "measure": task.measure,
            "dataset": task.dataset,
            "subset": task.subset,
            "seed_index": task.seed_index,
            **p,
            "training_cost": _finite(net.cost(X, y)),
            "validation_accuracy": _finite(net.accuracy(Xv, yv)),
            "test_accuracy": _finite(net.accuracy(Xt, yt)),
            "diverged": diverged,
            "epochs_run": history.epochs,
            "epoch_costs": [_finite(c) for c in history.training_cost],
            "epoch_accuracies": [_finite(a) for a in history.validation_accuracy],
        }
    if task.measure == "vanishing":
        for k, s in enumerate(speeds[0][:-1], start=1):
            row[f"speed_l{k}"] = _finite(s)
        row["speed_out"] = _finite(speeds[0][-1])
        row["speeds"] = [[_finite(s) for s in layer] for layer in speeds]
    row["wall_time"] = time.perf_counter() - t0
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return row


# ---------------------------------------------------------------------------- the table

_JSON_COLUMNS = ("epoch_costs", "epoch_accuracies", "speeds")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)  # floats: the shortest repr that reads back exactly


def _parse_cell(column: str, text: str) -> Any:
    if text == "":
        return None
    if column in _JSON_COLUMNS:
        return json.loads(text)
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _stream_path(out: Path) -> Path:
    return out.with_suffix(".jsonl") if out.suffix.lower() == ".parquet" else out


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    raise SweepError(f"results file {str(path)!r}: use a .csv, .jsonl or .parquet name")


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The complete rows of a results table (CSV, JSON lines or Parquet), in file order.

    A last line cut short by an interruption is skipped, and a key seen twice keeps its first
    row.
    """
    rows, _ = _read_rows(Path(path))
    return rows


def _read_rows(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """(rows, clean): ``clean`` is False when a partial line or a duplicate was dropped."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
        for r in rows:
            for c in _JSON_COLUMNS:
                if isinstance(r.get(c), str):
                    r[c] = json.loads(r[c])
        return rows, True
    text = path.read_text(encoding="utf-8")
    clean = True
    if text and not text.endswith("\n"):  # a row cut short by an interruption
        text, clean = text[: text.rfind("\n") + 1], False
    rows: list[dict[str, Any]] = []
    if _format(path) == "csv":
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        for rec in reader:
            if header is None or len(rec) != len(header):
                clean = False
                continue
            rows.append({c: _parse_cell(c, v) for c, v in zip(header, rec, strict=True)})
    else:
        for line in text.splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                clean = False
    seen: set[str] = set()
    unique = []
    for r in rows:
        if r.get("key") not in seen:
            seen.add(r.get("key"))
            unique.append(r)
    return unique, clean and len(unique) == len(rows)


class _Writer:
    """Appends rows to a CSV or JSON-lines file, flushed after every row."""

    def __init__(
        self, path: Path, columns: list[str], existing: list[dict[str, Any]], rewrite: bool
    ) -> None:
        self.path, self.fmt = path, _format(path)
        self.columns = list(columns)
        for r in existing:  # keep the columns of rows from an earlier, wider sweep
            self.columns += [c for c in r if c not in self.columns]
        if not rewrite and len(self.columns) != len(columns):
            raise SweepError(f"{path}: rows do not match the file's header; use --overwrite")
        path.parent.mkdir(parents=True, exist_ok=True)
        if rewrite or not path.exists():
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                if self.fmt == "csv":
                    fh.write(self._csv_line(dict(zip(self.columns, self.columns, strict=True))))
                for r in existing:
                    fh.write(self._line(r))
            os.replace(tmp, path)
        self.fh = path.open("a", encoding="utf-8", newline="")

    def _csv_line(self, row: Mapping[str, Any]) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([_cell(row.get(c)) for c in self.columns])
        return buf.getvalue()

    def _line(self, row: Mapping[str, Any]) -> str:
        if self.fmt == "csv":
            return self._csv_line(row)
        return json.dumps({c: row.get(c) for c in self.columns}) + "\n"

    def write(self, row: Mapping[str, Any]) -> None:
        self.fh.write(self._line(row))
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def _write_parquet(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = {
        c: [json.dumps(r.get(c)) if c in _JSON_COLUMNS else r.get(c) for r in rows] for c in columns
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(pa.table(data), tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------- execution


@dataclass
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    rows : list of dict
        Every row of the table for this sweep's tasks (earlier ones included on resume),
        in the sweep's task order.
    path : Path
        The streaming table file (CSV or JSON lines); ``parquet`` the Parquet file, if any.
    ran, skipped, total : int
        Tasks run now, tasks found done already, tasks in the sweep.
    seconds : float
        Wall-clock time of this call.
    complete : bool
        Whether every task of the sweep has its row.
    """

    sweep: Sweep
    rows: list[dict[str, Any]]
    path: Path
    ran: int
    skipped: int
    total: int
    seconds: float
    parquet: Path | None = None

    @property
    def complete(self) -> bool:
        return len(self.rows) == self.total

    def summary(self) -> list[dict[str, Any]]:
        """:func:`summarize` grouped by the swept parameters (and ``depth``, for the plots)."""
        by = self.sweep.varying
        return summarize(self.rows, by=by if "depth" in by else [*by, "depth"])


def _joblib_results(tasks: list[Task], n_jobs: int, delay: float) -> Iterator[dict[str, Any]]:
    if n_jobs == 1:
        for t in tasks:
            yield run_task(t, delay)
        return
    from joblib import Parallel, delayed

    yield from Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(run_task)(t, delay) for t in tasks
    )


def _connect(scheduler: str, timeout: float) -> Any:
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError(
            "a Dask scheduler needs dask.distributed: pip install 'nnmath[dask]'"
        ) from exc
    if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
        raise SweepError(f"scheduler {scheduler!r}: give an address like tcp://HOST:PORT")
    try:
        return Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SweepError(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s "
            f"({message}); start one with `dask scheduler` or check the address"
        ) from None


def _dask_results(tasks: list[Task], client: Any, delay: float) -> Iterator[dict[str, Any]]:
    from distributed import as_completed

    run_id = uuid.uuid4().hex[:8]
    futures = []
    try:
        futures = [
            client.submit(run_task, t, delay, key=f"nnmath-sweep-{t.key}-{run_id}", pure=False)
            for t in tasks
        ]
        by_key = {f.key: t for f, t in zip(futures, tasks, strict=True)}
        for fut in as_completed(futures, loop=client.loop):
            try:
                row = fut.result()
            except Exception as exc:
                t = by_key[fut.key]
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise SweepError(
                    f"task {t.key} (seed {t.seed_index}, {t.params}) failed: "
                    f"{type(exc).__name__}: {message}"
                ) from exc
            fut.release()
            yield row
    finally:
        if futures:
            client.cancel(futures)


def run_sweep(
    sweep: Sweep,
    out: str | os.PathLike[str] = "sweep.csv",
    *,
    resume: bool = False,
    overwrite: bool = False,
    scheduler: str | None = None,
    n_jobs: int = -1,
    max_tasks: int | None = None,
    on_result: Callable[[dict[str, Any], int, int], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
    connect_timeout: float = 10.0,
    delay: float = 0.0,
) -> SweepResult:
    """Run every task of ``sweep`` not yet in ``out`` and stream the rows into ``out``.

    Parameters
    ----------
    sweep : Sweep
    out : path
        ``.csv`` or ``.jsonl`` (rows appended as they arrive) or ``.parquet`` (rows streamed
        into the ``.jsonl`` file of the same name, Parquet written at the end).
    resume : bool
        Keep the rows already in ``out`` and run only the missing tasks.
    overwrite : bool
        Start ``out`` afresh. Without ``resume`` or ``overwrite`` an existing ``out`` is an
        error, so finished work is never thrown away by accident.
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a ``dask.distributed`` scheduler; otherwise local processes.
    n_jobs : int
        Local worker processes (joblib; ``-1`` all cores, ``1`` this process).
    max_tasks : int, optional
        Stop after this many new rows (the rest stays for a later ``resume``).
    on_result : callable ``f(row, done, total)``, optional
        Called after each row is written (progress bars). An exception raised here stops the
        sweep; the rows written so far stay.
    on_start : callable ``f(n_to_run, n_done_already)``, optional
        Called once before the first task starts.
    connect_timeout : float
        Seconds to wait for the scheduler.
    delay : float
        Seconds each task sleeps before it starts (to test interruptions).

    Returns
    -------
    SweepResult

    Raises
    ------
    SweepError
        An existing ``out`` without ``resume``/``overwrite``, an unreachable scheduler, or a
        task that failed.
    """
    t0 = time.perf_counter()
    out = Path(out)
    stream = _stream_path(out)
    _format(stream)
    if resume and overwrite:
        raise SweepError("resume and overwrite exclude each other: keep the rows or drop them")
    tasks = sweep.tasks()
    existing: list[dict[str, Any]] = []
    rewrite = True
    if stream.exists() and not overwrite:
        if not resume:
            raise SweepError(
                f"{stream} exists: pass --resume to add the missing rows, or --overwrite"
            )
        existing, clean = _read_rows(stream)
        header = _read_header(stream)
        rewrite = not clean or any(c not in header for c in sweep.columns())
    done = {r["key"] for r in existing}
    pending = [t for t in tasks if t.key not in done]
    skipped = len(tasks) - len(pending)
    if max_tasks is not None:
        pending_run = pending[: max(int(max_tasks), 0)]
    else:
        pending_run = pending
    # connect before touching the file: an unreachable scheduler changes nothing
    client = _connect(scheduler, connect_timeout) if scheduler and pending_run else None
    new_rows: list[dict[str, Any]] = []
    results: Iterator[dict[str, Any]] = iter(())
    writer = None
    try:
        columns = sweep.columns() if rewrite else _read_header(stream)
        writer = _Writer(stream, columns, existing, rewrite)
        if on_start is not None:
            on_start(len(pending_run), skipped)
        if pending_run:
            if client is not None:
                results = _dask_results(pending_run, client, delay)
            else:
                results = _joblib_results(pending_run, n_jobs, delay)
            for row in results:
                if row["key"] in done:  # never a duplicate row, whatever the engine does
                    continue
                writer.write(row)
                done.add(row["key"])
                new_rows.append(row)
                if on_result is not None:
                    on_result(row, len(new_rows), len(pending_run))
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
        if client is not None:
            client.close()
        if writer is not None:
            writer.close()
    by_key = {r["key"]: r for r in existing + new_rows}
    rows = [by_key[t.key] for t in tasks if t.key in by_key]
    parquet = None
    if out.suffix.lower() == ".parquet":
        all_rows = read_results(stream)
        _write_parquet(out, all_rows, writer.columns)
        parquet = out
    return SweepResult(
        sweep, rows, stream, len(new_rows), skipped, len(tasks), time.perf_counter() - t0, parquet
    )


def _read_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        first = fh.readline()
    if _format(path) == "csv":
        return next(csv.reader([first]), [])
    try:
        return list(json.loads(first)) if first.strip() else []
    except json.JSONDecodeError:
        return []


# ---------------------------------------------------------------------------- summary

_NOT_METRICS = {"key", "seed_index", "worker", "wall_time", *_JSON_COLUMNS}


def summarize(
    rows: Sequence[Mapping[str, Any]],
    by: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Aggregate the rows over seeds: mean and standard deviation of every metric.

    Parameters
    ----------
    rows : sequence of dict
        Rows of a results table.
    by : sequence of str, optional
        Grouping columns; default every parameter column that takes more than one value.
    metrics : sequence of str, optional
        Default: every numeric column that is not a parameter (``training_cost``,
        ``validation_accuracy``, ``test_accuracy``, ``speed_l1`` …, ``wall_time``).

    Returns
    -------
    list of dict
        One per group, in first-seen order: the group's values, ``n`` (rows), and for each
        metric ``<metric>_mean`` and ``<metric>_std`` (sample standard deviation, 0 for one
        row; missing values are left out).
    """
    if not rows:
        return []
    params = ["measure", "dataset", "subset", *PARAMETERS]
    if by is None:
        by = [p for p in params if len({r.get(p) for r in rows}) > 1]
    if metrics is None:
        metrics = [
            c for c in rows[0] if c not in params and c not in _NOT_METRICS and c != "diverged"
        ]
        metrics += [c for r in rows for c in r if c.startswith("speed_l") and c not in metrics]
        metrics.append("wall_time")
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(b) for b in by), []).append(r)
    out = []
    for values, members in groups.items():
        g: dict[str, Any] = dict(zip(by, values, strict=True))
        g["n"] = len(members)
        g["diverged"] = sum(bool(m.get("diverged")) for m in members)
        for m in metrics:
            xs = [
                float(v)
                for v in (r.get(m) for r in members)
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            ]
            g[f"{m}_mean"] = float(np.mean(xs)) if xs else None
            g[f"{m}_std"] = float(np.std(xs, ddof=1)) if len(xs) > 1 else (0.0 if xs else None)
        out.append(g)
    return out
