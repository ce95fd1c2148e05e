"""Record the distributions of z^l, a^l, δ^l and the update-to-data ratio of every layer in the
``History`` (``fit(track_histograms=True)``).

What is measured, and how the bins are chosen: :mod:`nnmath.diagnostics.histograms` and
:mod:`nnmath.diagnostics.updates`.
"""

from __future__ import annotations

from typing import Any

from ..diagnostics.histograms import BINS, add_entry, new_record
from ..diagnostics.updates import update_ratios, weights_of
from ._probe import LayerProbe
from .base import History

__all__ = ["Histograms"]


class Histograms(LayerProbe):
    """After every epoch, per layer with parameters: histograms of ``z^l``, ``a^l``, ``δ^l``,
    percentiles of ``z^l``, and the update-to-data ratio ‖Δw^l‖/‖w^l‖.

    Measured on a fixed set of rows (the first ``rows`` training rows, or of ``X``, ``Y``)
    by a reference forward and backward pass after the epoch (and once before training), so
    fit keeps the compiled epoch and the weights it trains are bit for bit those of a run
    without it. Two records in ``history.extra``, plain Python (JSON-ready, kept in
    checkpoints)::

        history.extra["histograms"] = {
            "layers": [2, 3], "epoch": [0, 1, ...],   # l; epochs done at each entry
            "activations": ["sigmoid", "sigmoid"],   # each layer's σ
            "bins": 40, "percentiles": [15, 50, 85], "rows": 1000,
            "edges":  {"z": [edges of l = 2, ...], "a": ..., "delta": ...},   # fixed
            "counts": {"z": [[counts of l = 2, ...] per entry], "a": ..., "delta": ...},
            "under", "over": the same shape as counts, one int per layer (outside the edges),
            "z_percentiles": [[[p15, p50, p85] per layer] per entry],
            "unit_z_percentiles": [[[[p15, p50, p85] per unit] per layer] per entry]}
        history.extra["update_ratio"] = {
            "layers": [2, 3], "epoch": [0, 1, ...],
            "step": [[ratio per layer] per entry],   # one real step, on copies (below)
            "epoch_change": [None, [ratio per layer], ...],   # ‖W_end − W_start‖/‖W_start‖
            "steps": [[ratio per layer] per mini-batch], "steps_epoch": [...]}  # every_step

    ``"step"`` is one real step of the run's optimizer (its state and η at that moment),
    taken from that same state on each of the first 8 mini-batches of the rows and averaged,
    on copies of the network and optimizer
    (:func:`~nnmath.diagnostics.updates.probe_step_ratios`). ``"epoch_change"`` is the
    net change of the weights over each epoch, not a per-step number. With
    ``every_step=True`` the ratio of every step of the training itself is recorded too, which
    needs the reference loop (``on_batch_end``).

    Read them with :func:`~nnmath.diagnostics.histograms.z_percentiles`,
    :func:`~nnmath.diagnostics.histograms.histogram_counts`; draw them with
    :func:`nnmath.plots.histograms`.

    Parameters
    ----------
    rows : int
        Measure on the first ``rows`` rows (one backward pass over them per entry).
    bins : int
        Bins of every histogram (edges fixed at the first entry,
        :func:`~nnmath.diagnostics.histograms.bin_edges`).
    units : int
        Record the percentiles of the first ``units`` units of each layer separately.
    every_step : bool
        Also record the ratio of every training step (reference loop).
    every : int, optional
        Also record an entry every ``every`` mini-batches (reference loop), at a fractional
        epoch (``epoch_change`` is ``None`` there); a resumed run counts from its restart.
    X, Y : arrays, optional
        The rows to measure on (default: the training data).
    """

    def __init__(
        self,
        rows: int = 1000,
        bins: int = BINS,
        units: int = 4,
        every_step: bool = False,
        every: int | None = None,
        X: Any = None,
        Y: Any = None,
    ) -> None:
        super().__init__(X, Y, rows)
        for name, value in (("bins", bins), ("units", units), ("every", every or 1)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.bins, self.units, self.every_step = int(bins), int(units), bool(every_step)
        self.every = None if every is None else int(every)
        self._steps = 0
        self._start: list[Any] = []
        self._previous: list[Any] = []

    @property
    def needs_batches(self) -> bool:
        """Only ``every_step=True`` or ``every=k`` needs the reference loop's ``on_batch_end``."""
        return self.every_step or self.every is not None

    def on_train_begin(self, net: Any, history: History) -> None:
        """Record the network before the first epoch, unless a resumed run's history has it."""
        self._start = self._previous = weights_of(net)
        rec = history.extra.get("histograms")
        if rec and rec["epoch"] and rec["epoch"][-1] == history.epochs:
            return
        self._record(net, history, ("begin", history.epochs), None)

    def on_batch_end(
        self, net: Any, history: History, epoch: int, batch: int, n_batches: int
    ) -> None:
        """With ``every_step``: the ratio of the step just taken; with ``every=k``: an entry
        every k mini-batches (the epoch's last one is recorded by :meth:`on_epoch_end`)."""
        self._steps += 1
        if self.every_step:
            now = weights_of(net)
            rec = history.extra["update_ratio"]
            rec.setdefault("steps", []).append(update_ratios(self._previous, now))
            rec.setdefault("steps_epoch", []).append(epoch + (batch + 1) / n_batches)
            self._previous = now
        last = batch == n_batches - 1
        if self.every is not None and self._steps % self.every == 0 and not last:
            at = epoch + (batch + 1) / n_batches
            self._record(net, history, ("batch", epoch, batch), None, at)

    def on_epoch_end(self, net: Any, history: History, epoch: int) -> None:
        now = weights_of(net)
        self._record(net, history, ("epoch", epoch), update_ratios(self._start, now))
        self._start = now

    def _record(
        self,
        net: Any,
        history: History,
        moment: tuple[Any, ...],
        change: list[float] | None,
        at: float | None = None,
    ) -> None:
        """One entry at ``at`` epochs (default: the epochs done)."""
        at = history.epochs if at is None else at
        stats = self.statistics(net, moment, arrays=True)
        rec = history.extra.get("histograms") or new_record(stats, self.bins)
        history.extra["histograms"] = rec  # the first entry fixes the bins
        add_entry(rec, stats, at, self.units)
        ratio = history.extra.setdefault(
            "update_ratio", {"layers": stats.layers, "epoch": [], "step": [], "epoch_change": []}
        )
        ratio["epoch"].append(at)
        ratio["step"].append(self.update_ratios(net, moment))
        ratio["epoch_change"].append(change)

    def __repr__(self) -> str:
        step = ", every_step=True" if self.every_step else ""
        return f"Histograms(rows={self.max_rows}, bins={self.bins}{step})"
