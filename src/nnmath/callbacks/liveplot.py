"""A live figure of a training run: cost, accuracy, the speed of learning and the
update-to-data ratio of every layer.

In a notebook (a running IPython kernel) the figure is one output, updated in place through
an IPython display handle; anywhere else it is written to a file, atomically, after every
redraw. matplotlib is imported when the first figure is drawn (the ``nnmath[plot]`` extra).
"""

from __future__ import annotations

import io
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from .._files import atomic_write
from ..diagnostics.updates import HEALTHY_RATIO
from ._probe import LayerProbe
from .base import History

__all__ = ["LivePlot", "in_notebook"]


def in_notebook() -> bool:
    """Whether this process is an IPython kernel (Jupyter, VS Code, ...), without importing
    IPython: a kernel has imported it already, and its shell has a ``kernel``."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if callable(get) else None
    return getattr(shell, "kernel", None) is not None


class LivePlot(LayerProbe):
    """Redraw cost, accuracy, ‖∂C/∂b^l‖ and ‖Δw^l‖/‖w^l‖ of every layer while ``fit`` trains.

    Four panels against the epoch: the training and validation cost, the accuracies (those
    the :class:`History` has), Nielsen's speed of learning ‖∂C/∂b^l‖ of every layer on a
    fixed set of examples (the first ``max_rows`` training rows), measured before training and
    after every epoch, and (``update_ratio=True``) the update-to-data ratio ‖Δw^l‖/‖w^l‖ of
    every layer (log scale, with Karpathy's healthy 1e-3 as a dashed line): one real step of
    the run's optimizer from its present state, averaged over the first 8 mini-batches of
    those rows, taken on copies of the network and optimizer
    (:func:`~nnmath.diagnostics.updates.probe_step_ratios`).

    With ``every=k`` it also measures every ``k`` mini-batches (then the speeds, the ratios,
    and the cost and accuracy on those rows, are drawn at fractional epochs); that needs
    ``on_batch_end``, so fit trains on the reference loop. Per epoch (the default) fit keeps
    the compiled epoch.

    In a notebook the figure is one output updated in place; outside one it is written to
    ``path`` (PNG, or SVG/PDF by the suffix), replaced atomically at every redraw.

    A redraw costs about 0.2–0.4 s (matplotlib, four panels); with epochs shorter than
    that, ``min_interval`` keeps the figure from slowing training down.

    Parameters
    ----------
    every : int, optional
        Also redraw every ``every`` mini-batches (reference loop).
    path : path-like
        The file written outside a notebook.
    X, Y : arrays, optional
        The examples to measure the speeds on (default: the training data).
    max_rows : int
        Measure on the first ``max_rows`` rows.
    notebook : bool, optional
        Force the notebook display (``True``) or the file (``False``); default: detect a
        running IPython kernel.
    min_interval : float
        Seconds between two redraws at least (the last one is always drawn).
    dpi : int
    update_ratio : bool
        Draw the panel of the update-to-data ratio.

    Attributes
    ----------
    points : dict of lists
        What was measured: ``epoch`` (fractional with ``every``), ``nabla_b`` and
        ``update_ratio`` (one list per point, a float per layer), ``cost`` and ``accuracy`` on
        the measured rows.
    draws : int
        How many times the figure was drawn.
    """

    def __init__(
        self,
        every: int | None = None,
        path: str | os.PathLike[str] = "liveplot.png",
        X: Any = None,
        Y: Any = None,
        max_rows: int = 1000,
        notebook: bool | None = None,
        min_interval: float = 0.0,
        dpi: int = 90,
        update_ratio: bool = True,
    ) -> None:
        super().__init__(X, Y, max_rows)
        self.update_ratio = bool(update_ratio)
        if every is not None and (isinstance(every, bool) or int(every) != every or every < 1):
            raise ValueError(f"every must be a positive number of mini-batches, got {every!r}")
        self.every = None if every is None else int(every)
        self.path = Path(path)
        fmt = self.path.suffix.lstrip(".").lower()
        if fmt not in ("png", "svg", "pdf"):
            raise ValueError(f"LivePlot path {self.path}: give a .png, .svg or .pdf file")
        self.notebook, self.min_interval, self.dpi = notebook, float(min_interval), int(dpi)
        self.points: dict[str, list[Any]] = {}
        self.draws = 0
        self._handle: Any = None
        self._last = -math.inf
        self._drawn: tuple[int, int] | None = None

    @property
    def needs_batches(self) -> bool:
        """Only ``every=k`` needs the reference loop's ``on_batch_end``."""
        return self.every is not None

    def on_train_begin(self, net: Any, history: History) -> None:
        if self.notebook is None:
            self.notebook = in_notebook()
        if not self.notebook:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.points = {"epoch": [], "nabla_b": [], "cost": [], "accuracy": [], "layers": []}
        if self.update_ratio:
            self.points["update_ratio"] = []
        self._step = 0
        self._measure(net, ("begin", history.epochs), float(history.epochs))
        self._draw(history, force=True)

    def _measure(self, net: Any, moment: tuple[Any, ...], epoch: float) -> None:
        stats = self.statistics(net, moment)
        self.points["layers"] = stats.layers  # l of each speed (layers with parameters)
        self.points["epoch"].append(epoch)
        self.points["nabla_b"].append(stats.nabla_b)
        self.points["cost"].append(stats.cost)
        self.points["accuracy"].append(stats.accuracy)
        if self.update_ratio:
            self.points["update_ratio"].append(self.update_ratios(net, moment))

    def on_batch_end(
        self, net: Any, history: History, epoch: int, batch: int, n_batches: int
    ) -> None:
        if self.every is None:
            return
        self._step += 1
        if self._step % self.every == 0:
            self._measure(net, ("batch", epoch, batch), epoch + (batch + 1) / n_batches)
            self._draw(history)

    def on_epoch_end(self, net: Any, history: History, epoch: int) -> None:
        if self.every is None:
            self._measure(net, ("epoch", epoch), float(epoch + 1))
        self._draw(history)

    def on_train_end(self, net: Any, history: History) -> None:
        if self._drawn != self._state(history):  # the last points were not drawn yet
            self._draw(history, force=True)

    def _state(self, history: History) -> tuple[int, int]:
        return history.epochs, len(self.points["epoch"])

    def _draw(self, history: History, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.min_interval:
            return
        self._drawn = self._state(history)
        fig = figure(history, self.points, batches=self.every is not None)
        fmt = self.path.suffix.lstrip(".").lower() if not self.notebook else "png"
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=self.dpi)
        self._show(buf.getvalue())
        self.draws += 1
        self._last = time.monotonic()

    def _show(self, data: bytes) -> None:
        if not self.notebook:
            with atomic_write(self.path) as fh:
                fh.write(data)
            return
        from IPython.display import Image, display

        image = Image(data=data, format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)

    def __repr__(self) -> str:
        every = "" if self.every is None else f"every={self.every}, "
        return f"LivePlot({every}path={str(self.path)!r})"


def _matplotlib_figure() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("LivePlot draws with matplotlib: pip install 'nnmath[plot]'") from exc
    return Figure


def figure(history: History, points: dict[str, list[Any]], batches: bool = False) -> Any:
    """The live figure: cost, accuracy, ‖∂C/∂b^l‖ per layer (log scale) and, when the points
    have them, ‖Δw^l‖/‖w^l‖ per layer (log scale, 1e-3 dashed), against epochs.

    ``batches``: the points were measured every k mini-batches, so their cost and accuracy
    (on the measured rows) are drawn too. A ``matplotlib.figure.Figure`` not attached to
    pyplot (nothing global is touched).
    """
    ratios = points.get("update_ratio") or []
    panels = 4 if ratios else 3
    fig = _matplotlib_figure()(figsize=(4 * panels, 3.6))
    # a fixed layout: constrained or tight layout would double the time of every redraw
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.14, top=0.9, wspace=0.22)
    ax_cost, ax_acc, ax_speed, *ax_ratio = fig.subplots(1, panels)
    done = list(range(1, history.epochs + 1))
    for ax, kind in ((ax_cost, "cost"), (ax_acc, "accuracy")):
        for part, color in (("training", "C0"), ("validation", "C1")):  # the same in both
            values = getattr(history, f"{part}_{kind}")
            if values:
                ax.plot(done[-len(values) :], values, marker=".", color=color, label=part)
    epochs = points.get("epoch", [])
    if batches and epochs:  # every k mini-batches: the cost on the measured rows too
        ax_cost.plot(epochs, points["cost"], "C2", lw=0.8, alpha=0.7, label="measured rows")
        if points["accuracy"][0] is not None:
            ax_acc.plot(epochs, points["accuracy"], "C2", lw=0.8, alpha=0.7, label="measured rows")
    numbers = points.get("layers") or []
    _per_layer(ax_speed, epochs, points.get("nabla_b", []), numbers)
    titles = [
        (ax_cost, "cost"),
        (ax_acc, "accuracy"),
        (ax_speed, r"speed of learning $\|\partial C/\partial b^l\|$"),
    ]
    if ax_ratio:
        _per_layer(ax_ratio[0], epochs, ratios, numbers)
        ax_ratio[0].axhline(HEALTHY_RATIO, color="0.4", ls="--", lw=1, label="1e-3")
        titles.append((ax_ratio[0], r"update ratio $\|\Delta w^l\|/\|w^l\|$ (one step)"))
    for ax, title in titles:
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        if ax.lines:
            ax.legend(fontsize="small")
    return fig


def _per_layer(ax: Any, epochs: list[float], rows: list[list[float]], numbers: list[int]) -> None:
    """One line per layer (log scale) of ``rows`` (one list per point, a float per layer)."""
    n_layers = len(rows[0]) if rows else 0
    numbers = numbers or list(range(2, n_layers + 2))
    for i in range(n_layers):
        label = f"l = {numbers[i]}" + (" (output)" if i == n_layers - 1 else "")
        ax.plot(epochs, [max(row[i], 1e-30) for row in rows], marker=".", label=label)
    if n_layers:
        ax.set_yscale("log")
