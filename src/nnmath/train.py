"""The mini-batch training loop: shuffle, backprop, step, measure, call the callbacks.

:func:`fit` is a short loop; what happens around it (early stopping, checkpoints, learning-rate
schedules, divergence checks, gradient tracking, progress bars) lives in callbacks
(:mod:`nnmath.callbacks`), which fit's keyword arguments build. Training prints nothing; it
returns a :class:`History`.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._fit_checks import check_network, check_optimizer_state, training
from .backend import get_namespace
from .callbacks import (
    Callback,
    Checkpoint,
    DivergenceCheck,
    EarlyStopping,
    GradientTracker,
    History,
    LearningRateScheduler,
    Run,
    TrainingDiverged,
    as_callback,
    wants_batches,
)
from .optim import Optimizer, get_optimizer

__all__ = ["History", "TrainingDiverged", "fit"]

#: the hyper-parameters fit takes by name and hands to the optimizer
_HYPER = ("eta", "lmbda", "momentum", "nesterov", "beta1", "beta2", "epsilon")
#: λ of an optimizer given by name when fit is not told (η and the others: its own defaults,
#: ``default_eta`` on its registry entry: 3.0 for SGD, 1e-3 for Adam and RMSprop)
_NAMED_DEFAULTS = {"lmbda": 0.0}
#: what fit's ``monitor=`` may be: the training cost from the epoch's mini-batches, or the set
MONITORS = ("batch", "full")


def _chunk_scores(net: Any, X: Any, Y: Any, labels: Any, chunks: Any, errors: dict) -> list:
    with np.errstate(**errors):
        return net._chunk_scores(X, Y, labels, chunks)


class _Evaluation:
    """fit's per-epoch cost and accuracy over a whole data set: the numbers
    :meth:`Network.cost` and :meth:`Network.accuracy` give, from one forward pass.

    On NumPy's OpenBLAS the chunks of :data:`nnmath.network.EVAL_ROWS` rows are shared
    between as many Python threads as that BLAS may use (NumPy lets go of the GIL in its
    products and element-wise loops), each calling BLAS on one thread, and their costs are
    added in chunk order, as :meth:`Network.cost` adds them. The inputs were checked by
    ``fit``, so they are not checked again each epoch. A subclassed ``Network`` is evaluated
    through its own ``cost`` and ``accuracy``.
    """

    def __init__(self, net: Any, stack: contextlib.ExitStack) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from ._blas import blas_threads, thread_budget
        from .network import Network

        self.net, self.threads = net, 1
        self.own_methods = type(net) is Network
        self.pool = None
        self.blas = blas_threads() if net.backend.name == "numpy" else None
        if self.blas is not None and self.own_methods:
            self.threads = thread_budget(self.blas)
        if self.threads > 1:
            self.pool = stack.enter_context(
                ThreadPoolExecutor(self.threads, thread_name_prefix="nnmath-eval")
            )

    def labels(self, Y: Any) -> Any:
        """The class of each one-hot row of ``Y`` (classifiers), on the backend."""
        return get_namespace(Y).argmax(Y, axis=1)

    def __call__(self, X: Any, Y: Any, labels: Any = None) -> tuple[float, float | None]:
        """The mean cost over the rows and, when ``labels`` is given, the accuracy."""
        net = self.net
        if not self.own_methods:  # fit asks a subclass for its accuracy itself (no labels)
            return net.cost(X, Y), None
        from .network import EVAL_ROWS

        n = X.shape[0]
        n_chunks = -(-n // EVAL_ROWS)
        if self.pool is None or n_chunks < 2:
            scores = net._chunk_scores(X, Y, labels, range(n_chunks))
        else:
            T = min(self.threads, n_chunks)
            parts = [range(t, n_chunks, T) for t in range(T)]  # every T-th chunk
            from ._blas import one_blas_thread

            with one_blas_thread(self.blas):  # T threads, one BLAS thread each (counted hold)
                errors = np.geterr()  # NumPy's error state is per thread: the workers get ours
                done = [
                    f.result()
                    for f in [
                        self.pool.submit(_chunk_scores, net, X, Y, labels, part, errors)
                        for part in parts
                    ]
                ]
            scores = [done[c % T][c // T] for c in range(n_chunks)]
        total = 0.0
        for chunk_cost, _ in scores:
            total += chunk_cost
        accuracy = None if labels is None else sum(h for _, h in scores) / n
        return total / n, accuracy


def fit(
    net: Any,
    X: Any,
    Y: Any,
    epochs: int = 30,
    mini_batch_size: int = 10,
    eta: float | None = None,
    lmbda: float | None = None,
    optimizer: str | Optimizer = "sgd",
    momentum: float | None = None,
    nesterov: bool | None = None,
    beta1: float | None = None,
    beta2: float | None = None,
    validation_data: tuple[Any, Any] | None = None,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    patience: int | None = None,
    monitor_training_accuracy: bool = False,
    callbacks: Sequence[Callback | Callable[..., Any]] = (),
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool | str | os.PathLike[str] = False,
    track_gradients: bool | int = False,
    track_every: int | None = None,
    fast: bool | str = True,
    epsilon: float | None = None,
    schedule: Any = None,
    monitor: str = "batch",
    **optimizer_options: Any,
) -> History:
    """Train ``net`` by mini-batch gradient descent (Nielsen, chapter 1); prints nothing.

    Parameters
    ----------
    net : Network
    X, Y : arrays (n, sizes[0]) and (n, sizes[-1]), or integer labels (n,) for ``Y``
    epochs, mini_batch_size : int
        Total epochs (a resumed run counts those done) and rows per mini-batch.
    optimizer : str or Optimizer
        A name in :data:`nnmath.optim.OPTIMIZERS`, or an optimizer object: it holds η and the
        other hyper-parameters, and fit sets its ``n`` (the n of λ/n) to ``len(X)``.
    eta, lmbda, momentum, nesterov, beta1, beta2, epsilon, **optimizer_options
        Hyper-parameters of an optimizer given by name (λ = 0 when not given; η and the
        others the optimizer's own defaults: η = 3.0 for SGD, 1e-3 for Adam and RMSprop).
        With an object they may only repeat its values.
    schedule : str or Schedule, optional
        Learning-rate schedule from the optimizer's η, set per epoch (:mod:`nnmath.schedules`).
    validation_data : (Xv, Yv), optional
        Measured after every epoch; the best epoch goes to ``history.best_epoch``.
    seed, rng : the shuffling generator (``rng``, or seeded by ``seed``; else ``net.rng``)
    patience : int, optional
        :class:`~nnmath.callbacks.EarlyStopping` on validation accuracy (cost for one output).
    monitor_training_accuracy : bool
        Also record the training accuracy every epoch.
    monitor : {"batch", "full"}
        Training cost and accuracy: the mean over the epoch's mini-batches' forward passes (as
        Keras reports it), or the whole set after the epoch (the book's); in ``extra``.
    callbacks : sequence of Callback, or callables ``f(net, history, epoch)``
    checkpoint, resume : path-like, optional; bool or path-like
        Save the run after every epoch (:class:`~nnmath.callbacks.Checkpoint`); continue it
        (``resume=True``, or from the file ``resume``) bit for bit as if never interrupted.
    track_gradients, track_every : bool or int, int
        :class:`~nnmath.callbacks.GradientTracker` on 1,000 rows after every epoch, or every
        ``k`` mini-batches (``track_gradients=k``, or ``True`` and ``track_every=k``).
    fast : bool or str
        The compiled epoch (:mod:`nnmath.fast`) when it supports the run; ``False``: the
        reference loop (``history.extra["train_path"]``, ``["fallback_reason"]``).

    Returns
    -------
    History
        Raises :class:`TrainingDiverged` on a NaN or infinite cost; RuntimeError in a second fit.
    """
    hyper = dict(zip(_HYPER, (eta, lmbda, momentum, nesterov, beta1, beta2, epsilon)))
    hyper.update(optimizer_options)
    run = _new_run(net, X, Y, epochs, mini_batch_size, validation_data, seed, rng, optimizer, hyper)
    shorthands = (patience, checkpoint, resume, track_gradients, track_every, schedule)
    with training(net):  # one fit of a network at a time: a second one is refused
        callbacks = _callbacks(run, callbacks, *shorthands)
        _resume(run, callbacks, checkpoint, resume)
        return _train(run, callbacks, fast, (monitor, monitor_training_accuracy))


def _new_run(
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
    X = net._inputs(X)  # on the network's device from here on: moved once, not per batch
    Y = net._targets(Y, X.shape[0])
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs}")
    if int(mini_batch_size) != mini_batch_size or mini_batch_size < 1:
        raise ValueError(f"mini_batch_size must be a positive integer, got {mini_batch_size}")
    if validation_data is not None:
        Xv = net._inputs(validation_data[0])
        validation_data = (Xv, net._targets(validation_data[1], Xv.shape[0]))
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


def _callbacks(
    run: Run,
    callbacks: Sequence[Any],
    patience: int | None,
    checkpoint: Any,
    resume: Any,
    track_gradients: bool | int,
    track_every: int | None,
    schedule: Any,
) -> list[Callback]:
    """fit's callbacks, in the order they are called: the schedule and the divergence check,
    the caller's, then those of fit's shorthands (the checkpoint last, so that it records
    what the others added to the history); each is given the run."""
    first: list[Callback] = [DivergenceCheck()]
    if schedule is not None:
        first.insert(0, LearningRateScheduler(schedule))
    last: list[Any] = []
    if track_gradients:
        every = track_every if isinstance(track_gradients, bool) else int(track_gradients)
        last.append(GradientTracker(run.X, run.Y, every=every))
    if patience is not None:
        last.append(EarlyStopping(patience))
    if checkpoint is not None or isinstance(resume, str | os.PathLike):
        last.append(Checkpoint(checkpoint if checkpoint is not None else resume))
    every_callback = [*first, *(as_callback(c) for c in [*callbacks, *last])]
    for callback in every_callback:
        callback.set_run(run)
    return every_callback


def _resume(run: Run, callbacks: list[Callback], checkpoint: Any, resume: Any) -> None:
    """Restore the run from ``resume`` (a path), or from the checkpoint it saves to."""
    from .checkpoint import restore

    if not resume:
        return
    path = checkpoint if resume is True else resume
    if path is None:  # a Checkpoint among the callbacks names the file
        path = next((c.path for c in callbacks if isinstance(c, Checkpoint)), None)
    if path is None:
        raise ValueError("resume=True needs checkpoint=PATH (or pass resume=PATH)")
    scheduled = any(isinstance(c, LearningRateScheduler) for c in callbacks)
    settings = {"mini_batch_size": run.mini_batch_size, "epochs": run.epochs,
                "validation": run.validation_data is not None}  # fmt: skip
    settings["eta"] = None if scheduled else run.optimizer.eta  # a schedule: the file's base η
    state = restore(path, run.net, run.optimizer, run.rng, run.history, **settings)
    run.start_epoch, run.best_params = state.start_epoch, state.best_params
    if state.base_eta is not None:
        run.base_eta = state.base_eta
    if run.history.stopped_early:  # the run had already stopped: nothing to do
        run.stop_training = True
    _warn_other_threads(path, run)


def _warn_other_threads(path: Any, run: Run) -> None:
    """Warn when the compiled epoch will share each mini-batch between another number of
    threads than the checkpoint's run did: the sums of δ aᵀ then add up in another order."""
    from .fast import c_available, default_threads

    extra = run.history.extra
    before = extra.get("train_threads")
    if extra.get("train_path") != "c" or not c_available() or not isinstance(before, int):
        return
    now = default_threads(min(run.mini_batch_size, run.X.shape[0]))  # the epoch's rows
    if now != before and run.start_epoch < run.epochs:
        warnings.warn(
            f"{str(path)!r} was trained on {before} thread(s) per mini-batch, this run uses "
            f"{now}: the resumed run will not be bit-identical to an uninterrupted one (set "
            f"OPENBLAS_NUM_THREADS={before} to match it)",
            RuntimeWarning,
            stacklevel=4,
        )


def _hook(callbacks: list[Callback], name: str, *args: Any) -> None:
    for callback in callbacks:
        getattr(callback, name)(*args)


def _train(
    run: Run, callbacks: list[Callback], fast: bool | str, monitoring: tuple[str, bool]
) -> History:
    """The loop: every epoch from ``run.start_epoch`` until ``run.epochs`` or a stop."""
    net, history = run.net, run.history
    try:
        _hook(callbacks, "on_train_begin", net, history)
        if run.optimizer.state and get_namespace(run.X) is not np:
            run.optimizer.to(net.backend)  # e.g. a resumed optimizer's NumPy state
        # the threaded C epoch runs BLAS on one thread; holding it there between epochs too
        # keeps OpenBLAS's own workers, which spin for a while after each call, off the cores
        with contextlib.ExitStack() as stack:
            epochs = _Epochs(run, callbacks, fast, monitoring, stack)
            for epoch in range(run.start_epoch, run.epochs):
                if run.stop_training:
                    break
                _hook(callbacks, "on_epoch_begin", net, history, epoch)
                epochs.train(epoch)
                epochs.measure(epoch)
                _hook(callbacks, "on_epoch_end", net, history, epoch)
    except BaseException as exc:
        _hook(callbacks, "on_exception", net, history, exc)
        raise
    _hook(callbacks, "on_train_end", net, history)
    return history


class _Epochs:
    """One run's epochs: the compiled epoch (:mod:`nnmath.fast`) or the reference loop, and
    the measurements after each (:class:`_Evaluation`)."""

    def __init__(
        self,
        run: Run,
        callbacks: list[Callback],
        fast: bool | str,
        monitoring: tuple[str, bool],
        stack: contextlib.ExitStack,
    ) -> None:
        monitor, self.training_accuracy = monitoring
        if monitor not in MONITORS:
            raise ValueError(
                f"monitor must be one of {', '.join(map(repr, MONITORS))}, got {monitor!r}"
            )
        self.run, self.scores = run, None
        self.batch_callbacks = [c for c in callbacks if wants_batches(c)]
        self.runner, reason = self._runner(fast)
        extra = run.history.extra
        extra["train_path"] = self.runner.backend if self.runner is not None else "reference"
        extra["train_threads"] = 1
        extra.pop("fallback_reason", None)
        if reason is not None:
            extra["fallback_reason"] = reason
        self.evaluate = _Evaluation(run.net, stack)  # before BLAS is held on one thread
        # a subclassed Network is asked for its own cost: the whole set, after the epoch
        self.monitor = monitor if self.evaluate.own_methods else "full"
        extra["monitor"] = self.monitor
        if self.runner is not None:
            stack.enter_context(self.runner.blas_on_one_thread())
        want = run.net.n_outputs > 1 and self.evaluate.own_methods
        full = self.monitor == "full" and self.training_accuracy
        self.labels = self.evaluate.labels(run.Y) if want and full else None
        valid = run.validation_data
        self.labels_v = self.evaluate.labels(valid[1]) if want and valid is not None else None

    def _runner(self, fast: bool | str) -> tuple[Any, str | None]:
        """The compiled epoch's runner, or ``None`` and why not."""
        run = self.run
        if not fast:
            return None, "fast=False"
        if self.batch_callbacks:
            names = ", ".join(type(getattr(c, "fn", c)).__name__ for c in self.batch_callbacks)
            return None, f"callbacks with on_batch_end need the reference loop ({names})"
        from .fast import epoch_runner, unsupported_reason

        args = (run.net, run.optimizer, run.X, run.Y)
        runner = epoch_runner(*args, run.mini_batch_size, "auto" if fast is True else fast)
        if runner is None:
            return None, unsupported_reason(*args) or "the fast path does not support this run"
        return runner, None

    def train(self, epoch: int) -> None:
        """Shuffle and train one epoch; record its η and its time."""
        run, net = self.run, self.run.net
        history = run.history
        history.extra.setdefault("eta", []).append(run.optimizer.eta)
        t0 = time.perf_counter()
        perm = run.rng.permutation(run.X.shape[0])  # on the host: the same order on every backend
        key = int(run.rng.integers(2**63)) if any(getattr(net, "dropout", ())) else None
        if get_namespace(run.X) is not np:
            perm = net.backend.asarray(perm)  # one small copy per epoch
        # overflow shows up as a non-finite cost, reported by DivergenceCheck with a remedy
        with np.errstate(over="ignore", invalid="ignore"):
            if self.runner is None:
                self.scores = self._reference_epoch(epoch, perm, key)
            else:  # nnmath.fast: the same mini-batches in reused buffers
                kw = {} if key is None else {"dropout_key": key}
                self.scores = self.runner.run_epoch(perm, score=self.monitor == "batch", **kw)
                history.extra["train_threads"] = self.runner.threads_run
            net.backend.synchronize()  # GPU work is queued: wait before reading the clock
        history.epoch_time.append(time.perf_counter() - t0)

    def _reference_epoch(self, epoch: int, perm: Any, key: int | None) -> tuple | None:
        """The lecture's loop: backprop each mini-batch ``perm[k:k+B]``, then step; with
        ``monitor="batch"``, also ``Σ_x C_x`` and the hits of the mini-batches' a^L."""
        run = self.run
        net, opt, X, Y, B = run.net, run.optimizer, run.X, run.Y, run.mini_batch_size
        xp = get_namespace(X)
        n = X.shape[0]
        n_batches = -(-n // B)
        score, total, hits = self.monitor == "batch", 0.0, 0
        for k in range(0, n, B):
            idx = perm[k : k + B]
            x, y = xp.take(X, idx, axis=0).T, xp.take(Y, idx, axis=0).T
            if key is None:
                grads = net.backprop_columns(x, y)
            else:  # dropout: the masks of rows k.. of this epoch, from the epoch's key
                grads = net.backprop_columns(x, y, masks=net.dropout_masks(key, k, x.shape[1]))
            if score:  # device scalars: added up on the device, read once after the epoch
                a = grads.activations[-1]
                total = total + xp.sum(net.cost_function.fn(a, y))
                hits = hits + xp.sum(xp.argmax(a, axis=0) == xp.argmax(y, axis=0))
            opt.step(net, grads)
            for callback in self.batch_callbacks:
                callback.on_batch_end(net, run.history, epoch, k // B, n_batches)
        return (float(total), int(hits)) if score else None

    def measure(self, epoch: int) -> None:
        """The epoch's training cost (and accuracy), validation cost and accuracy, best epoch."""
        run, net = self.run, self.run.net
        history = run.history
        if self.scores is not None:  # monitor="batch": what the epoch's forward passes gave
            n = run.X.shape[0]
            cost, hits = self.scores
            cost, accuracy = cost / n, (hits / n if net.n_outputs > 1 else None)
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                cost, accuracy = self.evaluate(run.X, run.Y, self.labels)
        history.training_cost.append(cost)
        if not math.isfinite(cost):
            return  # nothing more to measure: DivergenceCheck ends the run
        if self.training_accuracy:
            if accuracy is None:
                accuracy = net.accuracy(run.X, run.Y)
            history.training_accuracy.append(accuracy)
        if run.validation_data is not None:
            self._validate(epoch)

    def _validate(self, epoch: int) -> None:
        run, net = self.run, self.run.net
        history, (Xv, Yv) = run.history, run.validation_data
        vcost, vaccuracy = self.evaluate(Xv, Yv, self.labels_v)
        history.validation_cost.append(vcost)
        classify = net.n_outputs > 1
        if classify:
            if vaccuracy is None:
                vaccuracy = net.accuracy(Xv, Yv)
            history.validation_accuracy.append(vaccuracy)
        score = history.validation_accuracy[-1] if classify else -vcost
        if score > _score(history, history.best_epoch):
            history.best_epoch, run.best_params = epoch, net.copy_parameters()


def _score(history: History, epoch: int | None) -> float:
    """The validation score of ``epoch``: accuracy, or −cost for one output; −∞ for none."""
    if epoch is None:
        return -math.inf
    if history.validation_accuracy:
        return history.validation_accuracy[epoch]
    return -history.validation_cost[epoch]
