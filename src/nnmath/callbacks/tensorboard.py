"""TensorBoard event files of a training run: the gradient flow of every layer, epoch by epoch.

Written with ``tensorboardX`` (pure Python; the optional extra ``nnmath[tensorboard]``). The
step of every value is the number of epochs done: step 0 is the network before training.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ..diagnostics import LayerStatistics
from ..diagnostics.layers import SATURATION
from ._probe import LayerProbe
from .base import History

__all__ = ["HISTOGRAMS", "LAYER_SCALARS", "TensorBoard", "UPDATE_RATIO", "custom_scalar_layout"]

#: per-layer scalars: tag prefix -> (the LayerStatistics field, the chart's title)
LAYER_SCALARS: dict[str, tuple[str, str]] = {
    "nabla_b": ("nabla_b", "speed of learning ‖∂C/∂b^l‖"),
    "nabla_w": ("nabla_w", "‖∂C/∂w^l‖"),
    "sigma_prime_mean": ("mean_prime", "mean σ'(z^l)"),
    "saturated": ("saturated", f"saturated units (σ' < {SATURATION:.0%} of its maximum)"),
    "dead": ("dead", "dead units (σ' = 0 on every example)"),
}
#: the update-to-data ratio of every layer: tag prefix, the chart's title
UPDATE_RATIO = ("update_ratio", "update-to-data ratio ‖Δw^l‖/‖w^l‖ (one step, about 1e-3)")
#: per-layer histograms: tag prefix -> the key of LayerStatistics.arrays
HISTOGRAMS: dict[str, str] = {
    "W": "W",
    "z": "z",
    "a": "a",
    "delta": "delta",
    "sigma_prime": "sigma_prime",
}
#: the run's own scalars: tag -> the History list it comes from
RUN_SCALARS: dict[str, str] = {
    "cost/training": "training_cost",
    "cost/validation": "validation_cost",
    "accuracy/training": "training_accuracy",
    "accuracy/validation": "validation_accuracy",
}


def _tag(prefix: str, layer: int) -> str:
    """``nabla_b/l2``: the lecture's layer number (l = 2 is the first hidden layer)."""
    return f"{prefix}/l{layer}"


def custom_scalar_layout(
    layers: list[int], update_ratio: bool = False
) -> dict[str, dict[str, list[Any]]]:
    """TensorBoard's custom-scalar layout: one chart per statistic with every layer's line
    (the update-to-data ratio's too, with ``update_ratio``), and the costs and accuracies,
    training beside validation."""
    charts = [(prefix, title) for prefix, (_, title) in LAYER_SCALARS.items()]
    if update_ratio:
        charts.append(UPDATE_RATIO)
    per_layer = {
        title: ["Multiline", [_tag(prefix, l) for l in layers]] for prefix, title in charts
    }
    return {
        "layers (one line per layer l)": per_layer,
        "training": {
            "cost": ["Multiline", ["cost/training", "cost/validation"]],
            "accuracy": ["Multiline", ["accuracy/training", "accuracy/validation"]],
            "learning rate η": ["Multiline", ["eta"]],
        },
    }


def _summary_writer() -> Any:
    try:
        from tensorboardX import SummaryWriter
    except ImportError as exc:
        raise ImportError(
            "the TensorBoard callback writes with tensorboardX: pip install 'nnmath[tensorboard]'"
        ) from exc
    return SummaryWriter


