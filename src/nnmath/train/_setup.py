"""What fit sets up before its first epoch: the checked run, the optimizer, the callbacks that
fit's shorthands stand for, and a resumed run's state."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._fit_checks import check_network, check_optimizer_state, check_pass_memory
from .._words import plural
from ..callbacks import (
    Callback,
    Checkpoint,
    DivergenceCheck,
    EarlyStopping,
    GradientTracker,
    Histograms,
    LearningRateScheduler,
    Run,
    as_callback,
)
from ..optim import Optimizer, get_optimizer

__all__ = ["make_callbacks", "new_run", "resume_run", "warn_not_bit_identical"]

#: λ of an optimizer given by name when fit is not told (η and the others: its own defaults,
#: ``default_eta`` on its registry entry: 3.0 for SGD, 1e-3 for Adam and RMSprop)
_NAMED_DEFAULTS = {"lmbda": 0.0}


def new_run(
    net: Any,
    X: Any,
    Y: Any,
    epochs: int,
    mini_batch_size: int,
    validation_data: tuple[Any, Any] | None,
    seed: int | None,
    rng: np.random.Generator | None,
    optimizer: str | Optimizer,
    hyper: dict[str, Any],
) -> Run:
    """The checked network, data (on the network's device), generator and optimizer."""
    check_network(net)  # every per-layer attribute, whichever path trains (one message)
    X = net.check_inputs(X)  # on the network's device from here on: moved once, not per batch
    Y = net.check_targets(Y, X.shape[0])
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs}")
    if int(mini_batch_size) != mini_batch_size or mini_batch_size < 1:
        raise ValueError(f"mini_batch_size must be a positive integer, got {mini_batch_size}")
    rows = min(int(mini_batch_size), X.shape[0])  # before any epoch allocates its mini-batch
    check_pass_memory(net, rows, f"a training pass over mini_batch_size={rows} examples")
    if validation_data is not None:
        Xv = net.check_inputs(validation_data[0])
        validation_data = (Xv, net.check_targets(validation_data[1], Xv.shape[0]))
    if rng is None:  # a seeded network shuffles reproducibly without a seed here too
        rng = np.random.default_rng(seed) if seed is not None else net.rng
    opt = _optimizer(optimizer, hyper, X.shape[0])
    check_optimizer_state(net, opt)  # an optimizer object may hold another network's state
    return Run(net, opt, rng, X, Y, validation_data, int(epochs), int(mini_batch_size))


def _optimizer(spec: str | Optimizer, hyper: dict[str, Any], n: int) -> Optimizer:
    """The optimizer by name, with the hyper-parameters given; or the object ``spec`` (with
    ``n`` set), which must not be contradicted by any given hyper-parameter."""
    given = {key: value for key, value in hyper.items() if value is not None}
    if not isinstance(spec, Optimizer):
        return get_optimizer(spec, **{**_NAMED_DEFAULTS, **given}, n=n)
    name = type(spec).__name__
    for key, value in given.items():
        if not hasattr(spec, key):
            raise ValueError(
                f"{key}={value!r} was given with an optimizer object ({name}), which has no "
                f"{key}; set the optimizer's hyper-parameters on the object only"
            )
        if getattr(spec, key) != value:
            raise ValueError(
                f"{key}={value!r} contradicts the optimizer's own {key}={getattr(spec, key)!r} "
                f"({name}); the optimizer holds its hyper-parameters: give {key} in one place"
            )
    spec.n = n  # the n of λ/n: the size of the training set
    return spec


def make_callbacks(
    run: Run,
    callbacks: Sequence[Any],
    patience: int | None,
    checkpoint: Any,
    resume: Any,
    tracks: tuple[bool | int, int | None, bool],
    schedule: Any,
) -> list[Callback]:
    """fit's callbacks: the one place where each of fit's shorthands becomes its callback.

    ========================================  ==============================================
    fit's shorthand                           callback
    ========================================  ==============================================
    (always)                                  :class:`~nnmath.callbacks.DivergenceCheck`
    ``schedule=s``                            :class:`~nnmath.callbacks.LearningRateScheduler`
    ``track_gradients=k``, ``track_every=k``  :class:`~nnmath.callbacks.GradientTracker`
    ``track_histograms=True``                 :class:`~nnmath.callbacks.Histograms`
    ``patience=p``                            :class:`~nnmath.callbacks.EarlyStopping`
    ``checkpoint=path``, ``resume=path``      :class:`~nnmath.callbacks.Checkpoint`
    ========================================  ==============================================

    Returns
    -------
    list of Callback
        In the order they are called, each given the run: the schedule and the divergence
        check, the caller's ``callbacks``, then the other shorthands' (the checkpoint last, so
        that it records what the others added to the history).
    """
    first: list[Callback] = [DivergenceCheck()]
    if schedule is not None:
        first.insert(0, LearningRateScheduler(schedule))
    last: list[Any] = []
    track_gradients, track_every, track_histograms = tracks
    if track_gradients:
        every = track_every if isinstance(track_gradients, bool) else int(track_gradients)
        last.append(GradientTracker(run.X, run.Y, every=every))
    if track_histograms:
        last.append(Histograms())
    if patience is not None:
        last.append(EarlyStopping(patience))
    if checkpoint is not None or isinstance(resume, str | os.PathLike):
        last.append(Checkpoint(checkpoint if checkpoint is not None else resume))
    every_callback = [*first, *(as_callback(c) for c in [*callbacks, *last])]
    for callback in every_callback:
        callback.set_run(run)
    return every_callback


