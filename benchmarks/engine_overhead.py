"""What dropout and a learning-rate schedule cost on the compiled epoch, against plain SGD.

For each of speed.py's rows, mini-batch sizes and dtypes, on its synthetic 60,000 rows, three
networks train side by side from the same weights: plain SGD, SGD with a cosine schedule, and
SGD with dropout 0.5 on every hidden layer. Each ``--rounds`` round trains every variant for
one ``fit`` of ``--epochs`` epochs, in an order that rotates from round to round, so that the
host's drift hits all three alike. The figure is the median of ``history.epoch_time`` over
all rounds, the first epoch of each ``fit`` left out (thread start, first touch); the
ratio is the variant's median over plain SGD's. Every run must have trained on the compiled
epoch (``history.extra["train_path"] == "c"``).

Usage::

    python benchmarks/engine_overhead.py
    python benchmarks/engine_overhead.py --rows book --batches 128 --dtypes float32
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

VARIANTS = {
    "plain": {},
    "cosine": {"schedule": "cosine"},
    "dropout": {"dropout": 0.5},
}


def _fit(variant: str, row: dict, dtype: str, B: int, X, y, epochs: int, seed: int):
    import numpy as np
    from speed import _nnmath_net

    kw = dict(VARIANTS[variant])
    net = _nnmath_net(row, dtype, dropout=kw.pop("dropout", 0.0))
    with np.errstate(over="ignore"):
        h = net.fit(X, y, epochs=epochs, mini_batch_size=B, eta=row["eta"], seed=seed, **kw)
    assert h.extra["train_path"] == "c", h.extra
    return h.epoch_time[1:]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="book,relu100,deep", help="speed.py's rows")
    p.add_argument("--batches", default="10,128")
    p.add_argument("--dtypes", default="float32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, default=3, help="epochs per fit (the first left out)")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    sys.path.insert(0, str(Path(__file__).parent))
    import numpy as np
    from speed import ROWS, _data

    names = list(VARIANTS)
    print("| row | dtype | B | " + " | ".join(f"{v} s" for v in names) + " | ratios to plain |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in names) + " | --- |")
    for dtype in args.dtypes.split(","):
        X, y = _data(60_000, dtype)
        for row_name in args.rows.split(","):
            row = ROWS[row_name]
            for B in (int(b) for b in args.batches.split(",")):
                times: dict[str, list[float]] = {v: [] for v in names}
                for r in range(args.rounds):
                    for v in names[r % len(names) :] + names[: r % len(names)]:
                        times[v] += _fit(v, row, dtype, B, X, y, args.epochs, seed=r)
                med = {v: float(np.median(t)) for v, t in times.items()}
                ratios = ", ".join(f"{v} {med[v] / med['plain']:.3f}×" for v in names[1:])
                cells = " | ".join(f"{med[v]:.4f}" for v in names)
                print(f"| {row_name} | {dtype} | {B} | {cells} | {ratios} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
