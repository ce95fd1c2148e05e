"""fit's own callbacks: the divergence check, early stopping, checkpoints, the learning-rate
schedule (``fit``'s keyword arguments build them)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from .base import Callback, History, Run, TrainingDiverged

__all__ = ["Checkpoint", "DivergenceCheck", "EarlyStopping", "LearningRateScheduler"]


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
        from ..checkpoint import save

        run = self.run
        save(self.path, net, run.optimizer, run.rng, history, epoch, run.best_params, run.base_eta,
             mini_batch_size=run.mini_batch_size)  # fmt: skip

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