def resume_run(run: Run, callbacks: list[Callback], checkpoint: Any, resume: Any) -> None:
    """Restore the run from ``resume`` (a path), or from the checkpoint it saves to."""
    from ..checkpoint import restore

    if not resume:
        return
    path = checkpoint if resume is True else resume
    if path is None:  # a Checkpoint among the callbacks names the file
        path = next((c.path for c in callbacks if isinstance(c, Checkpoint)), None)
    if path is None:
        raise ValueError("resume=True needs checkpoint=PATH (or pass resume=PATH)")
    scheduled = any(isinstance(c, LearningRateScheduler) for c in callbacks)
    settings = {
        "mini_batch_size": run.mini_batch_size,
        "epochs": run.epochs,
        "validation": run.validation_data is not None,
    }
    settings["eta"] = None if scheduled else run.optimizer.eta  # a schedule: the file's base η
    state = restore(path, run.net, run.optimizer, run.rng, run.history, **settings)
    run.start_epoch, run.best_params = state.start_epoch, state.best_params
    if state.base_eta is not None:
        run.base_eta = state.base_eta
    if run.history.stopped_early:  # the run had already stopped: nothing to do
        run.stop_training = True
    run.resumed_from = str(path)


#: what each of fit's training paths (``history.extra["train_path"]``) is called in words
_PATH_WORDS = {
    "c": "the compiled epoch",
    "parts": "the reference loop in two parts per mini-batch",
    "reference": "the reference loop",
}


def warn_not_bit_identical(run: Run, runner: Any, reason: str | None) -> None:
    """Warn when a resumed run trains on another path than the checkpoint's run did, or
    shares each mini-batch between another number of threads, or cuts its products into
    another number of parts: its sums then add up in another order.

    Called once fit has chosen its ``runner`` (``None``: the reference loop, for
    ``reason``), before it records the run's own path over the checkpoint's in
    ``run.history.extra``.
    """
    extra = run.history.extra
    before = (
        extra.get("train_path"),
        extra.get("train_threads"),
        extra.get("train_product_parts", 1),
    )
    now = (runner.backend, runner.threads, runner.product_parts) if runner else ("reference", 1, 1)
    if run.resumed_from is None or run.start_epoch >= run.epochs or before == now:
        return
    if before[0] not in _PATH_WORDS or not isinstance(before[1], int):
        return  # a checkpoint from before fit recorded its path
    name = repr(run.resumed_from)
    if before[0] != now[0]:
        why = reason if now[0] == "reference" else None
        change = (
            f"{name} was trained on {_PATH_WORDS[before[0]]}, this run trains on "
            f"{_PATH_WORDS[now[0]]}" + (f" ({why})" if why else "")
        )
        remedy = " (fit with fast=False to match it)" if before[0] == "reference" else ""
    else:
        change = (
            f"{name} was trained on {_threads_words(*before[1:])}, this run uses "
            f"{_threads_words(*now[1:])}"
        )
        remedy = f" (set OPENBLAS_NUM_THREADS={max(before[1:])} to match it)"
    warnings.warn(
        f"{change}: the resumed run will not be bit-identical to an uninterrupted one{remedy}",
        RuntimeWarning,
        stacklevel=6,
    )


def _threads_words(threads: int, parts: int) -> str:
    """'2 threads per mini-batch', or '1 thread per mini-batch, its products in 2 parts'."""
    words = f"{plural(threads, 'thread')} per mini-batch"
    return words if parts == 1 else f"{words}, its products in {parts} parts"
