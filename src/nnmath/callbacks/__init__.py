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
epoch runs a whole epoch at once), so fit takes it, unless it declares
``needs_batches = False`` (a tracker that records per epoch).

Watching a run: :class:`LivePlot` (a figure redrawn in a notebook, or written to a file),
:class:`TensorBoard` (event files: the gradient flow of every layer) and
:class:`EpochLogger` (one CSV or JSON-lines row per epoch) measure the layers after each
epoch (:func:`nnmath.diagnostics.layer_statistics`), so they keep the compiled epoch;
:class:`Histograms` (``fit(track_histograms=True)``) records the distributions of z^l, a^l,
δ^l and the update-to-data ratio ‖Δw^l‖/‖w^l‖ of every layer in the ``History``.

One job a module: :mod:`~nnmath.callbacks.base` (the protocol), ``control`` (divergence,
early stopping, checkpoints, schedules), ``progress``, ``liveplot``, ``tensorboard``, ``log``,
``histograms``.
Nothing here prints except :class:`ProgressBar`, which draws on the terminal with ``rich``.
"""

from __future__ import annotations

from ..diagnostics import GradientTracker
from .base import Callback, History, Run, TrainingDiverged, as_callback, wants_batches
from .control import Checkpoint, DivergenceCheck, EarlyStopping, LearningRateScheduler
from .histograms import Histograms
from .liveplot import LivePlot
from .log import EpochLogger, read_log
from .progress import ProgressBar
from .tensorboard import TensorBoard

__all__ = [
    "Callback",
    "Checkpoint",
    "DivergenceCheck",
    "EarlyStopping",
    "EpochLogger",
    "GradientTracker",
    "Histograms",
    "History",
    "LearningRateScheduler",
    "LivePlot",
    "ProgressBar",
    "Run",
    "TensorBoard",
    "TrainingDiverged",
    "as_callback",
    "read_log",
    "wants_batches",
]
