"""The mini-batch training loop: shuffle, backprop, step, measure, call the callbacks.

:func:`fit` is a short loop; what happens around it (early stopping, checkpoints, learning-rate
schedules, divergence checks, gradient tracking, progress bars) lives in callbacks
(:mod:`nnmath.callbacks`), which fit's keyword arguments build (``make_callbacks`` maps each
shorthand to its callback). Training prints nothing; it returns a :class:`History`.
``Network.fit`` is this same function: ``net.fit(X, Y, ...)`` is ``fit(net, X, Y, ...)``.

The package holds one job a module: :mod:`._setup` (the checked run, the optimizer, the
callbacks, resuming) and :mod:`._loop` (the epochs); the compiled epoch and the per-epoch
evaluation shared between threads are :mod:`nnmath.engine`'s.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._fit_checks import training
from ..callbacks import Callback, History, TrainingDiverged
from ..optim import Optimizer
from ._loop import train_epochs
from ._setup import make_callbacks, new_run, resume_run

__all__ = ["History", "TrainingDiverged", "fit"]


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
    track_histograms: bool = False,
    fast: bool | str = True,
    epsilon: float | None = None,
    schedule: Any = None,
    monitor: str = "batch",
    **optimizer_options: Any,
) -> History:
    """Train ``net`` by mini-batch gradient descent (Nielsen, chapter 1); prints nothing.

    Parameters
    ----------
    net, X, Y : Network; arrays (n, sizes[0]) and (n, sizes[-1]), or labels (n,) for ``Y``
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
    validation_data : (Xv, Yv), optional (measured after every epoch; best: history.best_epoch)
    seed, rng : the shuffling generator (``rng``, or seeded by ``seed``; else ``net.rng``)
    patience : int, optional
        :class:`~nnmath.callbacks.EarlyStopping` on validation accuracy (cost for one output).
    monitor_training_accuracy : bool (also record the training accuracy every epoch)
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
    track_histograms : bool (:class:`~nnmath.callbacks.Histograms`: z, a, δ, ‖Δw^l‖/‖w^l‖)
    fast : bool or str
        The compiled epoch (:mod:`nnmath.engine`), else halves of each mini-batch of layers on
        two threads; ``False``: the reference loop (``history.extra["train_path"]`` says which).

    Returns
    -------
    History
        Raises :class:`TrainingDiverged` on a NaN or infinite cost; RuntimeError in a second fit.
    """
    hyper = dict(eta=eta, lmbda=lmbda, momentum=momentum, nesterov=nesterov, beta1=beta1)
    hyper.update(beta2=beta2, epsilon=epsilon, **optimizer_options)  # the optimizer holds them
    run = new_run(net, X, Y, epochs, mini_batch_size, validation_data, seed, rng, optimizer, hyper)
    shorthands = (patience, checkpoint, resume, (track_gradients, track_every, track_histograms))
    with training(net):  # one fit of a network at a time: a second one is refused
        callbacks = make_callbacks(run, callbacks, *shorthands, schedule)  # shorthands' callbacks
        resume_run(run, callbacks, checkpoint, resume)
        return train_epochs(run, callbacks, fast, (monitor, monitor_training_accuracy))
