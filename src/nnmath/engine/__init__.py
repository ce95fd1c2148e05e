"""nnmath's engine: everything compiled, and everything that exists only for speed.

The lecture's mathematics is written once, readably, in :mod:`nnmath.network` and
:mod:`nnmath.optim`; :func:`nnmath.train.fit` trains on that reference loop. This package
holds the fast twin of one epoch of it and what that twin needs: the C sources
(``_ckernels.c`` and its headers, built by ``pip install`` as the optional extension
``nnmath.engine._ckernels``), their ctypes binding (:mod:`.binding`), the binding of NumPy's
BLAS (:mod:`.blas`), the epoch runner with its preallocated buffers (:mod:`.runner`), how
it shares the cores (:mod:`.sharing`), a network of layers' mini-batches in two parts on
two cores (:mod:`.parts`) and the per-epoch evaluation shared between threads
(:mod:`.evaluation`).

The rest of nnmath imports only the names below. Without a C compiler, or for anything the
compiled epoch lacks, :func:`epoch_runner` returns ``None`` and :func:`fallback_reason` says
why: training then runs on the reference loop, with the same numbers.
"""

from .evaluation import Evaluation
from .parts import PartsRunner, parts_reason, parts_threads
from .runner import FAST_BACKENDS, EpochRunner, epoch_runner
from .sharing import GEMM_ROWS, default_product_parts, default_threads
from .support import c_available, unsupported_reason

#: why a run trains on the reference loop (``None`` when the compiled epoch can train it)
fallback_reason = unsupported_reason

__all__ = [
    "FAST_BACKENDS",
    "GEMM_ROWS",
    "EpochRunner",
    "Evaluation",
    "PartsRunner",
    "c_available",
    "default_product_parts",
    "default_threads",
    "epoch_runner",
    "fallback_reason",
    "parts_reason",
    "parts_threads",
    "unsupported_reason",
]
