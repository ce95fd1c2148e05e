"""Training callbacks: what :func:`nnmath.train.fit` does around its loop, one object a job.

The loop of :func:`~nnmath.train.fit` is short: for each epoch it shuffles, trains, measures
the costs and accuracies, and calls the callbacks' hooks (in the style of Keras and
Lightning callbacks)::

    on_train_begin(net, history)                      once, before the first epoch
    on_epoch_begin(net, history, epoch)               before each epoch
    on_batch_end(net, history, epoch, batch, n_batches)   after each mini-batch's step
    on_epoch_end(net, history, epoch)                 after each epoch, once it is measured
    on_train_end(net, history)                        once, after the last epoch

plus ``set_run(run)`` (before anything else: the :class:`Run`, the state of the training
run, which holds the optimizer, the generator, the data and the ``stop_training`` flag) and
``on_exception(net, history, exc)`` (when something ends the run by raising). Early stopping,
checkpoints, learning-rate schedules, gradient tracking and progress bars are callbacks;
fit's keyword arguments (``patience=``, ``checkpoint=``, ``schedule=``, ``track_gradients=``)
build them. A callback ends the run after the current epoch with
``self.run.stop_training = True`` (Keras's ``model.stop_training``).

Plain callables ``f(net, history, epoch)`` work as callbacks too (called after every epoch),
with optional ``on_train_begin`` / ``on_batch_end`` attributes; :func:`as_callback` wraps
them. A callback with an ``on_batch_end`` of its own needs the reference loop (the compiled
epoch runs a whole epoch at once), so fit takes it.

Nothing here prints except :class:`ProgressBar`, which draws on the terminal with ``rich``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .diagnostics import GradientTracker

__all__ = [
    "Callback",
    "Checkpoint",
    "DivergenceCheck",
    "EarlyStopping",
    "GradientTracker",
    "History",
    "LearningRateScheduler",
    "ProgressBar",
    "Run",
    "TrainingDiverged",
    "as_callback",
    "wants_batches",
]


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
        Room for measurements added by callbacks (e.g. gradient norms per layer), and fit's
        own: ``eta`` (the learning rate of every epoch), ``train_path`` (``"c"`` or
        ``"reference"``), ``fallback_reason`` (why the reference loop ran),
        ``train_threads``.
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


@dataclass(eq=False, repr=False)
class Run:
    """The state of one training run, shared by :func:`~nnmath.train.fit` and its callbacks
    (each gets it through :meth:`Callback.set_run` as ``self.run``).

    Attributes
    ----------
    net : Network
    optimizer : Optimizer
        The one place that holds η (``optimizer.eta``) and the other hyper-parameters.
    rng : numpy.random.Generator
        Shuffles the mini-batches (and draws the keys of the dropout masks).
    X, Y : arrays
        The training data, on the network's device.
    validation_data : (Xv, Yv) or None
        The same for the validation data.
    epochs : int
        The total number of epochs (a resumed run counts the epochs already done).
    mini_batch_size : int
    history : History
    start_epoch : int
        The first epoch this call trains (0, or where a resumed run continues).
    base_eta : float
        The optimizer's η when the run began: what a learning-rate schedule starts from
        (kept in checkpoints, so a resumed run starts from the same one).
    best_params : (weights, biases) or None
        Copies of the weights of ``history.best_epoch`` (with validation data).
    stop_training : bool
        Set by a callback to end the run after the current epoch.
    """

    net: Any
    optimizer: Any
    rng: Any
    X: Any
    Y: Any
    validation_data: tuple[Any, Any] | None = None
    epochs: int = 0
    mini_batch_size: int = 1
    history: History = field(default_factory=History)
    start_epoch: int = 0
    base_eta: float = math.nan
    best_params: tuple[list[Any], list[Any]] | None = None
    stop_training: bool = False

    def __post_init__(self) -> None:
        if math.isnan(self.base_eta):
            self.base_eta = float(self.optimizer.eta)


class Callback:
    """Base class of training callbacks: every hook does nothing until overridden.

    ``self.run`` is the :class:`Run` (set by :meth:`set_run` before training begins).
    """

    run: Run

    def set_run(self, run: Run) -> None:
        """Called first, before the checkpoint of a resumed run is read; keeps ``run``."""
        self.run = run

    def on_train_begin(self, net: Any, history: History) -> None:
        """Before the first epoch (after a resumed run's checkpoint was read)."""

    def on_epoch_begin(self, net: Any, history: History, epoch: int) -> None:
        """Before ``epoch`` (0-based) shuffles and trains."""

    def on_batch_end(
        self, net: Any, history: History, epoch: int, batch: int, n_batches: int
    ) -> None:
        """After the optimizer's step on mini-batch ``batch`` of ``n_batches`` (reference loop
        only: a callback that overrides this makes fit take it)."""

    def on_epoch_end(self, net: Any, history: History, epoch: int) -> None:
        """After ``epoch``, once its costs and accuracies are in ``history``."""

    def on_train_end(self, net: Any, history: History) -> None:
        """After the last epoch (also when a callback stopped the run)."""

    def on_exception(self, net: Any, history: History, exc: BaseException) -> None:
        """When an exception ends the run (``on_train_end`` is not called then)."""


_HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_train_end", "on_exception")


class _Wrapped(Callback):
    """A plain callable ``f(net, history, epoch)`` (or an object with some of the hooks but
    not a :class:`Callback`) as a callback: ``f`` is its ``on_epoch_end``."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        for hook in _HOOKS:
            method = getattr(fn, hook, None)
            if callable(method):
                setattr(self, hook, method)
        end = getattr(fn, "on_epoch_end", None)
        self.on_epoch_end = end if callable(end) else fn  # type: ignore[method-assign]

    def set_run(self, run: Run) -> None:
        super().set_run(run)
        if callable(getattr(self.fn, "set_run", None)):
            self.fn.set_run(run)

    def __repr__(self) -> str:
        return f"as_callback({self.fn!r})"


def as_callback(obj: Callback | Callable[..., Any]) -> Callback:
    """``obj`` itself when it is a :class:`Callback`, else ``obj`` wrapped as one.

    Raises
    ------
    TypeError
        When ``obj`` is neither a callable nor an object with callback hooks.
    """
    if isinstance(obj, Callback):
        return obj
    if callable(obj) or any(callable(getattr(obj, h, None)) for h in (*_HOOKS, "on_epoch_end")):
        return _Wrapped(obj)
    raise TypeError(
        f"a callback must be a nnmath.callbacks.Callback or a callable f(net, history, epoch), "
        f"got {obj!r}"
    )


def wants_batches(callback: Callback) -> bool:
    """Whether ``callback`` has an ``on_batch_end`` of its own (then fit trains on the
    reference loop, which steps one mini-batch at a time in Python)."""
    method = getattr(callback, "on_batch_end", None)
    return getattr(method, "__func__", None) is not Callback.on_batch_end


class DivergenceCheck(Callback):
    """Raise :class:`TrainingDiverged` when an epoch's training cost is NaN or infinite, and
    leave the network with the weights of the last finite epoch (fit always adds it).

    The message names the learning rate the optimizer really used (``optimizer.eta``). The
    history in the exception holds the finite epochs only.
    """

    def on_epoch_begin(self, net: Any, history: History, epoch: int) -> None:
        self._last_finite = net.copy_parameters()

    def on_epoch_end(self, net: Any, history: History, epoch: int) -> None:
        cost = history.training_cost[-1]
        if math.isfinite(cost):
            return
        net.set_parameters(*self._last_finite)
        history.training_cost.pop()
        raise TrainingDiverged(
            f"training diverged in epoch {epoch + 1}: the cost became {cost}; "
            f"try a smaller eta (now {self.run.optimizer.eta}); the network keeps the weights "
            "of the last finite epoch",
            history,
        )


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without a better validation score, then restore the
    weights of the best epoch (Nielsen, chapter 3, "early stopping").

    The score is the validation accuracy, or the validation cost for a network with one
    output; fit records the best epoch in ``history.best_epoch`` (and its weights in
    ``run.best_params``). Sets ``history.stopped_early`` when it stops the run.

    Parameters
    ----------
    patience : int
        Epochs without improvement to wait (``0``: stop after the first epoch).
    restore_best_weights : bool
        Put the best epoch's weights back into the network at the end.
    """

    def __init__(self, patience: int, restore_best_weights: bool = True) -> None:
        if isinstance(patience, bool) or int(patience) != patience or patience < 0:
            raise ValueError(f"patience must be a non-negative integer, got {patience!r}")
        self.patience, self.restore_best_weights = int(patience), bool(restore_best_weights)

    def set_run(self, run: Run) -> None:
        if run.validation_data is None:
            raise ValueError("early stopping (patience) needs validation_data")
        super().set_run(run)

    def _since_best(self, history: History, epoch: int) -> int:
        """Epochs after the best one, up to ``epoch``."""
        best = history.best_epoch
        return epoch + 1 if best is None else epoch - best

    def on_train_begin(self, net: Any, history: History) -> None:
        done = history.epochs  # a resumed run that had already stopped has nothing to do
        if history.stopped_early or (done and self._since_best(history, done - 1) >= self.patience):
            history.stopped_early = self.run.stop_training = True

    def on_epoch_end(self, net: Any, history: History, epoch: int) -> None:
        if self._since_best(history, epoch) >= self.patience:
            history.stopped_early = self.run.stop_training = True

    def on_train_end(self, net: Any, history: History) -> None:
        if self.restore_best_weights and self.run.best_params is not None:
            net.set_parameters(*self.run.best_params)


class Checkpoint(Callback):
    """Save a checkpoint (weights, optimizer state, generator state, history, the best
    epoch's weights, the base η) after every epoch, atomically (:func:`nnmath.checkpoint.save`).

    ``fit(..., resume=True)`` continues from it (bit-identical to an uninterrupted run).

    Parameters
    ----------
    path : path-like
        The safetensors file, replaced after each epoch.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def on_epoch_end(self, net: Any, history: History, epoch: int) -> None:
        from .checkpoint import save

        run = self.run
        save(self.path, net, run.optimizer, run.rng, history, epoch, run.best_params, run.base_eta)

    def __repr__(self) -> str:
        return f"Checkpoint({str(self.path)!r})"


class LearningRateScheduler(Callback):
    """Before each epoch, set ``optimizer.eta`` to the schedule's η for that epoch, computed
    from the run's base η (:mod:`nnmath.schedules`; ``fit(..., schedule=...)``).

    Parameters
    ----------
    schedule : str or Schedule
        A :class:`~nnmath.schedules.Schedule`, or a name in :data:`~nnmath.schedules.SCHEDULES`.
    """

    def __init__(self, schedule: Any) -> None:
        from .schedules import get_schedule

        self.schedule = get_schedule(schedule)

    def on_epoch_begin(self, net: Any, history: History, epoch: int) -> None:
        run = self.run
        run.optimizer.eta = float(self.schedule.eta(run.base_eta, epoch, run.epochs))

    def __repr__(self) -> str:
        return f"LearningRateScheduler({self.schedule!r})"


class ProgressBar(Callback):
    """A ``rich`` progress bar of the epochs, with the last training cost and validation
    accuracy (drawn on stderr; the training loop itself prints nothing).

    Parameters
    ----------
    description : str
    console : rich.console.Console, optional
        Where to draw (default: a console on stderr).
    """

    def __init__(self, description: str = "training", console: Any = None) -> None:
        self.description, self.console = description, console
        self._bar: Any = None

    def on_train_begin(self, net: Any, history: History) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=self.console if self.console is not None else Console(stderr=True),
        )
        self._bar.start()
        self._task = self._bar.add_task(
            self.description, total=self.run.epochs, completed=self.run.start_epoch, info=""
        )

    def on_epoch_end(self, net: Any, history: History, epoch: int) -> None:
        info = f"cost {history.training_cost[-1]:.4f}"
        if history.validation_accuracy:
            info += f" val {history.validation_accuracy[-1]:.2%}"
        self._bar.update(self._task, advance=1, info=info)

    def on_train_end(self, net: Any, history: History) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def on_exception(self, net: Any, history: History, exc: BaseException) -> None:
        self.on_train_end(net, history)
