"""A network of layers' mini-batches in two parts, on two cores.

The compiled epoch trains dense networks; a network with a convolution or a pooling layer
trains on the reference loop, one layer's NumPy calls at a time with OpenBLAS on one thread
(its products are small, and a second BLAS thread that is off its core stalls each of them).
That uses one core. :class:`PartsRunner` is the same loop with each mini-batch cut into two
parts of its rows: the reference's own ``backprop_columns`` on each part, the second on a
helper thread (NumPy and BLAS leave Python's lock while they compute), then the optimizer's
step with the parts' gradients weighted by their rows,

    ∂C/∂w = (m₀/m) ∂C₀/∂w + (m₁/m) ∂C₁/∂w,

the mini-batch mean of the lecture's BP4, summed in another order (its last bits differ from
the reference's). The cut depends only on the mini-batch, never on who runs a part: the
epoch's thread runs the first part, then the second too if the helper has not started it
(another process holds the helper's core), with the same bits.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._gradients import Gradients
from ..backend import get_namespace
from .sharing import THREADS_MIN_ROWS, default_threads

__all__ = ["PartsRunner", "parts_reason", "parts_threads"]


def parts_threads(mini_batch_size: int) -> int:
    """The threads a network of layers' mini-batch of this many rows is shared between: 2
    where the compiled epoch would share it between two or more (NumPy's OpenBLAS may use
    two threads, and it has ``THREADS_MIN_ROWS`` rows or more), else 1."""
    return min(2, default_threads(mini_batch_size))


def parts_reason(net: Any, X: Any, mini_batch_size: int) -> str | None:
    """Why :class:`PartsRunner` does not train this run, or ``None`` when it does."""
    if not getattr(net, "layered", False):
        return "not a network of layers"
    if net.backend.name != "numpy" or get_namespace(X) is not np:
        return f"the {net.backend.name} backend runs each mini-batch whole"
    coupled = [type(lay).__name__ for lay in net.layers if lay.couples_examples]
    if coupled:  # its training pass normalises over the whole mini-batch
        return f"a {coupled[0]} couples the examples of a mini-batch: it trains whole"
    rows = min(int(mini_batch_size), X.shape[0])
    if rows < THREADS_MIN_ROWS:
        return (
            f"a mini-batch of {rows} rows trains whole (in two parts from {THREADS_MIN_ROWS} rows)"
        )
    if parts_threads(rows) < 2:
        return "NumPy's OpenBLAS may use one thread here: each mini-batch trains whole"
    return None


class PartsRunner:
    """fit's reference loop with each mini-batch in two parts on two threads.

    It has the compiled epoch's interface (:class:`nnmath.engine.EpochRunner`):
    :meth:`run_epoch`, ``backend`` (``"parts"``), ``threads_run`` (2), ``product_parts``
    (1), ``parts_taken`` (of the last epoch's second parts, how many the epoch's own thread
    ran because the helper had not started them), ``blas_on_one_thread`` and :meth:`close`.

    Parameters
    ----------
    net : LayerNetwork
        With no layer that couples the examples (:func:`parts_reason`).
    optimizer : Optimizer
    X, Y : arrays (n, sizes[0]), (n, sizes[-1])
    mini_batch_size : int
    """

    backend = "parts"
    product_parts = 1

    def __init__(self, net: Any, optimizer: Any, X: Any, Y: Any, mini_batch_size: int) -> None:
        self.net, self.optimizer, self.X, self.Y = net, optimizer, X, Y
        self.B = max(1, min(int(mini_batch_size), X.shape[0]))
        self.threads = self.threads_run = 2
        self.parts_taken = 0
        self._helper = concurrent.futures.ThreadPoolExecutor(1, "nnmath-part")
        self._schedule = "first-come"  # tests: "own" (every part here), "helper" (always wait)

    def close(self) -> None:
        """Let the helper thread go (fit calls it when the run ends)."""
        self._helper.shutdown(wait=True)

    @contextlib.contextmanager
    def blas_on_one_thread(self) -> Iterator[None]:
        """fit already holds OpenBLAS on one thread for a network of layers."""
        yield

    def run_epoch(
        self, perm: Any, dropout_key: int | None = None, score: bool = False
    ) -> tuple[float, int] | None:
        """Train on the mini-batches ``perm[k:k+B]`` in order, as fit's reference loop does.

        Returns
        -------
        (float, int) or None
            With ``score``: ``Σ_x C_x`` and the rows whose ``argmax a^L`` is that of ``y``,
            over the epoch's forward passes.
        """
        net, X, B = self.net, self.X, self.B
        total, hits, self.parts_taken = 0.0, 0, 0
        errors = np.geterr()  # the helper thread computes under the caller's settings
        for k in range(0, X.shape[0], B):
            idx = perm[k : k + B]
            m = idx.shape[0]
            cut = m - m // 2
            parts = [(k, idx[:cut]), (k + cut, idx[cut:])] if m >= 2 else [(k, idx)]
            grads: list[Any] = [None] * len(parts)
            pending = None
            if len(parts) == 2 and self._schedule != "own":
                pending = self._helper.submit(self._part, *parts[1], dropout_key, errors)
            grads[0] = self._part(*parts[0], dropout_key, errors)
            if len(parts) == 2:
                if pending is not None and (self._schedule == "helper" or not pending.cancel()):
                    grads[1] = pending.result()
                else:  # the helper has not started it: run it here, the same call
                    grads[1] = self._part(*parts[1], dropout_key, errors)
                    self.parts_taken += 1
            if score:
                for g, y in grads:
                    a = g.activations[-1]
                    total += float(np.sum(net.cost_function.fn(a, y)))
                    hits += int(np.sum(np.argmax(a, axis=0) == np.argmax(y, axis=0)))
            rows = [part.shape[0] for _, part in parts]
            self.optimizer.step(net, _weighted([g for g, _ in grads], rows))
        return (total, hits) if score else None

    def _part(self, start: int, rows: Any, key: int | None, errors: dict) -> tuple[Gradients, Any]:
        """Backprop of the examples ``rows`` (positions ``start, …`` of the epoch), and their
        targets as columns."""
        net = self.net
        x, y = np.take(self.X, rows, axis=0).T, np.take(self.Y, rows, axis=0).T
        masks = None if key is None else net.dropout_masks(key, start, rows.shape[0])
        with np.errstate(**errors):
            return net.backprop_columns(x, y, masks=masks), y


def _weighted(grads: list[Gradients], rows: list[int]) -> Gradients:
    """The mini-batch's mean gradients from its parts' means, each weighted by its rows."""
    if len(grads) == 1:
        return grads[0]
    m = sum(rows)
    w0, w1 = rows[0] / m, rows[1] / m
    g0, g1 = grads
    nabla_w = [w0 * a + w1 * b for a, b in zip(g0.nabla_w, g1.nabla_w)]
    nabla_b = [w0 * a + w1 * b for a, b in zip(g0.nabla_b, g1.nabla_b)]
    return Gradients(nabla_w, nabla_b)
