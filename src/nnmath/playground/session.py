"""One browser tab's run: a network, its data and a worker thread that trains it with fit.

The worker thread owns the network: it calls :meth:`Network.fit` once for the whole run,
with a callback (:class:`Controller`) whose ``on_batch_end`` and ``on_epoch_end`` are where
the page's commands take effect (play, pause, one step, one epoch), where snapshots are
sent, and where questions about the network (a trace, a unit, an export) are answered, while
the weights are between two updates. Pausing is the callback waiting for the next command;
a reset or a new configuration ends fit (by raising :class:`Rebuild` in the callback) and
starts a new one from the same seed, so the same configuration gives the same weights and the
same numbers as ``Network.fit`` on its own. Nothing here touches the event loop: messages go
out through ``outbox`` (thread-safe; the server sends them).
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
from ..diagnostics import GradientTracker, trace
from ..network import Network
from .config import Config, ConfigError
from .export import history_csv, model_bytes
from .snapshot import Grid, b64, snapshot
from .toy import ToyData, make_toy

__all__ = ["Session", "Controller", "build_network", "fit_options", "MAX_EPOCHS"]

MAX_EPOCHS = 100_000  # one fit call for the whole run; the page pauses it long before


class Rebuild(Exception):  # noqa: N818 - a signal to the worker, not an error
    """Ends the current fit so that the worker builds the run again (reset, new config)."""


class Close(Exception):  # noqa: N818
    """Ends the worker: the tab went away."""


def build_network(config: Config, n_classes: int) -> Network:
    """``[2, *layers, K]`` with one σ per hidden layer and the output's, seeded."""
    sizes = [2, *config.layers, n_classes]
    return Network(
        sizes,
        activation=[*config.activations, config.output],
        cost=config.cost,
        init=config.init,
        seed=config.seed,
        dropout=config.dropout if config.layers else 0.0,
    )


def fit_options(config: Config, data: ToyData) -> dict[str, Any]:
    """The keyword arguments of :meth:`Network.fit` for a run (the test split is fit's
    validation data, so fit measures it after every epoch)."""
    return {
        "mini_batch_size": config.batch,
        "optimizer": config.optimizer,
        "eta": config.eta,
        "lmbda": config.lmbda,
        "validation_data": (data.X_test, data.y_test),
        "seed": config.seed,
        "monitor_training_accuracy": True,
        "monitor": "full",  # the costs of the network after each epoch, as the page shows them
        # the speed of learning of every layer after every epoch, into fit's History (before
        # the session's Controller, so a pause at an epoch's end sees that epoch's entry)
        "callbacks": [GradientTracker(data.X_train, data.y_train)],
        "fast": False,  # the callback acts after every mini-batch: fit's reference loop
    }


class Controller(Callback):
    """fit's callback for a playground session: every hook hands over to the session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def on_train_begin(self, net: Any, history: Any) -> None:
        self.session.history = history
        self.session.tick(0.0, boundary=True)

    def on_batch_end(self, net: Any, history: Any, epoch: int, batch: int, n_batches: int) -> None:
        self.session.steps += 1
        self.session.tick(epoch + (batch + 1) / n_batches, boundary=False)

    def on_epoch_end(self, net: Any, history: Any, epoch: int) -> None:
        self.session.tick(float(epoch + 1), boundary=True)


class Session:
    """The run of one tab; ``send(message, droppable)`` delivers to the page, ``ready()``
    says whether the last snapshot has gone out (so no snapshot is computed for nothing)."""

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
            options = fit_options(self.config, self.data)
            options["callbacks"].append(Controller(self))
            self.net.fit(self.data.X_train, self.data.y_train, epochs=MAX_EPOCHS, **options)
        except (Rebuild, Close):
            raise
        except TrainingDiverged as exc:
            return f"training diverged: {exc}"
        except Exception as exc:  # never let a run take the worker down
            return f"the run stopped: {type(exc).__name__}: {exc}"
        return "the run reached its last epoch"

    def _halt(self, why: str) -> None:
        """Report ``why`` and serve the page's questions until a reset or a new config."""
        self.mode = "paused"
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
        self.net = build_network(c, self.data.n_classes)
        self.grid = Grid(self.data.bounds())
        self.steps, self.epoch, self.mode, self.point = 0, 0.0, "paused", ("train", 0)
        d = self.data
        self.send(
            {
                "type": "built",
                "config": c.to_dict(),
                "sizes": self.net.sizes,
                "classes": d.classes,
                "bounds": list(self.grid.bounds),
                "train": {"x": b64(d.X_train.astype("<f4")), "y": b64(d.y_train.astype("u1"))},
                "test": {"x": b64(d.X_test.astype("<f4")), "y": b64(d.y_test.astype("u1"))},
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
        if self.mode == "paused":
            self._snapshot()
            while self.mode == "paused":
                self._serve(block=True)
        elif time.perf_counter() - self.last_sent >= self.interval and self.ready():
            self._snapshot()

    def _snapshot(self) -> None:
        self.last_sent = time.perf_counter()  # the rate counts from the start of each one
        msg = snapshot(self.net, self.data, self.grid, self.epoch, self.steps)
        msg["mode"] = self.mode
        self.send(msg, True)

    def _serve(self, block: bool) -> None:
        """Carry out the queued commands (waiting for one when ``block``)."""
        while True:
            try:
                kind, payload, done = self.commands.get(block=block)
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
            self.mode = "paused" if kind == "pause" else kind
            return None
        if kind == "config":
            self.config = payload
            raise Rebuild
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
            return history_csv(self.history)
        raise ConfigError(f"unknown command {kind!r}")

    def _example(self, split: str, index: int) -> tuple[np.ndarray, int]:
        X, y = (
            (self.data.X_train, self.data.y_train)
            if split == "train"
            else (self.data.X_test, self.data.y_test)
        )
        if not 0 <= index < len(X):
            raise ConfigError(f"there is no {split} point {index}: the {split} set has {len(X)}")
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
                "label": self.data.classes[label],
                "trace": t.to_dict(),
                "markdown": t.to_markdown(),
            },
            False,
        )

    def _unit(self, layer: int, unit: int) -> None:
        """Unit ``unit`` of layer ``layer`` (lecture numbering, 2..L): its incoming weights,
        its bias, and its z, a, δ for the point last traced (the first training point)."""
        sizes = self.net.sizes
        if not 2 <= layer <= len(sizes) or not 0 <= unit < sizes[layer - 1]:
            raise ConfigError(f"there is no unit {unit} in layer {layer} (sizes {sizes})")
        x, label = self._example(*self.point)
        t = trace(self.net, x, label).layers[layer - 2]
        i = layer - 2
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
