"""fit's own callbacks: the divergence check, early stopping, checkpoints, the learning-rate
schedule (``fit``'s keyword arguments build them)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from .base import Callback, History, Run, TrainingDiverged

__all__ = [
    "Checkpoint",
    "DivergenceCheck",
    "EarlyStopping",
    "LearningRateScheduler",
    "constant_output_cost",
]


class DivergenceCheck(Callback):
    """Raise :class:`TrainingDiverged` when an epoch's training cost is NaN or infinite, or
    the weights explode without a NaN, and leave the network with the weights of the last
    epoch before (fit always adds it); warn when the cost blows up.

    Exploded weights: the largest ``|w|`` grows past ``GROWTH`` times its start (and past
    ``GROWTH``). A blown-up cost: one above ``RISE`` times its reference, the larger of the
    cost before this call's first epoch and the cost of the constant output ȳ (the mean
    target: no better than the class frequencies), both on up to 1,000 training rows spread
    over the set (not judged on fewer than ``MIN_ROWS``); a ``RuntimeWarning``, once per run,
    since an unlucky noisy run may still recover. Each message names the learning rate the
    optimizer really used (``optimizer.eta``). The history in the exception holds the epochs
    before only.
    """

    #: how many times its reference the cost may rise before the run is warned about
    RISE = 1.5
    #: how many times its start the largest ``|w|`` may grow before it has exploded
    GROWTH = 1e4
    #: the training rows the reference cost is measured on
    ROWS = 1000
    #: fewer training rows than this are too noisy to judge a rise of the cost on
    MIN_ROWS = 100

    def on_train_begin(self, net: Any, history: History) -> None:
        self._cost_limit = self._reference_limit(net)
        self._weight_limit = self.GROWTH * max(1.0, _largest_weight(net))
        self._warned = False

    def _reference_limit(self, net: Any) -> float:
        """The cost above which it has blown up (``inf`` when it cannot be measured)."""
        n = self.run.X.shape[0]
        if n < self.MIN_ROWS:
            return math.inf
        step = max(1, n // self.ROWS)  # rows from all over the set
        X, Y = self.run.X[::step][: self.ROWS], self.run.Y[::step][: self.ROWS]
        reference = max(net.cost(X, Y), constant_output_cost(net, Y))
        return self.RISE * reference if math.isfinite(reference) else math.inf

    def on_epoch_begin(self, net: Any, history: History, epoch: int) -> None:
        self._last_finite = net.copy_parameters()
        self._lengths = {name: len(getattr(history, name)) for name in _MEASURED}
        self._best = (history.best_epoch, self.run.best_params)

    def on_epoch_end(self, net: Any, history: History, epoch: int) -> None:
        cost, eta = history.training_cost[-1], self.run.optimizer.eta
        if math.isfinite(cost):
            largest = _largest_weight(net)
            if largest <= self._weight_limit:
                self._warn_rise(cost, epoch)
                return
            why = f"the weights exploded (largest |w| = {largest:.3g})"
            self._drop_epoch(history)
        else:
            why = f"the cost became {cost}"
            history.training_cost.pop()
        net.set_parameters(*self._last_finite)
        raise TrainingDiverged(
            f"training diverged in epoch {epoch + 1}: {why}; try a smaller eta (now {eta:g}); "
            "the network keeps the weights of the epoch before",
            history,
        )

    def _warn_rise(self, cost: float, epoch: int) -> None:
        """Warn (once) when a finite cost rose far above its reference."""
        import warnings

        if cost <= self._cost_limit or self._warned:
            return
        self._warned = True
        warnings.warn(
            f"the training cost blew up in epoch {epoch + 1}: {cost:.4g}, above "
            f"{self._cost_limit:.4g} ({self.RISE:g} times its value before training or that "
            f"of a constant output, the mean target); eta = {self.run.optimizer.eta:g} may be "
            "too large: try a smaller eta",
            RuntimeWarning,
            stacklevel=2,
        )

    def _drop_epoch(self, history: History) -> None:
        """Take the diverged epoch's measurements and best epoch back out of the history."""
        for name, length in self._lengths.items():
            del getattr(history, name)[length:]
        history.best_epoch, self.run.best_params = self._best


def constant_output_cost(net: Any, Y: Any) -> float:
    """The mean cost of the constant output ȳ, the mean of the rows of ``Y`` (n, sizes[-1]):
    what a network that learnt only the class frequencies (or the mean target) scores."""
    from ..backend import get_namespace

    xp = get_namespace(Y)
    return float(xp.mean(net.cost_function.fn(xp.mean(Y, axis=0)[:, None], Y.T)))


def _largest_weight(net: Any) -> float:
    """max |w| over every layer's weights (NaN when one is NaN)."""
    from ..backend import get_namespace

    values = [float(get_namespace(W).max(get_namespace(W).abs(W))) for W in net.weights]
    return max(values, default=0.0) if all(v == v for v in values) else math.nan


_MEASURED = ("training_cost", "training_accuracy", "validation_cost", "validation_accuracy")


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
        from ..checkpoint import save

        run = self.run
        save(
            self.path,
            net,
            run.optimizer,
            run.rng,
            history,
            epoch,
            run.best_params,
            run.base_eta,
            mini_batch_size=run.mini_batch_size,
        )

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
        from ..schedules import get_schedule

        self.schedule = get_schedule(schedule)

    def on_epoch_begin(self, net: Any, history: History, epoch: int) -> None:
        run = self.run
        run.optimizer.eta = float(self.schedule.eta(run.base_eta, epoch, run.epochs))

    def __repr__(self) -> str:
        return f"LearningRateScheduler({self.schedule!r})"
