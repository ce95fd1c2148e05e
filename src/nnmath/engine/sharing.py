"""How the compiled epoch shares the cores: the threads that split each mini-batch, and on
one thread the parts each large matrix product is cut into (``_threads.h``, ``_crew.h``).

The epoch runner (:mod:`nnmath.engine.runner`) asks these once per training run; ``fit``
records both in ``history.extra`` and a resume that would change them warns.
"""

from __future__ import annotations

import numpy as np

from .blas import blas_threads, gemm_addresses, thread_budget

__all__ = [
    "GEMM_ROWS",
    "THREADS_MIN_ROWS",
    "default_threads",
    "default_product_parts",
    "epoch_threads",
    "product_parts",
]

#: Rows per BLAS call of a narrow layer's products in the threaded C epoch. A thread's share
#: of a mini-batch (64 rows at batch 128 on 2 threads) goes to ``?gemm`` in calls of this
#: many rows when the layer has at most 32 outputs, one call of the whole share would exceed
#: 10^6 multiply-adds and each call of this many rows would not (``nnm_call_rows`` in
#: ``_ckernels.c``): OpenBLAS takes such small products through kernels without packing
#: (``benchmarks/RESULTS.md``, "Narrow layers"). One thread never cuts (BLAS keeps its own
#: threads there). The numbers are the same products; only the sum over the rows in δ aᵀ is
#: split.
GEMM_ROWS = 32

#: Mini-batches of fewer rows train on one thread: below it the threads' two meetings per
#: mini-batch cost more than the second core gives (``benchmarks/RESULTS.md``, "The
#: threaded C epoch"). A network of layers' two-part epoch (:mod:`.parts`) starts there too.
THREADS_MIN_ROWS = 64


def default_threads(mini_batch_size: int) -> int:
    """The threads the compiled epoch shares each mini-batch between when not told
    (:class:`EpochRunner`'s ``threads=None``)."""
    return epoch_threads(int(mini_batch_size), None)


def default_product_parts(mini_batch_size: int) -> int:
    """The parts a one-thread epoch cuts each large matrix product into when not told
    (:class:`EpochRunner`'s ``threads=None``; 1 when several threads share each mini-batch)."""
    return product_parts(default_threads(mini_batch_size))


def epoch_threads(B: int, threads: int | None) -> int:
    """The threads that share each mini-batch (see :class:`EpochRunner`)."""
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int | np.integer) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        if threads > 1 and blas_threads() is None:
            raise ValueError(
                "threads > 1 needs the C epoch calling NumPy's OpenBLAS "
                f"(BLAS {getattr(gemm_addresses(), 'name', None)!r})"
            )
        return min(int(threads), 64, B)
    blas = blas_threads()
    if blas is None or B < THREADS_MIN_ROWS:
        return 1
    return min(thread_budget(blas), B)


def product_parts(threads: int) -> int:
    """On one thread, the parts each large matrix product is cut into, each a BLAS call on
    one thread, run first-come by that many threads (``_crew.h``): as many as NumPy's
    OpenBLAS may use; 1 (BLAS keeps its own threads) without it."""
    blas = blas_threads()
    return 1 if threads > 1 or blas is None else thread_budget(blas)
