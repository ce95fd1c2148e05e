"""Mini-batches under 64: the compiled epoch on one thread, with BLAS on one thread or on its
own threads.

Below 64 rows the epoch runs on one thread and leaves NumPy's OpenBLAS its threads, which it
uses inside a product it finds large enough. This script measures, for speed.py's networks
and synthetic MNIST-shaped rows, an epoch with BLAS held on one thread against one with BLAS
on its threads, alternating within one process (medians of ``--rounds``), and checks whether
OpenBLAS's products of the epoch's shapes come out bit for bit the same on one thread and on
two: if they did not, switching BLAS's threads inside an epoch by the load of the machine
would make a run's weights depend on that load.

Usage::

    python benchmarks/small_batch_blas.py
    python benchmarks/small_batch_blas.py --rows relu100,deep --batch 10 --rounds 11
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import ROWS, _data, _nnmath_net  # noqa: E402  (the same rows and networks)


def epoch_times(row: str, batch: int, dtype: str, rounds: int) -> dict[int, float]:
    """Median epoch seconds with BLAS on 1 thread and on 2, alternating."""
    from threadpoolctl import threadpool_limits

    from nnmath.engine import epoch_runner
    from nnmath.optim import SGD

    X, y = _data(60_000, dtype)
    net = _nnmath_net(ROWS[row], dtype)
    opt = SGD(ROWS[row]["eta"], n=60_000)
    runner = epoch_runner(net, opt, net.check_inputs(X), net.check_targets(y, 60_000), batch)
    rng, times = np.random.default_rng(0), {1: [], 2: []}
    for r in range(rounds + 1):  # the first round warms up
        for k in (1, 2) if r % 2 else (2, 1):
            with threadpool_limits(k, user_api="blas"):
                perm = rng.permutation(60_000)
                t0 = time.perf_counter()
                runner.run_epoch(perm)
                if r:
                    times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def same_products(row: str, batch: int, dtype: str) -> tuple[int, int]:
    """Of the epoch's products (z = W a, Wᵀ δ, δ aᵀ per layer), how many are bit for bit the
    same with BLAS on 1 and on 2 threads, and how many there are."""
    from threadpoolctl import threadpool_limits

    rng, sizes, same, total = np.random.default_rng(1), ROWS[row]["sizes"], 0, 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        W = rng.normal(size=(n_out, n_in)).astype(dtype)
        a = rng.normal(size=(n_in, batch)).astype(dtype)
        d = rng.normal(size=(n_out, batch)).astype(dtype)
        for left, right in ((W, a), (W.T, d), (d, a.T)):
            with threadpool_limits(1, user_api="blas"):
                one = left @ right
            with threadpool_limits(2, user_api="blas"):
                two = left @ right
            same += int(np.array_equal(one, two))
            total += 1
    return same, total


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", default="book,relu100,deep", help=f"comma list of {list(ROWS)}")
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--rounds", type=int, default=11)
    args = p.parse_args(argv)
    print("| row | B | dtype | BLAS 1 thread s | BLAS 2 threads s | 1 / 2 | products equal |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in args.rows.split(","):
        for dtype in args.dtypes.split(","):
            t = epoch_times(row, args.batch, dtype, args.rounds)
            same, total = same_products(row, args.batch, dtype)
            print(
                f"| {row} {ROWS[row]['sizes']} | {args.batch} | {dtype} | {t[1]:.3f} | "
                f"{t[2]:.3f} | {t[1] / t[2]:.3f} | {same} of {total} |",
                flush=True,
            )
    print(f"\nmedians of {args.rounds} epochs each, alternating, after one warm-up round")
    return 0


if __name__ == "__main__":
    sys.exit(main())
