"""The protocol of fit's callbacks: the :class:`History`, the :class:`Run`, the
:class:`Callback` base class and :func:`as_callback` for plain callables."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Callback",
    "History",
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
        own: ``eta`` (the learning rate of every epoch), ``train_path`` (``"c"``,
        ``"reference"``, or ``"parts"``: a network of layers' reference loop with each
        mini-batch in two parts on two threads), ``fallback_reason`` (why the compiled
        epoch did not run),
        ``train_threads`` (threads that shared each mini-batch) and ``train_product_parts``
        (with one thread, the parts each large product was cut into).
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

    def _repr_html_(self) -> str:  # a notebook's display: the curves (SVG) and the table
        from ..display import history_html

        return history_html(self)


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
    resumed_from : str or None
        The checkpoint a resumed run continues (``fit(resume=...)``), else ``None``.
    layer_statistics : dict
        The latest :class:`~nnmath.diagnostics.LayerStatistics` of each set of probed rows,
        with the moment it was measured at, shared by the run's probing callbacks (a
        :class:`~nnmath.callbacks.TensorBoard` and a :class:`~nnmath.callbacks.LivePlot` after
        the same epoch share one backward pass).
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
    resumed_from: str | None = None
    layer_statistics: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = field(
        default_factory=dict
    )

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
        quiet = getattr(fn, "needs_batches", True) is False  # its on_batch_end does nothing
        for hook in _HOOKS:
            method = getattr(fn, hook, None)
            if callable(method) and not (quiet and hook == "on_batch_end"):
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
    reference loop, which steps one mini-batch at a time in Python).

    A callback whose ``on_batch_end`` does nothing in its present configuration (a tracker
    that records per epoch) says so with ``needs_batches = False``, and keeps the compiled
    epoch; ``needs_batches = True`` asks for the reference loop whatever its methods.
    """
    declared = getattr(callback, "needs_batches", None)
    if declared is not None:
        return bool(declared)
    method = getattr(callback, "on_batch_end", None)
    return getattr(method, "__func__", None) is not Callback.on_batch_end