class TensorBoard(LayerProbe):
    """Write a run's TensorBoard event files: per layer and per epoch, the gradient flow.

    Scalars (step = epochs done, 0 the network before training), per layer ``l = 2, …, L``:
    ``nabla_b/l{l}`` (Nielsen's speed of learning ‖∂C/∂b^l‖), ``nabla_w/l{l}``,
    ``sigma_prime_mean/l{l}``, ``saturated/l{l}`` and ``dead/l{l}`` (fractions, see
    :mod:`nnmath.diagnostics.layers`), measured on a fixed set of examples after every epoch;
    the run's ``cost/training``, ``cost/validation``, ``accuracy/training``,
    ``accuracy/validation`` (those in the :class:`History`), ``eta`` and ``time/epoch``.
    With ``update_ratio=True`` (the default) also ``update_ratio/l{l}``, the update-to-data
    ratio ‖Δw^l‖/‖w^l‖ of one real step of the run's optimizer taken on copies of the
    network and optimizer, averaged over the first 8 mini-batches of the measured rows
    (:func:`~nnmath.diagnostics.updates.probe_step_ratios`; about 1e-3 when healthy).
    A custom-scalar layout draws each per-layer statistic as one chart with a line per
    layer. Histograms (``histograms=True``) of ``W/l{l}``, ``z/l{l}``, ``a/l{l}``,
    ``delta/l{l}`` and ``sigma_prime/l{l}``.

    Per epoch it measures after the epoch, so fit keeps the compiled epoch. The files are
    flushed after every epoch; a resumed run (``fit(resume=...)``) continues the same
    curves and drops the values an interrupted run wrote past its checkpoint.

    Parameters
    ----------
    logdir : path-like
        The run's folder (``tensorboard --logdir`` its parent to compare runs).
    X, Y : arrays, optional
        The examples to measure the layers on; default the training data.
    max_rows : int
        Measure on the first ``max_rows`` rows (default 1,000, as ``track_gradients``).
    histograms : bool
        Also write the histograms.
    update_ratio : bool
        Also write the update-to-data ratio of every layer.

    Raises
    ------
    ImportError
        When ``tensorboardX`` is not installed (``pip install 'nnmath[tensorboard]'``).

    Examples
    --------
    >>> net.fit(X, y, epochs=30, callbacks=[TensorBoard("runs/sigmoid")])  # doctest: +SKIP
    """

    def __init__(
        self,
        logdir: str | os.PathLike[str],
        X: Any = None,
        Y: Any = None,
        max_rows: int = 1000,
        histograms: bool = True,
        update_ratio: bool = True,
    ) -> None:
        super().__init__(X, Y, max_rows)
        self.update_ratio = bool(update_ratio)
        self._SummaryWriter = _summary_writer()  # a missing extra fails before any training
        self.logdir, self.histograms = Path(logdir), bool(histograms)
        self.writer: Any = None

    def on_train_begin(self, net: Any, history: History) -> None:
        step = history.epochs
        if self.logdir.exists() and not self.logdir.is_dir():
            raise ValueError(f"TensorBoard logdir {self.logdir} is a file: give a folder")
        # a resumed run continues after its checkpoint's epochs: what an interrupted run wrote
        # past them is dropped from the earlier files (TensorBoard's purge). The suffix keeps
        # a second writer in the same second off the first one's file, and sorts after it
        # (TensorBoard reads a folder's files in the order of their names).
        suffix = f".{time.time_ns():020d}.{os.getpid()}"
        self.writer = self._SummaryWriter(
            str(self.logdir), purge_step=step + 1 if step else None, filename_suffix=suffix
        )
        if step == 0:  # a resumed run's network at ``step`` was written by the earlier run
            stats = self.statistics(net, ("begin", step), arrays=self.histograms)
            self.writer.add_custom_scalars(custom_scalar_layout(stats.layers, self.update_ratio))
            self.writer.add_text("network", _describe(net), 0)
            self._write_layers(stats, step)
            self._write_ratios(net, stats.layers, ("begin", step), step)
        self.writer.flush()

    def on_epoch_end(self, net: Any, history: History, epoch: int) -> None:
        step, w = epoch + 1, self.writer
        for tag, name in RUN_SCALARS.items():
            values = getattr(history, name)
            if values:
                w.add_scalar(tag, float(values[-1]), step)
        eta = history.extra.get("eta")
        if eta:
            w.add_scalar("eta", float(eta[-1]), step)
        w.add_scalar("time/epoch", float(history.epoch_time[-1]), step)
        stats = self.statistics(net, ("epoch", epoch), arrays=self.histograms)
        self._write_layers(stats, step)
        self._write_ratios(net, stats.layers, ("epoch", epoch), step)
        w.flush()

    def _write_ratios(
        self, net: Any, layers: list[int], moment: tuple[Any, ...], step: int
    ) -> None:
        if not self.update_ratio:
            return
        for layer, value in zip(layers, self.update_ratios(net, moment)):
            self.writer.add_scalar(_tag(UPDATE_RATIO[0], layer), float(value), step)

    def _write_layers(self, stats: LayerStatistics, step: int) -> None:
        w = self.writer
        for prefix, (name, _) in LAYER_SCALARS.items():
            for layer, value in zip(stats.layers, getattr(stats, name)):
                if value is not None:
                    w.add_scalar(_tag(prefix, layer), float(value), step)
        if self.histograms and stats.arrays is not None:
            for prefix, key in HISTOGRAMS.items():
                for layer, values in zip(stats.layers, stats.arrays[key]):
                    w.add_histogram(_tag(prefix, layer), values.ravel(), step)

    def on_train_end(self, net: Any, history: History) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def on_exception(self, net: Any, history: History, exc: BaseException) -> None:
        self.on_train_end(net, history)  # what was written stays readable

    def __repr__(self) -> str:
        return f"TensorBoard({str(self.logdir)!r})"


def _describe(net: Any) -> str:
    if getattr(net, "layered", False):
        return f"layers {net.layers!r}; cost {net.cost_name}"
    acts = ", ".join(getattr(a, "name", "custom") for a in net.activation_functions)
    return f"sizes {list(net.sizes)}; σ per layer: {acts}; cost {net.cost_name}"
