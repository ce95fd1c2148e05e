"""A whole data set through the network, chunk by chunk: the summed cost and the hits.

:meth:`Network.cost <nnmath.network.Network.cost>`, :meth:`~nnmath.network.Network.evaluate`
and fit's per-epoch evaluation (:class:`nnmath.engine.Evaluation`, which shares the chunks
between threads) all add the same chunk sums in the same order, so they agree bit for bit.
"""

from __future__ import annotations

from typing import Any

from .backend import get_namespace
from .layers.dense import dense_z

__all__ = ["EVAL_ROWS", "chunk_scores", "n_chunks", "output"]

EVAL_ROWS = 5_000  # rows per forward pass when a whole data set is evaluated


def n_chunks(n: int) -> int:
    """How many chunks of :data:`EVAL_ROWS` rows ``n`` rows make (the last may be short)."""
    return -(-n // EVAL_ROWS)


def output(net: Any, X: Any) -> Any:
    """ŷ = a^L for each row of ``X``, already checked and on the backend: (m, sizes[-1])."""
    if getattr(net, "layered", False):  # a network of layers: each layer's forward
        return net.feed_columns(X.T).T
    a = X.T
    for W, b, sigma in zip(net.weights, net.biases, net.activation_functions):
        a = sigma(dense_z(W, a, b))  # a^l = σ(W^l a^{l-1} + b^l)
    return a.T


def chunk_scores(net: Any, X: Any, Y: Any, labels: Any, chunks: Any) -> list[tuple[float, int]]:
    """Σ_x C_x and the hits of each chunk of rows, one forward pass per chunk.

    Parameters
    ----------
    net : Network
    X, Y : arrays (n, sizes[0]), (n, sizes[-1])
        Checked rows on the network's backend (:meth:`Network.check_inputs`,
        :meth:`Network.check_targets`).
    labels : array (n,) or None
        The class of each row; ``None``: no hits counted (each chunk's hits are -1).
    chunks : iterable of int
        Chunk ``c`` is the rows ``[c·R, (c+1)·R)`` with ``R = EVAL_ROWS``, so that memory stays
        bounded whatever ``n``.

    Returns
    -------
    list of (float, int)
        Per chunk: Σ_x C_x over its rows, and how many rows have ``argmax a^L == labels``.
    """
    xp = get_namespace(X)
    scores = []
    for c in chunks:
        rows = slice(c * EVAL_ROWS, (c + 1) * EVAL_ROWS)
        A = output(net, X[rows])
        chunk_cost = float(xp.sum(net.cost_function.fn(A.T, Y[rows].T)))
        hits = -1 if labels is None else int(xp.sum(xp.argmax(A, axis=1) == labels[rows]))
        scores.append((chunk_cost, hits))
    return scores
