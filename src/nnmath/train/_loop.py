"""fit's loop: every epoch trains (the compiled epoch or the reference loop), measures and
calls the callbacks."""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

import numpy as np

from ..backend import get_namespace
from ..callbacks import Callback, History, Run, wants_batches
from ..engine import Evaluation
from ._setup import warn_not_bit_identical

__all__ = ["MONITORS", "train_epochs"]

#: what fit's ``monitor=`` may be: the training cost from the epoch's mini-batches, or the set
MONITORS = ("batch", "full")


def _hook(callbacks: list[Callback], name: str, *args: Any) -> None:
    for callback in callbacks:
        getattr(callback, name)(*args)


def train_epochs(
    run: Run, callbacks: list[Callback], fast: bool | str, monitoring: tuple[str, bool]
) -> History:
    """The loop: every epoch from ``run.start_epoch`` until ``run.epochs`` or a stop."""
    with _layers_blas(run.net):  # before on_train_begin, whose checks run products too
        return _train_epochs(run, callbacks, fast, monitoring)


def _train_epochs(
    run: Run, callbacks: list[Callback], fast: bool | str, monitoring: tuple[str, bool]
) -> History:
    net, history = run.net, run.history
    try:
        _hook(callbacks, "on_train_begin", net, history)
        if run.optimizer.state and get_namespace(run.X) is not np:
            run.optimizer.to(net.backend)  # e.g. a resumed optimizer's NumPy state
        # the threaded C epoch runs BLAS on one thread; holding it there between epochs too
        # keeps OpenBLAS's own workers, which spin for a while after each call, off the cores
        with contextlib.ExitStack() as stack:
            epochs = _Epochs(run, callbacks, fast, monitoring, stack)
            for epoch in range(run.start_epoch, run.epochs):
                if run.stop_training:
                    break
                _hook(callbacks, "on_epoch_begin", net, history, epoch)
                epochs.train(epoch)
                epochs.measure(epoch)
                _hook(callbacks, "on_epoch_end", net, history, epoch)
    except BaseException as exc:
        _hook(callbacks, "on_exception", net, history, exc)
        raise
    _hook(callbacks, "on_train_end", net, history)
    return history


