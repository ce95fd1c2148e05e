"""One task of a sweep: a grid point × seed, run deterministically wherever it lands.

Every task's random numbers come from a ``numpy.random.SeedSequence`` whose entropy is a hash
of the task's resolved parameters and whose spawn key is the seed index, and each task runs its
BLAS on one thread, so a row never depends on the process, machine or order it ran in. Each
worker process loads a data set once and keeps it (:func:`cache_info`).
"""

from __future__ import annotations

import math
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Task", "cache_info", "run_name", "run_task"]


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


_CACHE: dict[tuple[str, int | None], tuple[Any, ...]] = {}
_CACHE_LOCK = threading.Lock()
_LOADS: list[tuple[str, int | None]] = []


def _data(name: str, subset: int | None) -> tuple[Any, ...]:
    """The data set's (X, y, Xv, yv, Xt, yt, n_classes, input_shape), loaded once per
    process and kept."""
    with _CACHE_LOCK:
        if (name, subset) not in _CACHE:
            from ..data import load_dataset

            ds = load_dataset(name)
            X, y = ds.train
            if subset is not None:
                if subset > len(y):
                    raise ValueError(
                        f"subset={subset} is more than the {len(y)} training rows of {name}"
                    )
                X, y = X[:subset], y[:subset]
            _CACHE[(name, subset)] = (X, y, *ds.validation, *ds.test, ds.n_classes, ds.input_shape)
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


def run_name(task: Task) -> str:
    """The folder name of a task's TensorBoard run: its main parameters, seed and key,
    ``sigmoid-depth4-w30-scaled_normal-eta0.1-seed0-1a2b3c4d``."""
    p = task.params
    if p.get("layers") is not None:  # the description, as a folder's name can hold it
        network = re.sub(r"[^\w.]+", "_", p["layers"]).strip("_")[:48]
    else:
        network = f"{p['activation']}-depth{p['depth']}-w{p['width']}"
        network += "-bn" * bool(p.get("batch_norm")) + "-res" * bool(p.get("residual"))
    return f"{network}-{p['init']}-eta{p['eta']:g}-seed{task.seed_index}-{task.key[:8]}"


def _tensorboard(task: Task, tensorboard: str | None, X: Any, y: Any) -> list[Any]:
    """The task's TensorBoard callback (layers measured on the rows of the speeds), or none."""
    if tensorboard is None:
        return []
    from ..callbacks import TensorBoard

    return [TensorBoard(os.path.join(tensorboard, run_name(task)), X=X, Y=y, max_rows=len(y))]


def _network(p: dict[str, Any], n_in: int, n_classes: int, input_shape: Any, rng: Any) -> Any:
    """The task's network: ``depth`` × ``width`` dense layers, or its ``layers``' description
    on the data set's input shape; its weights drawn from ``rng``."""
    from ..network import Network

    common = {"cost": p["cost"], "init": p["init"], "dtype": p["dtype"], "rng": rng}
    if p.get("layers") is not None:
        from ..layers import parse

        return Network(parse(p["layers"], input_shape, n_classes), **common)
    sizes = [n_in, *[p["width"]] * p["depth"], n_classes]
    if p.get("batch_norm") or p.get("residual"):
        from ..layers.remedies import remedied_layers

        remedies = {k: bool(p.get(k, False)) for k in ("batch_norm", "residual")}
        layers = remedied_layers(sizes, p["activation"], p["output_activation"], **remedies)
        return Network(layers, **common)
    return Network(
        sizes, activation=p["activation"], output_activation=p["output_activation"], **common
    )


def run_task(task: Task, delay: float = 0.0, tensorboard: str | None = None) -> dict[str, Any]:
    """Run one task and return its row (plain Python values; non-finite numbers as None).

    The network is initialised from the first child of the task's ``SeedSequence`` and the
    mini-batches are shuffled with the second, on one BLAS thread, so the row depends on the
    task alone. ``delay`` seconds of sleep first (for tests of interruptions); the
    TensorBoard run goes to ``tensorboard/run_name(task)`` when a folder is given.
    """
    from threadpoolctl import threadpool_limits

    from ..diagnostics import gradient_norms
    from ..train import TrainingDiverged, fit

    t0 = time.perf_counter()
    if delay:
        time.sleep(delay)
    X, y, Xv, yv, Xt, yt, n_classes, input_shape = _data(task.dataset, task.subset)
    p = task.params
    init_ss, shuffle_ss = task.seed_sequence().spawn(2)
    speeds: list[list[float]] = []
    # one BLAS thread: the same sums in the same order everywhere. A diverging run is recorded
    # in the row (``diverged``) rather than warned about at every step.
    with threadpool_limits(1), np.errstate(over="ignore", invalid="ignore"):
        net = _network(p, X.shape[1], n_classes, input_shape, np.random.default_rng(init_ss))
        callbacks = _tensorboard(task, tensorboard, X, y)
        if task.measure == "vanishing":
            speeds.append(gradient_norms(net, X, y).speed)
            callbacks.append(lambda n, h, e: speeds.append(gradient_norms(n, X, y).speed))
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
