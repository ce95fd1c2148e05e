"""Seconds per epoch of the C epoch on one thread and with each mini-batch split between threads.

This is the measurement behind ``nnmath.engine``'s rule: split a mini-batch only from 64 rows
up. For each mini-batch size it trains two copies of a row's network through
:func:`nnmath.engine.epoch_runner`, one with ``threads=1`` (BLAS on as many threads as it is
allowed) and one with ``threads=T`` (each thread its own rows, BLAS on one thread). Their
timed epochs alternate, ``--settle`` seconds apart, so that OpenBLAS's spinning workers
have stopped and the host's drift hits both alike. The time is the median of ``--epochs``
epochs after one warm-up epoch. The data are speed.py's: 60,000 synthetic MNIST-shaped rows.

Usage::

    python benchmarks/threads.py                       # book row, float32, B = 10, 32, 64, 128
    python benchmarks/threads.py --rows deep --dtypes float64 --batches 10,128
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="book", help="speed.py's rows, comma-separated")
    p.add_argument("--batches", default="10,32,64,128")
    p.add_argument("--dtypes", default="float32")
    p.add_argument("--threads", type=int, default=2, help="threads sharing a mini-batch")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--settle", type=float, default=0.3)
    p.add_argument("--n", type=int, default=60_000)
    args = p.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    sys.path.insert(0, str(Path(__file__).parent))
    import numpy as np
    from speed import ROWS, _data, _nnmath_net

    from nnmath.engine import c_available, epoch_runner
    from nnmath.engine.blas import blas_threads
    from nnmath.optim import SGD

    if not c_available() or blas_threads() is None:
        print(
            "needs the C epoch (nnmath.engine._ckernels) calling NumPy's OpenBLAS", file=sys.stderr
        )
        return 1
    print(f"| row | dtype | B | 1 thread s | {args.threads} threads s | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for dtype in args.dtypes.split(","):
        X, y = _data(args.n, dtype)
        for row_name in args.rows.split(","):
            row = ROWS[row_name]
            Y = np.eye(row["sizes"][-1], dtype=dtype)[y]
            for B in (int(b) for b in args.batches.split(",")):
                runners = [
                    epoch_runner(
                        _nnmath_net(row, dtype),
                        SGD(eta=row["eta"]),
                        X,
                        Y,
                        B,
                        backend="c",
                        threads=T,
                    )
                    for T in (1, args.threads)
                ]
                rng = np.random.default_rng(0)
                times: list[list[float]] = [[], []]
                for _ in range(args.epochs + 1):
                    for k, runner in enumerate(runners):
                        perm = rng.permutation(args.n)
                        time.sleep(args.settle)
                        t0 = time.perf_counter()
                        with np.errstate(over="ignore", invalid="ignore"):
                            runner.run_epoch(perm)
                        times[k].append(time.perf_counter() - t0)
                one, many = (float(np.median(t[1:])) for t in times)
                print(
                    f"| {row_name} | {dtype} | {B} | {one:.3f} | {many:.3f} | {many / one:.2f}× |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
