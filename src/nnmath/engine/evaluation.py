"""fit's per-epoch evaluation of a whole data set, shared between threads where BLAS allows."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from .._scores import chunk_scores, n_chunks
from ..backend import get_namespace

__all__ = ["Evaluation"]


def _chunk_scores(net: Any, X: Any, Y: Any, labels: Any, chunks: Any, errors: dict) -> list:
    with np.errstate(**errors):
        return chunk_scores(net, X, Y, labels, chunks)


class Evaluation:
    """fit's per-epoch cost and accuracy over a whole data set: the numbers
    :meth:`Network.cost` and :meth:`Network.accuracy` give, from one forward pass.

    On NumPy's OpenBLAS the chunks of :data:`nnmath.network.EVAL_ROWS` rows are shared
    between as many Python threads as that BLAS may use (NumPy lets go of the GIL in its
    products and element-wise loops), each calling BLAS on one thread, and their costs are
    added in chunk order, as :meth:`Network.cost` adds them. The inputs were checked by
    ``fit``, so they are not checked again each epoch. A subclassed ``Network`` is evaluated
    through its own ``cost`` and ``accuracy``.
    """

    def __init__(self, net: Any, stack: contextlib.ExitStack) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from ..layer_network import LayerNetwork
        from ..network import Network
        from .blas import blas_threads, thread_budget

        self.net, self.threads = net, 1
        # a network of layers has Network's cost and accuracy too: monitor="batch" holds
        self.own_methods = type(net) in (Network, LayerNetwork)
        self.pool = None
        self.blas = blas_threads() if net.backend.name == "numpy" else None
        if self.blas is not None and self.own_methods:  # a layer's chunks stay small
            self.threads = thread_budget(self.blas)
        if self.threads > 1:
            self.pool = stack.enter_context(
                ThreadPoolExecutor(self.threads, thread_name_prefix="nnmath-eval")
            )

    def labels(self, Y: Any) -> Any:
        """The class of each one-hot row of ``Y`` (classifiers), on the backend."""
        return get_namespace(Y).argmax(Y, axis=1)

    def __call__(self, X: Any, Y: Any, labels: Any = None) -> tuple[float, float | None]:
        """The mean cost over the rows and, when ``labels`` is given, the accuracy."""
        net = self.net
        if not self.own_methods:  # fit asks a subclass for its accuracy itself (no labels)
            return net.cost(X, Y), None
        n = X.shape[0]
        chunks = n_chunks(n)
        if self.pool is None or chunks < 2:
            scores = chunk_scores(net, X, Y, labels, range(chunks))
        else:
            T = min(self.threads, chunks)
            parts = [range(t, chunks, T) for t in range(T)]  # every T-th chunk
            from .blas import one_blas_thread

            with one_blas_thread(self.blas):  # T threads, one BLAS thread each (counted hold)
                errors = np.geterr()  # NumPy's error state is per thread: the workers get ours
                done = [
                    f.result()
                    for f in [
                        self.pool.submit(_chunk_scores, net, X, Y, labels, part, errors)
                        for part in parts
                    ]
                ]
            scores = [done[c % T][c // T] for c in range(chunks)]
        total = 0.0
        for chunk_cost, _ in scores:
            total += chunk_cost
        accuracy = None if labels is None else sum(h for _, h in scores) / n
        return total / n, accuracy
