"""One browser tab's run: a network, its data and a worker thread that trains it with fit.

The worker thread owns the network: it calls :meth:`Network.fit` once for the whole run,
with a callback (:class:`Controller`) whose ``on_batch_end`` and ``on_epoch_end`` are where
the page's commands take effect (play, pause, one step, one epoch), where snapshots are
sent, and where questions about the network (a trace, a unit, an export) are answered, while
the weights are between two updates. Pausing is the callback waiting for the next command;
playing at a pace (epochs a second) is the callback waiting, still serving commands, until
the clock allows the next mini-batch. A change of η, λ, the mini-batch, dropout or the
optimizer is set on the running fit (:func:`.training.retune`): the weights and the epoch
count stay. A reset or any other new configuration ends fit (by raising :class:`Rebuild` in
the callback) and starts a new one from the same seed, so the same configuration gives the
same weights and the same numbers as ``Network.fit`` on its own. While playing, a snapshot is
made only when the page has drawn the last one (``ready``): a slow page gets fewer frames,
never a backlog. Nothing here touches the event loop: messages go out through ``outbox``
(thread-safe; the server sends them).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

import numpy as np

from ..callbacks import Callback, TrainingDiverged
from ..diagnostics import trace
from ..network import Network
from .config import Config, ConfigError
from .export import history_csv, model_bytes
from .features import LABELS
from .layered import plan_of
from .snapshot import Grid, b64, network_inputs, snapshot, unit_map
from .toy import ToyData, make_toy
from .training import Verdict, build_network, fit_options, hot_change, retune

__all__ = ["Session", "Controller", "build_network", "fit_options", "MAX_EPOCHS", "PACE"]

MAX_EPOCHS = 100_000  # one fit call for the whole run; the page pauses it long before
#: epochs a second while playing, until the page chooses (None: as fast as it trains)
PACE = 10.0
#: how far (seconds) a paced run may fall behind its clock before the clock starts again
SLACK = 0.25


class Rebuild(Exception):  # noqa: N818 - a signal to the worker, not an error
    """Ends the current fit so that the worker builds the run again (reset, new config)."""


class Close(Exception):  # noqa: N818
    """Ends the worker: the tab went away."""


class Controller(Callback):
    """fit's callback for a playground session: every hook hands over to the session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def on_train_begin(self, net: Any, history: Any) -> None:
        self.session.history, self.session.run = history, self.run
        self.session.tick(0.0, boundary=True)

    def on_batch_end(self, net: Any, history: Any, epoch: int, batch: int, n_batches: int) -> None:
        self.session.steps += 1
        self.session.tick(epoch + (batch + 1) / n_batches, boundary=False)

    def on_epoch_end(self, net: Any, history: Any, epoch: int) -> None:
        self.session.tick(float(epoch + 1), boundary=True)