class _Epochs:
    """One run's epochs: the compiled epoch (:mod:`nnmath.engine`) or the reference loop, and
    the measurements after each (:class:`~nnmath.engine.Evaluation`)."""

    def __init__(
        self,
        run: Run,
        callbacks: list[Callback],
        fast: bool | str,
        monitoring: tuple[str, bool],
        stack: contextlib.ExitStack,
    ) -> None:
        monitor, self.training_accuracy = monitoring
        if monitor not in MONITORS:
            raise ValueError(
                f"monitor must be one of {', '.join(map(repr, MONITORS))}, got {monitor!r}"
            )
        self.run, self.scores = run, None
        self.batch_callbacks = [c for c in callbacks if wants_batches(c)]
        self.runner, reason = self._runner(fast)
        warn_not_bit_identical(run, self.runner, reason)  # before extra holds this run's path
        extra = run.history.extra
        extra["train_path"] = self.runner.backend if self.runner is not None else "reference"
        extra["train_threads"] = extra["train_product_parts"] = 1
        extra.pop("fallback_reason", None)
        if reason is not None:
            extra["fallback_reason"] = reason
        self.evaluate = Evaluation(run.net, stack)  # before BLAS is held on one thread
        # a subclassed Network is asked for its own cost: the whole set, after the epoch
        self.monitor = monitor if self.evaluate.own_methods else "full"
        extra["monitor"] = self.monitor
        if self.runner is not None:
            stack.enter_context(self.runner.blas_on_one_thread())
            stack.callback(self.runner.close)
        want = run.net.n_outputs > 1 and self.evaluate.own_methods
        full = self.monitor == "full" and self.training_accuracy
        self.labels = self.evaluate.labels(run.Y) if want and full else None
        valid = run.validation_data
        self.labels_v = self.evaluate.labels(valid[1]) if want and valid is not None else None

    def _runner(self, fast: bool | str) -> tuple[Any, str | None]:
        """The compiled epoch's runner, or ``None`` and why not."""
        run = self.run
        if not fast:
            return None, "fast=False"
        if self.batch_callbacks:
            names = ", ".join(type(getattr(c, "fn", c)).__name__ for c in self.batch_callbacks)
            return None, f"callbacks with on_batch_end need the reference loop ({names})"
        from ..engine import PartsRunner, epoch_runner, parts_reason, unsupported_reason

        args = (run.net, run.optimizer, run.X, run.Y)
        runner = epoch_runner(*args, run.mini_batch_size, "auto" if fast is True else fast)
        if runner is not None:
            return runner, None
        why = (
            unsupported_reason(*args, run.mini_batch_size)
            or "the fast path does not support this run"
        )
        whole = parts_reason(run.net, run.X, run.mini_batch_size) if fast is True else None
        if fast is True and whole is None:
            parts = "; each mini-batch in two parts on two threads (nnmath.engine.parts)"
            return PartsRunner(*args, run.mini_batch_size), why + parts
        if whole is not None and getattr(run.net, "layered", False):
            why += f"; {whole}"  # why not the two parts either
        return None, why

    def train(self, epoch: int) -> None:
        """Shuffle and train one epoch; record its η and its time."""
        run, net = self.run, self.run.net
        history = run.history
        history.extra.setdefault("eta", []).append(run.optimizer.eta)
        t0 = time.perf_counter()
        perm = run.rng.permutation(run.X.shape[0])  # on the host: the same order on every backend
        key = int(run.rng.integers(2**63)) if any(getattr(net, "dropout", ())) else None
        if get_namespace(run.X) is not np:
            perm = net.backend.asarray(perm)  # one small copy per epoch
        # overflow shows up as a non-finite cost, reported by DivergenceCheck with a remedy
        with np.errstate(over="ignore", invalid="ignore"):
            if self.runner is None:
                self.scores = self._reference_epoch(epoch, perm, key)
            else:  # nnmath.engine: the same mini-batches in reused buffers
                kw = {} if key is None else {"dropout_key": key}
                self.scores = self.runner.run_epoch(perm, score=self.monitor == "batch", **kw)
                history.extra["train_threads"] = self.runner.threads_run
                history.extra["train_product_parts"] = self.runner.product_parts
            net.backend.synchronize()  # GPU work is queued: wait before reading the clock
        history.epoch_time.append(time.perf_counter() - t0)

    def _reference_epoch(self, epoch: int, perm: Any, key: int | None) -> tuple | None:
        """The lecture's loop: backprop each mini-batch ``perm[k:k+B]``, then step; with
        ``monitor="batch"``, also ``Σ_x C_x`` and the hits of the mini-batches' a^L."""
        run = self.run
        net, opt, X, Y, B = run.net, run.optimizer, run.X, run.Y, run.mini_batch_size
        xp = get_namespace(X)
        n = X.shape[0]
        n_batches = -(-n // B)
        score, total, hits = self.monitor == "batch", 0.0, 0
        for k in range(0, n, B):
            idx = perm[k : k + B]
            x, y = xp.take(X, idx, axis=0).T, xp.take(Y, idx, axis=0).T
            if key is None:
                grads = net.backprop_columns(x, y)
            else:  # dropout: the masks of rows k.. of this epoch, from the epoch's key
                grads = net.backprop_columns(x, y, masks=net.dropout_masks(key, k, x.shape[1]))
            net.update_state(grads)  # running statistics, from this step's forward pass
            if score:  # device scalars: added up on the device, read once after the epoch
                a = grads.activations[-1]
                total = total + xp.sum(net.cost_function.fn(a, y))
                hits = hits + xp.sum(xp.argmax(a, axis=0) == xp.argmax(y, axis=0))
            opt.step(net, grads)
            for callback in self.batch_callbacks:
                callback.on_batch_end(net, run.history, epoch, k // B, n_batches)
        return (float(total), int(hits)) if score else None

    def measure(self, epoch: int) -> None:
        """The epoch's training cost (and accuracy), validation cost and accuracy, best epoch."""
        run, net = self.run, self.run.net
        history = run.history
        if self.scores is not None:  # monitor="batch": what the epoch's forward passes gave
            n = run.X.shape[0]
            cost, hits = self.scores
            cost, accuracy = cost / n, (hits / n if net.n_outputs > 1 else None)
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                cost, accuracy = self.evaluate(run.X, run.Y, self.labels)
        history.training_cost.append(cost)
        if not math.isfinite(cost):
            return  # nothing more to measure: DivergenceCheck ends the run
        if self.training_accuracy:
            if accuracy is None:
                accuracy = net.accuracy(run.X, run.Y)
            history.training_accuracy.append(accuracy)
        if run.validation_data is not None:
            self._validate(epoch)

    def _validate(self, epoch: int) -> None:
        run, net = self.run, self.run.net
        history, (Xv, Yv) = run.history, run.validation_data
        vcost, vaccuracy = self.evaluate(Xv, Yv, self.labels_v)
        history.validation_cost.append(vcost)
        classify = net.n_outputs > 1
        if classify:
            if vaccuracy is None:
                vaccuracy = net.accuracy(Xv, Yv)
            history.validation_accuracy.append(vaccuracy)
        score = history.validation_accuracy[-1] if classify else -vcost
        if score > _score(history, history.best_epoch):
            history.best_epoch, run.best_params = epoch, net.copy_parameters()


@contextlib.contextmanager
def _layers_blas(net: Any) -> Any:
    """A network of layers trains with NumPy's OpenBLAS on one thread: its products are
    small (a convolution's at mini-batch 10, 20 × 25 × 5,760) and a second BLAS thread that
    is off its core stalls every one of them (``benchmarks/RESULTS.md``, "Convolution on
    the CPU"); one thread also makes the weights independent of the thread count."""
    from ..engine.blas import blas_threads, one_blas_thread

    blas = blas_threads() if getattr(net, "layered", False) else None
    if net.backend.name != "numpy" or blas is None:
        yield
        return
    with one_blas_thread(blas):  # counted: a fit in another thread keeps its own count
        yield


def _score(history: History, epoch: int | None) -> float:
    """The validation score of ``epoch``: accuracy, or −cost for one output; −∞ for none."""
    if epoch is None:
        return -math.inf
    if history.validation_accuracy:
        return history.validation_accuracy[epoch]
    return -history.validation_cost[epoch]
