"""What dropout, a learning-rate schedule, batch normalisation and residual connections cost
on the compiled epoch, against the plain network with plain SGD.

For each of speed.py's rows, mini-batch sizes and dtypes, on its synthetic 60,000 rows, the
variants train side by side: plain SGD, SGD with a cosine schedule, SGD with dropout 0.5 on
every hidden layer, the same widths with batch normalisation (each hidden ``Dense(n, σ,
batch_norm=True)``) and with identity paths (after the first hidden layer, each pair of
hidden layers a ``Residual([Dense(n, σ), Dense(n, "identity")], activation=σ)`` block and a
last one alone a ``Residual([Dense(n, "identity")], activation=σ)``: only rows with two or
more hidden layers of one width, such as deep; "-" elsewhere). The plain network
is the same Dense layers without them (a sizes network); the issue's bound for the last two
is 1.15×. Each ``--rounds`` round trains every variant for
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

#: every variant trains at this fraction of the row's η: a deep ReLU network on speed.py's
#: random labels diverges at the full η for some seeds, and an epoch's work does not depend on η
ETA_SCALE = 0.25
VARIANTS = {
    "plain": {},
    "cosine": {"schedule": "cosine"},
    "dropout": {"dropout": 0.5},
    "batch_norm": {"variant": "batch_norm"},
    "residual": {"variant": "residual"},
}


def _fit(variant: str, row: dict, dtype: str, B: int, X, y, epochs: int, seed: int):
    """The epoch times of one fit of ``variant`` (the first left out), or [] for a variant
    this row's widths cannot take (residual blocks need two hidden layers of one width)."""
    import numpy as np
    from speed import _nnmath_net

    kw = dict(VARIANTS[variant])
    extra = {"variant": kw.pop("variant")} if "variant" in kw else {}
    try:
        net = _nnmath_net(row, dtype, dropout=kw.pop("dropout", 0.0), **extra)
    except ValueError as e:
        if "residual blocks need" in str(e):
            return []
        raise
    with np.errstate(over="ignore"):
        eta = row["eta"] * ETA_SCALE
        h = net.fit(X, y, epochs=epochs, mini_batch_size=B, eta=eta, seed=seed, **kw)
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
                med = {v: float(np.median(t)) if t else None for v, t in times.items()}
                ratios = ", ".join(
                    f"{v} {med[v] / med['plain']:.3f}×" for v in names[1:] if med[v] is not None
                )
                cells = " | ".join("-" if med[v] is None else f"{med[v]:.4f}" for v in names)
                print(f"| {row_name} | {dtype} | {B} | {cells} | {ratios} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
