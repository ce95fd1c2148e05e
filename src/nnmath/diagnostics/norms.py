"""Per-layer gradient norms: Nielsen's "speed of learning" ‖∂C/∂b^l‖, once or during training.

Layers are listed first hidden layer first, output layer last (the lecture's ``l = 2, …, L``
at code index ``l − 2``). In a network of layers, ``nabla_b`` has one entry per array of
``net.biases`` (a BatchNorm's β among them, the layers inside a Residual block in order), and
``speed`` one per layer of weights: a layer whose b a BatchNorm normalises away is measured by
that BatchNorm's ‖∂C/∂β^l‖ (:func:`speed_index`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import to_numpy

__all__ = ["GradientNorms", "GradientTracker", "gradient_norms", "norms_of", "speed_index"]


@dataclass
class GradientNorms:
    """Per layer of weights, first hidden layer first, output layer last.

    Attributes
    ----------
    nabla_b : list of float
        ‖∂C/∂b^l‖, the norm of the bias gradient averaged over the examples: Nielsen's
        "speed of learning" of layer l (chapter 5).
    nabla_w : list of float
        ‖∂C/∂w^l‖ (Frobenius norm).
    index : list of int, optional
        The entries that are speeds of learning (:func:`speed_index`; None: all of them).
    """

    nabla_b: list[float]
    nabla_w: list[float]
    index: list[int] | None = None

    @property
    def speed(self) -> list[float]:
        """The speed of learning of each layer: ``nabla_b`` without the layers whose b a
        BatchNorm normalises away; such a layer's speed is its BatchNorm's ‖∂C/∂β^l‖."""
        if self.index is None:
            return list(self.nabla_b)
        return [self.nabla_b[i] for i in self.index]


def gradient_norms(net: Any, X: Any, Y: Any) -> GradientNorms:
    """‖∂C/∂b^l‖ and ‖∂C/∂w^l‖ for every layer, from one backward pass over ``X`` (the
    mini-batch statistics of a BatchNorm, as in training); ``.speed`` the speed of learning
    of each layer of weights (a batch-normalised layer's: its β's).

    Parameters
    ----------
    net : Network
    X : array-like, shape (n, sizes[0])
    Y : array-like, shape (n, sizes[-1]) or labels (n,)

    Returns
    -------
    GradientNorms
    """
    return norms_of(net.backprop(X, Y), speed_index(net))


def _flat(layers: list[Any]) -> list[Any]:
    """The layers in the order their parameters come, a layer of layers (a Residual) opened."""
    out = []
    for layer in layers:
        inner = layer.sublayers()
        out += _flat(inner) if inner else [layer]
    return out


def speed_index(net: Any) -> list[int] | None:
    """Which entries of ``nabla_b`` are speeds of learning (None: all, a sizes network):
    :func:`speed_entries` of its layers."""
    if not getattr(net, "layered", False):
        return None
    return speed_entries(net.layers)


def speed_entries(layers: list[Any]) -> list[int]:
    """Which entries of the ``nabla_b`` of a network of ``layers`` are speeds of learning.

    A layer with parameters and no σ of its own (``Dense(n, "identity")``, a convolution)
    whose output a BatchNorm takes next has ``∂C/∂b = 0``: b shifts z and its mini-batch mean
    μ_B alike, so ẑ does not move. Its learning is measured by the BatchNorm's β, the next
    entry; it is left out. Built or not, the layers say it (a sweep counts its columns so).
    """
    flat = _flat(layers)
    index, k = [], 0
    for layer, after in zip(flat, [*flat[1:], None]):
        if not layer.has_parameters:
            continue
        sigma = getattr(layer.activation, "name", "identity")
        if not (sigma == "identity" and getattr(after, "name", "") == "batchnorm"):
            index.append(k)
        k += 1
    return index


def gradient_norms_of(net: Any, g: Any) -> GradientNorms:
    """:func:`gradient_norms` of the gradients ``g`` of ``net``, already computed."""
    return norms_of(g, speed_index(net))


def norms_of(g: Any, index: list[int] | None = None) -> GradientNorms:
    """‖∂C/∂b^l‖ and ‖∂C/∂w^l‖ of the gradients ``g`` of one backward pass (a ``Gradients``);
    ``index``: which are speeds of learning (:func:`speed_index`)."""
    return GradientNorms(
        nabla_b=[float(np.linalg.norm(to_numpy(nb))) for nb in g.nabla_b],
        nabla_w=[float(np.linalg.norm(to_numpy(nw))) for nw in g.nabla_w],
        index=index,
    )


class GradientTracker:
    """A :func:`~nnmath.train.fit` callback recording the speed of learning of every layer.

    Records :func:`gradient_norms` on a fixed subset of the training rows (the first
    ``max_rows``, so every entry measures the same examples) into
    ``history.extra[key]``, a dict of lists (plain Python, JSON-ready)::

        {"epoch": [0, 1, 2, ...],        # fractional when recorded inside an epoch
         "step": [0, 1, 2, ...],         # mini-batches done so far
         "nabla_b": [[‖∂C/∂b^2‖, ...], ...],   # one list per entry, one float per layer
         "nabla_w": [[‖∂C/∂w^2‖, ...], ...]}

    The first entry is the network before training (epoch 0). After that one entry per
    epoch (``every=None``) or one every ``every`` mini-batches. Per epoch it measures after
    the epoch with the reference backprop, so fit keeps the compiled epoch
    (``needs_batches`` is false); every ``every`` mini-batches needs the reference loop.

    Parameters
    ----------
    X : array-like, shape (n, sizes[0])
    Y : array-like, shape (n, sizes[-1]) or labels (n,)
    every : int, optional
        Record every ``every`` mini-batches instead of every epoch.
    max_rows : int
        Use at most this many rows (the first ones) to measure: the cost of one entry is one
        backward pass over them.
    key : str
        Key in ``history.extra``.

    Examples
    --------
    >>> tracker = GradientTracker(X, y)                           # doctest: +SKIP
    >>> history = net.fit(X, y, epochs=5, callbacks=[tracker])    # doctest: +SKIP
    >>> history.extra["gradient_norms"]["nabla_b"][-1]            # doctest: +SKIP
    """

    def __init__(
        self,
        X: Any,
        Y: Any,
        every: int | None = None,
        max_rows: int = 1000,
        key: str = "gradient_norms",
    ) -> None:
        if every is not None and (int(every) != every or every < 1):
            raise ValueError(f"every must be a positive number of mini-batches, got {every}")
        if int(max_rows) != max_rows or max_rows < 1:
            raise ValueError(f"max_rows must be a positive integer, got {max_rows}")
        self.X, self.Y = X[: int(max_rows)], Y[: int(max_rows)]
        self.every = None if every is None else int(every)
        self.key = key
        self._step = 0
        self._n_batches = 0

    @property
    def needs_batches(self) -> bool:
        """Whether fit must call :meth:`on_batch_end` (and so train on the reference loop):
        only when recording every ``every`` mini-batches."""
        return self.every is not None

    def set_run(self, run: Any) -> None:
        """Keep the number of mini-batches of an epoch, ``⌈n / mini_batch_size⌉``, for the
        ``step`` of the entries recorded per epoch."""
        self._n_batches = -(-int(run.X.shape[0]) // int(run.mini_batch_size))

    def _record(self, net: Any, history: Any, epoch: float) -> None:
        rec = history.extra.setdefault(
            self.key, {"epoch": [], "step": [], "nabla_b": [], "nabla_w": []}
        )
        norms = gradient_norms(net, self.X, self.Y)
        rec["epoch"].append(epoch)
        rec["step"].append(self._step)
        rec["nabla_b"].append(norms.nabla_b)
        rec["nabla_w"].append(norms.nabla_w)

    def on_train_begin(self, net: Any, history: Any) -> None:
        """Record the network before the first epoch (epoch 0, or the epoch a resumed run
        starts from, unless the restored history already has it)."""
        done = len(history.training_cost)
        rec = history.extra.get(self.key)
        if rec and rec["epoch"]:
            self._step = int(rec["step"][-1])
            if rec["epoch"][-1] == done:
                return
        else:
            self._step = 0
        self._record(net, history, done)

    def on_batch_end(self, net: Any, history: Any, epoch: int, batch: int, n_batches: int) -> None:
        """Count mini-batches; record every ``every`` of them (per epoch: nothing to do,
        :meth:`__call__` counts the epoch's mini-batches)."""
        if self.every is None:
            return
        self._step += 1
        if self._step % self.every == 0:
            self._record(net, history, epoch + (batch + 1) / n_batches)

    def __call__(self, net: Any, history: Any, epoch: int) -> None:
        """After each epoch: record (when tracking per epoch)."""
        if self.every is None:
            self._step += self._n_batches  # on_batch_end is not called per epoch
            self._record(net, history, epoch + 1)