class Session:
    """The run of one tab; ``send(message, droppable)`` delivers to the page, ``ready()``
    says whether the page has drawn the last snapshot (so no snapshot is computed for a page
    that cannot draw it yet)."""

    def __init__(
        self,
        send: Callable[[dict[str, Any], bool], None],
        ready: Callable[[], bool],
        max_rate: float = 30.0,
    ) -> None:
        self.send, self.ready = send, ready
        self.interval = 1.0 / max_rate
        self.commands: queue.Queue = queue.Queue()
        self.config: Config | None = None
        self.upload: tuple[ToyData, dict] | None = None
        self.mode = "paused"
        self.net: Network | None = None
        self.data: ToyData | None = None
        self.history: Any = None
        self.steps, self.epoch, self.last_sent = 0, 0.0, 0.0
        self.point: tuple[str, int] = ("train", 0)
        self.pace: float | None = PACE
        self.clock = (0.0, 0.0)  # (time, epoch) from which a paced run counts
        self.run: Any = None  # fit's Run while fit runs (set by the Controller)
        self.thread = threading.Thread(target=self._work, name="nnmath-playground", daemon=True)

    # --------------------------------------------------------------- the event loop's side

    def start(self) -> None:
        self.thread.start()

    def command(self, kind: str, payload: Any = None) -> Future:
        """Queue a command for the worker; the future holds its answer (exports)."""
        done: Future = Future()
        self.commands.put((kind, payload, done))
        return done

    # --------------------------------------------------------------- the worker's side

    def _work(self) -> None:
        while True:
            try:
                if self.config is None:
                    self._serve(block=True)  # until the page sends its configuration
                    continue
                self._halt(self._run())
            except Rebuild:
                continue
            except Close:  # also when the tab goes away while a stopped run waits in _halt
                return

    def _run(self) -> str:
        """Build and train the configured run; why it ended (Rebuild and Close propagate)."""
        try:
            self._build()
            options = fit_options(self.config, self.data, self.inputs)
            options["callbacks"].append(Controller(self))
            self.net.fit(self.inputs[0], self.data.y_train, epochs=MAX_EPOCHS, **options)
        except (Rebuild, Close):
            raise
        except TrainingDiverged as exc:
            return f"training diverged: {exc}"
        except Exception as exc:  # never let a run take the worker down
            return f"the run stopped: {type(exc).__name__}: {exc}"
        return "the run reached its last epoch"

    def _halt(self, why: str) -> None:
        """Report ``why`` and serve the page's questions until a reset or a new config."""
        self.mode, self.run = "paused", None
        self.send({"type": "stopped", "message": why}, False)
        try:
            while True:
                self._serve(block=True)
        except Rebuild:
            return

    def _build(self) -> None:
        c = self.config
        if c.data == "upload":
            if self.upload is None:
                raise ConfigError("no uploaded data: upload a CSV file first")
            self.data = self.upload[0]
        else:
            self.data = make_toy(c.data, c.points, c.noise, c.train_fraction, c.seed)
        d = self.data
        self.inputs = network_inputs(d, c.features)
        self.net = build_network(c, d.n_outputs)
        self.plan = plan_of(c, d.n_outputs)
        self.grid = Grid(d.bounds(), c.features, d.dims)
        self.verdict = Verdict(self.net, d.y_train)
        self.steps, self.epoch, self.mode, self.point = 0, 0.0, "paused", ("train", 0)
        ys = "<f4" if d.kind == "regression" else "u1"
        self.send(
            {
                "type": "built",
                "config": c.to_dict(),
                "sizes": self.plan.sizes,  # the lecture's layers, as the page draws them
                "blocks": self.plan.to_dict(),
                "classes": d.classes,
                "kind": d.kind,
                "dims": d.dims,
                "bounds": list(self.grid.bounds),
                "grid": list(self.grid.shape),
                "unit_grid": list(self.grid.unit_shape),
                "features": [LABELS[f] for f in c.features],
                "inputs": unit_map(self.grid.inputs.T, self.grid.coarse),
                "train": {"x": b64(d.X_train.astype("<f4")), "y": b64(d.y_train.astype(ys))},
                "test": {"x": b64(d.X_test.astype("<f4")), "y": b64(d.y_test.astype(ys))},
                "upload": self.upload[1] if c.data == "upload" and self.upload else None,
            },
            False,
        )

    def tick(self, epoch: float, boundary: bool) -> None:
        """Called by :class:`Controller` between two updates of the weights."""
        self.epoch = epoch
        if (self.mode == "step" and not boundary) or (self.mode == "epoch" and boundary):
            self.mode = "paused"
        self._serve(block=False)
        if self.mode == "play":
            if time.perf_counter() - self.last_sent >= self.interval and self.ready():
                self._snapshot()
            self._keep_pace()
        if self.mode == "paused":
            self._snapshot()
            while self.mode == "paused":
                self._serve(block=True)

    def _keep_pace(self) -> None:
        """Wait, serving commands, until the clock of a paced run reaches this epoch."""
        if self.pace is None:
            return
        t0, e0 = self.clock
        target = t0 + (self.epoch - e0) / self.pace
        now = time.perf_counter()
        if now - target > SLACK:  # fell behind (a slow machine): count from here
            self.clock = (now, self.epoch)
            return
        while self.mode == "play" and now < target:
            self._serve(block=True, timeout=target - now)
            now = time.perf_counter()

    def _snapshot(self) -> None:
        self.last_sent = time.perf_counter()  # the rate counts from the start of each one
        msg = snapshot(
            self.net, self.data, self.grid, self.epoch, self.steps, self.inputs, self.plan
        )
        msg["mode"] = self.mode
        msg["pace"] = self.pace
        eta = self.run.optimizer.eta if self.run is not None else self.config.eta
        msg["diverged"] = self.verdict(msg["train_cost"], msg["speeds"], eta)
        self.send(msg, True)

    def _serve(self, block: bool, timeout: float | None = None) -> None:
        """Carry out the queued commands (waiting for one when ``block``, at most ``timeout``
        seconds)."""
        while True:
            try:
                kind, payload, done = self.commands.get(block=block, timeout=timeout)
            except queue.Empty:
                return
            try:
                done.set_result(self._do(kind, payload))
            except (Rebuild, Close):
                done.set_result(None)
                raise
            except Exception as exc:  # a bad question: answer it, keep the run
                done.set_exception(exc)
                self.send({"type": "error", "message": str(exc)}, False)
            if block:
                return

    def _do(self, kind: str, payload: Any) -> Any:
        if kind in ("play", "pause", "step", "epoch"):
            if self.net is None:
                raise ConfigError("nothing to train yet: send a configuration first")
            if kind == "play" and self.mode != "play":
                self.clock = (time.perf_counter(), self.epoch)
            self.mode = "paused" if kind == "pause" else kind
            return None
        if kind == "pace":
            self.pace, self.clock = payload, (time.perf_counter(), self.epoch)
            return None
        if kind == "config":
            return self._configure(payload)
        if kind == "upload":
            self.upload = payload
            self.config = replace(self.config or Config(), data="upload")
            raise Rebuild
        if kind == "reset":
            raise Rebuild
        if kind == "close":
            raise Close
        if self.net is None:
            raise ConfigError("nothing to show yet: send a configuration first")
        if kind == "trace":
            return self._trace(*payload)
        if kind == "unit":
            return self._unit(*payload)
        if kind == "model":
            return model_bytes(self.net, payload)
        if kind == "history":
            return history_csv(self.history, self.plan.speed)
        raise ConfigError(f"unknown command {kind!r}")

    def _configure(self, config: Config) -> None:
        """Take a new configuration: on the running network when only settings of training
        changed, else by building the run again (:class:`Rebuild`)."""
        changed = hot_change(self.config, config) if self.run is not None else None
        if changed is None:
            self.config = config
            raise Rebuild
        if not changed:  # the same configuration again: the run goes on as it is
            return
        retune(self.run, config, changed)
        self.config = config
        self.send({"type": "retuned", "config": config.to_dict(), "changed": changed}, False)
        if self.mode == "paused":  # the page's numbers then name the new settings
            self._snapshot()

    def _example(self, split: str, index: int) -> tuple[np.ndarray, Any]:
        """A point as the network's input features, and its label (or real target)."""
        train = split == "train"
        X, y = self.inputs[0 if train else 1], self.data.y_train if train else self.data.y_test
        if not 0 <= index < len(X):
            raise ConfigError(f"there is no {split} point {index}: the {split} set has {len(X)}")
        if self.data.kind == "regression":
            return X[index], np.array([y[index]])
        return X[index], int(y[index])

    def _trace(self, split: str, index: int) -> None:
        """One example's forward and backward pass (:func:`nnmath.diagnostics.trace`)."""
        x, label = self._example(split, index)
        self.point = (split, index)
        t = trace(self.net, x, label)
        self.send(
            {
                "type": "trace",
                "split": split,
                "index": index,
                "label": self.data.classes[label] if isinstance(label, int) else float(label[0]),
                "trace": t.to_dict(),
                "markdown": t.to_markdown(),
            },
            False,
        )

    def _unit(self, layer: int, unit: int) -> None:
        """Unit ``unit`` of layer ``layer`` (lecture numbering, 2..L): its incoming weights,
        its bias, and its z, a, δ for the point last traced (the first training point); in
        a network of layers, W and b of the layer's Dense and z, a, δ of its σ."""
        sizes = self.plan.sizes
        if not 2 <= layer <= len(sizes) or not 0 <= unit < sizes[layer - 1]:
            raise ConfigError(f"there is no unit {unit} in layer {layer} (sizes {sizes})")
        x, label = self._example(*self.point)
        t = trace(self.net, x, label).layers[self.plan.rows[layer - 2]]
        i = self.plan.dense[layer - 2]
        self.send(
            {
                "type": "unit",
                "layer": layer,
                "unit": unit,
                "activation": t.activation,
                "weights": np.asarray(self.net.weights[i][unit], dtype=float).tolist(),
                "bias": float(self.net.biases[i][unit]),
                "point": list(self.point),
                "z": t.z[unit],
                "a": t.a[unit],
                "delta": t.delta[unit],
            },
            False,
        )
