"""The compiled epoch with its arrays at each offset from a 64-byte boundary.

nnmath puts the data of a network's weights and biases, of the optimizer's state and of the
compiled epoch's buffers on 64-byte boundaries (:func:`nnmath.backend.aligned_zeros`), where
NumPy alone aligns a small array to 16 bytes. This script shows what that is worth: each
worker process builds speed.py's network and the epoch's runner with every one of those
arrays placed ``offset`` bytes past a 64-byte boundary (0 is what nnmath does; 16, 32 and 48
are where NumPy's own allocations may land), then times ``--epochs`` epochs of
``EpochRunner.run_epoch`` after a warm-up one on speed.py's 60,000 synthetic rows. Offsets
alternate process by process, their order rotated every round, so that the host's drift
hits each alike. Printed: the median epoch per offset and its ratio to offset 0.

Usage::

    python benchmarks/alignment.py
    python benchmarks/alignment.py --rows book:10,deep:10 --rounds 4 --dtype float64
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ab_builds  # noqa: E402  (its worker times the epochs)

# The worker: the arrays placed `offset` bytes past a boundary (NNMATH_OFFSET), then
# ab_builds.py's worker (speed.py's network, its runner, the timed epochs), then a check that
# the weights really sat there.
_PLACE = r"""
import os
import numpy as np
import nnmath.engine.runner, nnmath.init
from nnmath.backend import ALIGNMENT
offset = int(os.environ["NNMATH_OFFSET"])

def shifted_zeros(shape, dtype):  # like aligned_zeros, `offset` bytes past the boundary
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.zeros(nbytes + 2 * ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT + offset
    return raw[start : start + nbytes].view(dtype).reshape(shape)

def shifted_copy(a, dtype=None):
    a = np.asarray(a, dtype=dtype)
    out = shifted_zeros(a.shape, a.dtype)
    out[...] = a
    return out

nnmath.engine.runner.aligned_zeros, nnmath.init.aligned_copy = shifted_zeros, shifted_copy
"""
_CHECK = "\nassert all(W.ctypes.data % ALIGNMENT == offset for W in net.weights)\n"
_WORKER = _PLACE + ab_builds._WORKER + _CHECK


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="book:10,book:128,relu100:10,deep:10")
    p.add_argument("--offsets", default="0,16,32,48", help="bytes past a 64-byte boundary")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads))
    env["PYTHONPATH"] = str(Path(__file__).parents[1] / "src")
    offsets = [int(o) for o in args.offsets.split(",")]
    print("| row | B | dtype | " + " | ".join(f"offset {o} s" for o in offsets) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in offsets) + " |")
    for spec in args.rows.split(","):
        row, B = spec.split(":")
        times: dict[int, list[float]] = {o: [] for o in offsets}
        for r in range(args.rounds):
            for o in offsets[r % len(offsets) :] + offsets[: r % len(offsets)]:
                worker_env = dict(env, NNMATH_OFFSET=str(o))
                times[o] += ab_builds.run_worker(
                    _WORKER, row, B, args.dtype, args.epochs, worker_env
                )
        medians = {o: statistics.median(ts) for o, ts in times.items()}
        base = medians[offsets[0]]
        cells = [f"{medians[o]:.4f} ({medians[o] / base:.2f}×)" for o in offsets]
        print(f"| {row} | {B} | {args.dtype} | " + " | ".join(cells) + " |", flush=True)
    print(
        f"\n{args.rounds} rounds, one process per offset and round, {args.epochs} epochs each "
        f"after a warm-up, medians; {args.threads} threads; ratios to offset {offsets[0]}."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
