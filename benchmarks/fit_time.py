"""What a user waits for: seconds per epoch of ``Network.fit``, evaluations included.

``speed.py`` times the training epoch alone (``history.epoch_time``). ``fit`` also evaluates
after every epoch: the training cost over all rows and, with ``validation_data``, the
validation cost and accuracy. This script trains speed.py's networks on its synthetic
60,000 rows with 10,000 validation rows, in one ``fit`` call per network, and prints per
epoch the wall time (between the ends of successive epochs, read by a callback, so fit's
one-off set-up is left out), the training epoch and the rest (the evaluations). Medians of
``--epochs`` epochs after the first.

Usage::

    python benchmarks/fit_time.py
    python benchmarks/fit_time.py --rows book --batches 128 --dtypes float32
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="book,relu100", help="speed.py's rows, comma-separated")
    p.add_argument("--batches", default="10,128")
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, default=5)
    args = p.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    sys.path.insert(0, str(Path(__file__).parent))
    import numpy as np
    from speed import ROWS, _data, _nnmath_net

    print("| row | dtype | B | fit s per epoch | training epoch s | evaluations s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for dtype in args.dtypes.split(","):
        X, y = _data(70_000, dtype)
        X, y, Xv, yv = X[:60_000], y[:60_000], X[60_000:], y[60_000:]
        for row_name in args.rows.split(","):
            row = ROWS[row_name]
            for B in (int(b) for b in args.batches.split(",")):
                net = _nnmath_net(row, dtype)
                ends: list[float] = []

                def at_epoch_end(net, history, epoch, ends=ends) -> None:
                    ends.append(time.perf_counter())

                with np.errstate(over="ignore"):
                    h = net.fit(
                        X,
                        y,
                        epochs=args.epochs + 1,
                        mini_batch_size=B,
                        eta=row["eta"],
                        validation_data=(Xv, yv),
                        rng=np.random.default_rng(0),
                        callbacks=[at_epoch_end],
                    )
                wall = float(np.median(np.diff(ends)))
                epoch = float(np.median(h.epoch_time[1:]))
                print(
                    f"| {row_name} | {dtype} | {B} | {wall:.3f} | {epoch:.3f} | "
                    f"{wall - epoch:.3f} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
