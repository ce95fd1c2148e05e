"""What the watching callbacks share: a fixed set of examples, measured layer by layer.

:class:`LayerProbe` measures :func:`nnmath.diagnostics.layer_statistics` on the same rows at
every point (the first ``max_rows`` rows of the training data, or of the ``X``, ``Y`` it was
given), so that a curve follows one set of examples. Several probes of one run that measure
the same rows at the same moment (a :class:`~nnmath.callbacks.TensorBoard` and a
:class:`~nnmath.callbacks.LivePlot` after the same epoch) share one backward pass. A network
of layers is measured at its layers with parameters (Conv2D, Dense), numbered by their
position in ``net.layers`` (:func:`~nnmath.diagnostics.layer_statistics`). The update-to-data
ratio of every layer (:meth:`LayerProbe.update_ratios`) is shared the same way.
"""

from __future__ import annotations

from typing import Any

from ..diagnostics import LayerStatistics, layer_statistics
from ..diagnostics.updates import PROBE_STEPS, probe_step_ratios
from .base import Callback, Run

__all__ = ["LayerProbe"]


class LayerProbe(Callback):
    """A callback that measures the network's layers on a fixed set of examples.

    Parameters
    ----------
    X, Y : arrays, optional
        The examples (rows) to measure on; both or neither. Default: the run's training data.
    max_rows : int
        Measure on the first ``max_rows`` rows (one backward pass over them per point).
    """

    def __init__(self, X: Any = None, Y: Any = None, max_rows: int = 1000) -> None:
        if (X is None) != (Y is None):
            raise ValueError("give both X and Y to measure on, or neither (the training data)")
        if isinstance(max_rows, bool) or int(max_rows) != max_rows or max_rows < 1:
            raise ValueError(f"max_rows must be a positive integer, got {max_rows!r}")
        self.max_rows = int(max_rows)
        self._given = None if X is None else (X, Y)

    #: whether it measures the layers (EpochLogger without speeds does not)
    measures = True

    def set_run(self, run: Run) -> None:
        super().set_run(run)
        X, Y = self._given if self._given is not None else (run.X, run.Y)
        self._source = id(X)
        self.X, self.Y = X[: self.max_rows], Y[: self.max_rows]

    def statistics(
        self, net: Any, moment: tuple[Any, ...], arrays: bool = False
    ) -> LayerStatistics:
        """:func:`~nnmath.diagnostics.layer_statistics` on the probe's rows at ``moment`` (e.g.
        ``("epoch", 3)``): measured once per run, rows and moment, whichever probe asks first."""
        cache = self.run.layer_statistics
        key = (self._source, self.max_rows)
        hit = cache.get(key)
        if hit is not None and hit[0] == moment and (hit[1].arrays is not None or not arrays):
            return hit[1]
        stats = layer_statistics(net, self.X, self.Y, arrays=arrays)
        cache[key] = (moment, stats)  # only the latest moment is kept
        return stats

    def update_ratios(self, net: Any, moment: tuple[Any, ...]) -> list[float]:
        """‖Δw^l‖/‖w^l‖ of one real step of the run's optimizer, taken on copies of the
        network and optimizer (:func:`~nnmath.diagnostics.updates.probe_step_ratios`): the
        mean over single steps from the same state on each of the probe's first
        ``PROBE_STEPS`` mini-batches; measured once per run, rows and moment."""
        cache = self.run.layer_statistics
        key = ("update_ratios", self._source, self.max_rows)
        hit = cache.get(key)
        if hit is not None and hit[0] == moment:
            return hit[1]
        B = self.run.mini_batch_size
        X, Y = self.X[: PROBE_STEPS * B], self.Y[: PROBE_STEPS * B]
        ratios = probe_step_ratios(net, self.run.optimizer, X, Y, batch_size=B)
        cache[key] = (moment, ratios)
        return ratios
