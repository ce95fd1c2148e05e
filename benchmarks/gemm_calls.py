"""One BLAS call per product against calls of 32 rows: the measurement behind GEMM_ROWS.

``nnmath.engine.GEMM_ROWS`` makes the threaded C epoch hand a narrow layer's products to BLAS
in calls of 32 rows (``nnm_call_rows`` in ``_ckernels.c`` says when). Two measurements:

1. ``--part products``: microseconds for one thread's share of a mini-batch of 128 (64 rows)
   of ``z = W a`` and of ``δ aᵀ`` of a layer 784 → ``width``, with NumPy's OpenBLAS on one
   thread, as one call of 64 rows and as two calls of 32. The two ``δ aᵀ`` calls write two
   outputs here (the epoch's second call adds into the first's output inside the same
   ``gemm``). Widths 30, 39, 40 and 100 by default: 32 rows of 784 → 39 are 0.98·10⁶
   multiply-adds, of 784 → 40 1.004·10⁶, either side of OpenBLAS's small-matrix bound.
2. ``--part epoch``: seconds per epoch of the threaded C epoch on the book network at batch
   128, with the cut calls (``gemm_rows`` = GEMM_ROWS) and without (0), epochs alternating
   on one ``EpochRunner``; the median of ``--epochs`` after a warm-up epoch of each.

Usage::

    python benchmarks/gemm_calls.py                    # both parts, float32 and float64
    python benchmarks/gemm_calls.py --part products --widths 30,100 --dtypes float32
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def _microseconds(f, reps: int) -> float:
    for _ in range(reps // 10):
        f()
    t0 = time.perf_counter()
    for _ in range(reps):
        f()
    return (time.perf_counter() - t0) / reps * 1e6


def _calls(np, W, A, D) -> dict:
    """Each product of one 64-row share as (one call, two calls of 32 rows)."""
    Z, G, G2 = np.empty((64, len(W)), W.dtype), np.empty_like(W), np.empty_like(W)

    def z_one():
        np.matmul(A, W.T, out=Z)

    def z_two():
        np.matmul(A[:32], W.T, out=Z[:32])
        np.matmul(A[32:], W.T, out=Z[32:])

    def g_one():
        np.matmul(D.T, A, out=G)

    def g_two():
        np.matmul(D[:32].T, A[:32], out=G)
        np.matmul(D[32:].T, A[32:], out=G2)

    return {"z = W a": (z_one, z_two), "δ aᵀ": (g_one, g_two)}


def products(widths: list[int], dtypes: list[str], reps: int) -> None:
    import numpy as np

    from nnmath.engine.blas import blas_threads

    blas = blas_threads()
    if blas is not None:
        blas.set(1)
    print("| product | width | dtype | 1 call of 64 rows µs | 2 calls of 32 rows µs |")
    print("| --- | --- | --- | --- | --- |")
    for dtype in dtypes:
        rng = np.random.default_rng(0)
        for h in widths:
            W = rng.random((h, 784)).astype(dtype)
            A = rng.random((64, 784)).astype(dtype)
            D = rng.random((64, h)).astype(dtype)
            calls = _calls(np, W, A, D)
            for name, (one, two) in calls.items():
                print(
                    f"| {name} | {h} | {dtype} | {_microseconds(one, reps):.0f} | "
                    f"{_microseconds(two, reps):.0f} |",
                    flush=True,
                )


def epoch(dtypes: list[str], epochs: int, n: int) -> None:
    import numpy as np
    from speed import ROWS, _data, _nnmath_net

    from nnmath.engine import GEMM_ROWS, c_available, epoch_runner
    from nnmath.optim import SGD

    if not c_available():
        print("needs the C epoch (nnmath.engine._ckernels)", file=sys.stderr)
        return
    print("| row | dtype | B | threads | one call s | calls of 32 rows s | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    row = ROWS["book"]
    for dtype in dtypes:
        X, y = _data(n, dtype)
        Y = np.eye(row["sizes"][-1], dtype=dtype)[y]
        runner = epoch_runner(_nnmath_net(row, dtype), SGD(eta=row["eta"]), X, Y, 128, backend="c")
        rng = np.random.default_rng(1)
        times: dict[int, list[float]] = {0: [], GEMM_ROWS: []}
        with runner.blas_on_one_thread():
            for _ in range(epochs + 1):
                for rows in times:
                    runner._c_epoch.gemm_rows = rows
                    perm = rng.permutation(n)
                    t0 = time.perf_counter()
                    runner.run_epoch(perm)
                    times[rows].append(time.perf_counter() - t0)
        one, cut = (float(np.median(t[1:])) for t in times.values())
        print(
            f"| book | {dtype} | 128 | {runner.threads} | {one:.4f} | {cut:.4f} | "
            f"{one / cut:.2f}× |",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["products", "epoch", "both"], default="both")
    p.add_argument("--widths", default="30,39,40,100")
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--reps", type=int, default=1500)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--n", type=int, default=60_000)
    args = p.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
    sys.path.insert(0, str(Path(__file__).parent))
    dtypes = args.dtypes.split(",")
    if args.part in ("epoch", "both"):
        epoch(dtypes, args.epochs, args.n)
    if args.part in ("products", "both"):
        products([int(w) for w in args.widths.split(",")], dtypes, args.reps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
