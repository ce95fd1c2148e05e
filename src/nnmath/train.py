"""The mini-batch training loop: shuffle, backprop, step; monitoring and early stopping.

Training prints nothing. It returns a :class:`History`; progress bars and tables are drawn by
callers (the command line) through ``callbacks``.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .backend import get_namespace
from .optim import Optimizer, get_optimizer

__all__ = ["History", "TrainingDiverged", "fit"]

Callback = Callable[[Any, "History", int], None]


@dataclass
class History:
    """Per-epoch record of a training run (plain Python numbers).

    Attributes
    ----------
    training_cost : list of float
        Mean cost over the training set after each epoch.
    validation_cost, validation_accuracy : list of float
        The same on ``validation_data`` (empty when none was given).
    training_accuracy : list of float
        Filled when ``monitor_training_accuracy=True``.
    epoch_time : list of float
        Wall-clock seconds of each epoch's training (without the evaluations).
    best_epoch : int or None
        Epoch (0-based) with the best validation score, when validation data was given.
    stopped_early : bool
        Whether early stopping ended the run.
    extra : dict
        Room for measurements added by callbacks (e.g. gradient norms per layer).
    """

    training_cost: list[float] = field(default_factory=list)
    validation_cost: list[float] = field(default_factory=list)
    validation_accuracy: list[float] = field(default_factory=list)
    training_accuracy: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.training_cost)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TrainingDiverged(ValueError):
    """The cost became NaN or infinite; the network keeps its last finite weights."""

    def __init__(self, message: str, history: History) -> None:
        super().__init__(message)
        self.history = history


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
            blas_before = self.blas.get()
            self.blas.set(1)  # T threads, one BLAS thread each
            try:
                errors = np.geterr()  # NumPy's error state is per thread: the workers get ours
                done = [
                    f.result()
                    for f in [
                        self.pool.submit(_chunk_scores, net, X, Y, labels, part, errors)
                        for part in parts
                    ]
                ]
            finally:
                self.blas.set(blas_before)
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
    eta: float = 3.0,
    lmbda: float = 0.0,
    optimizer: str | Optimizer = "sgd",
    momentum: float = 0.0,
    nesterov: bool = False,
    beta1: float = 0.9,
    beta2: float = 0.999,
    validation_data: tuple[Any, Any] | None = None,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    patience: int | None = None,
    monitor_training_accuracy: bool = False,
    callbacks: Sequence[Callback] = (),
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool | str | os.PathLike[str] = False,
    track_gradients: bool | int = False,
    track_every: int | None = None,
    fast: bool | str = True,
) -> History:
    """Train ``net`` by mini-batch gradient descent.

    Each epoch shuffles the rows with ``rng``, cuts them into mini-batches of
    ``mini_batch_size``, and for each computes the gradient of the mean cost by
    backpropagation and lets the optimizer step.

    Parameters
    ----------
    net : Network
    X : array-like, shape (n, sizes[0])
    Y : array-like, shape (n, sizes[-1]) or integer labels (n,)
    epochs, mini_batch_size : int
    eta : float
        Learning rate η.
    lmbda : float
        L2 regularisation λ, Nielsen's form: weight decay ``1 − ηλ/n`` with n = len(X).
    optimizer : {"sgd", "adam"} or Optimizer
    momentum, nesterov : SGD momentum μ and Nesterov's look-ahead.
    beta1, beta2 : Adam's moment decay rates.
    validation_data : (Xv, yv), optional
        Evaluated after every epoch (cost and accuracy).
    seed : int, optional
        Seed of the shuffling generator (ignored when ``rng`` is given). Without either, the
        network's own generator (``net.rng``, seeded by ``Network(seed=...)``, which drew the
        initial weights) shuffles, so ``Network(seed=0).fit(X, y)`` is reproducible.
    patience : int, optional
        Early stopping: stop after ``patience`` epochs without a better validation accuracy
        (validation cost for a single-output network), then restore the best weights.
    monitor_training_accuracy : bool
        Also record the training accuracy every epoch.
    callbacks : sequence of callables ``f(net, history, epoch)``
        Called after every epoch (progress bars, gradient tracking, checkpoints). A callback
        may also have ``on_train_begin(net, history)`` (called once before the first epoch)
        and ``on_batch_end(net, history, epoch, batch, n_batches)`` (after every step).
    checkpoint : path-like, optional
        Save a checkpoint (weights, optimizer state, generator state, history) to this
        safetensors file after every epoch, atomically (:mod:`nnmath.checkpoint`).
    resume : bool or path-like
        Continue from ``checkpoint`` (``True``), or from the given file (and keep saving to
        it): ``epochs`` is the total, counting the epochs already done, and the run ends
        bit-identical to one that was never interrupted.
    track_gradients : bool or int
        Record the speed of learning ‖∂C/∂b^l‖ (and ‖∂C/∂w^l‖) of every layer into
        ``history.extra["gradient_norms"]``, measured on the first 1,000 rows of ``X``: before
        training, then after every epoch (``True``) or every ``k`` mini-batches (an int ``k``).
        See :class:`nnmath.diagnostics.GradientTracker`.
    track_every : int, optional
        With ``track_gradients=True``: record every ``track_every`` mini-batches.
    fast : bool or {"c", "numba", "numpy"}
        Train through :mod:`nnmath.fast` (preallocated buffers, a compiled epoch) when it
        supports this network, optimizer and data; it computes the same numbers as the loop
        below. ``False`` forces the reference loop; ``"c"`` / ``"numba"`` / ``"numpy"`` pick
        the fast backend. ``history.extra["train_path"]`` says which path ran and
        ``history.extra["train_threads"]`` on how many threads (see
        :func:`nnmath.fast.epoch_runner`). Callbacks with
        ``on_batch_end`` (per-mini-batch tracking) need the reference loop.

    Returns
    -------
    History

    Raises
    ------
    TrainingDiverged
        When the training cost becomes NaN or infinite; the network is left with the
        weights of the last finite epoch.
    """
    X = net._inputs(X)  # on the network's device from here on: moved once, not per batch
    Y = net._targets(Y, X.shape[0])
    n = X.shape[0]
    xp = get_namespace(X)
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs}")
    if int(mini_batch_size) != mini_batch_size or mini_batch_size < 1:
        raise ValueError(f"mini_batch_size must be a positive integer, got {mini_batch_size}")
    if patience is not None and validation_data is None:
        raise ValueError("early stopping (patience) needs validation_data")
    if validation_data is not None:
        Xv = net._inputs(validation_data[0])
        Yv = net._targets(validation_data[1], Xv.shape[0])
    if rng is None:  # a seeded network shuffles reproducibly without a seed here too
        rng = np.random.default_rng(seed) if seed is not None else net.rng
    opt = get_optimizer(
        optimizer,
        eta=eta,
        lmbda=lmbda,
        n=n,
        momentum=momentum,
        nesterov=nesterov,
        beta1=beta1,
        beta2=beta2,
    )
    B = int(mini_batch_size)
    history = History()
    callbacks = list(callbacks)
    if track_gradients:
        from .diagnostics import GradientTracker

        every = track_every
        if not isinstance(track_gradients, bool):
            every = int(track_gradients)
        callbacks.append(GradientTracker(X, Y, every=every))
    best_score, best_params, since_best = -math.inf, None, 0
    classify = net.n_outputs > 1
    start = 0
    if checkpoint is not None or resume:  # save after each epoch / continue a saved run
        from .checkpoint import setup

        callbacks, (start, best_score, best_params, since_best) = setup(
            net, opt, rng, history, epochs, patience, callbacks, checkpoint, resume
        )
    batch_callbacks = [c.on_batch_end for c in callbacks if hasattr(c, "on_batch_end")]
    n_batches = -(-n // B)
    for callback in callbacks:
        if hasattr(callback, "on_train_begin"):
            callback.on_train_begin(net, history)
    if opt.state and xp is not np:  # e.g. a resumed optimizer's NumPy state
        opt.to(net.backend)
    runner = None
    if fast and not batch_callbacks:
        from .fast import epoch_runner

        runner = epoch_runner(net, opt, X, Y, B, backend="auto" if fast is True else fast)
    history.extra["train_path"] = runner.backend if runner is not None else "reference"
    history.extra["train_threads"] = 1

    # the threaded C epoch runs BLAS on one thread; holding it there between epochs too keeps
    # OpenBLAS's own workers, which spin for a while after each call, off the cores
    with contextlib.ExitStack() as stack:
        evaluate = _Evaluation(net, stack)  # before BLAS is held on one thread: it asks BLAS
        if runner is not None:
            stack.enter_context(runner.blas_on_one_thread())
        want_labels = classify and evaluate.own_methods
        labels = evaluate.labels(Y) if want_labels and monitor_training_accuracy else None
        labels_v = evaluate.labels(Yv) if want_labels and validation_data is not None else None
        for epoch in range(start, int(epochs)):
            last_finite = net.copy_parameters()
            t0 = time.perf_counter()
            perm = rng.permutation(n)  # shuffled on the host: the same order on every backend
            if xp is not np:
                perm = net.backend.asarray(perm)  # one small copy per epoch
            # overflow shows up below as a non-finite cost, reported with the epoch and a remedy
            with np.errstate(over="ignore", invalid="ignore"):
                if runner is not None:  # nnmath.fast: the same mini-batches in reused buffers
                    runner.run_epoch(perm)
                    history.extra["train_threads"] = runner.threads_run
                else:
                    for k in range(0, n, B):
                        idx = perm[k : k + B]
                        x, y = xp.take(X, idx, axis=0).T, xp.take(Y, idx, axis=0).T
                        grads = net.backprop_columns(x, y)
                        opt.step(net, grads)
                        for on_batch_end in batch_callbacks:
                            on_batch_end(net, history, epoch, k // B, n_batches)
                net.backend.synchronize()  # GPU work is queued: wait before reading the clock
                history.epoch_time.append(time.perf_counter() - t0)
                cost, training_accuracy = evaluate(X, Y, labels)
            if not math.isfinite(cost):
                net.set_parameters(*last_finite)
                raise TrainingDiverged(
                    f"training diverged in epoch {epoch + 1}: the cost became {cost}; "
                    f"try a smaller eta (now {eta}); the network keeps the weights of the last "
                    "finite epoch",
                    history,
                )
            history.training_cost.append(cost)
            if monitor_training_accuracy:
                if training_accuracy is None:
                    training_accuracy = net.accuracy(X, Y)
                history.training_accuracy.append(training_accuracy)
            if validation_data is not None:
                vcost, vaccuracy = evaluate(Xv, Yv, labels_v)
                history.validation_cost.append(vcost)
                if classify:
                    if vaccuracy is None:
                        vaccuracy = net.accuracy(Xv, Yv)
                    history.validation_accuracy.append(vaccuracy)
                score = history.validation_accuracy[-1] if classify else -vcost
                if score > best_score:
                    best_score, history.best_epoch, since_best = score, epoch, 0
                    if patience is not None:
                        best_params = net.copy_parameters()
                else:
                    since_best += 1
            for callback in callbacks:
                callback(net, history, epoch)
            if patience is not None and since_best >= patience:
                history.stopped_early = True
                break

    if best_params is not None:  # early stopping keeps the best epoch's weights
        net.set_parameters(*best_params)
    return history
