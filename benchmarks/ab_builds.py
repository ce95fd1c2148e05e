"""A/B of the compiled epoch of two checkouts of nnmath: ``EpochRunner.run_epoch`` alone.

Each checkout's ``src`` (with its extension built in place: ``python setup.py build_ext
--inplace``) trains speed.py's networks on its synthetic 60,000 rows, SGD at speed.py's η,
in its own process. The two alternate, their order flipping from round to round, so that the
host's drift hits both alike; each process times ``--epochs`` epochs after a warm-up one.
Printed: each side's median and the ratio new/old.

Usage::

    git worktree add /tmp/old <commit> && (cd /tmp/old && python setup.py build_ext --inplace)
    python benchmarks/ab_builds.py --old /tmp/old/src --rows book:10,book:128 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

_WORKER = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[4])
from speed import ROWS, _data, _nnmath_net
try:
    from nnmath.engine import epoch_runner
except ImportError:  # a build from before the engine's own package
    from nnmath.fast import epoch_runner
from nnmath.optim import SGD
row, B, dtype, epochs = ROWS[sys.argv[1]], int(sys.argv[2]), sys.argv[3], int(sys.argv[5])
X, y = _data(60_000, dtype)
net = _nnmath_net(row, dtype)
inputs = getattr(net, "check_inputs", getattr(net, "_inputs", None))  # public since the engine
targets = getattr(net, "check_targets", getattr(net, "_targets", None))  # moved; private before
runner = epoch_runner(net, SGD(row["eta"], n=60_000), inputs(X), targets(y, 60_000), B)
rng, times = np.random.default_rng(0), []
with runner.blas_on_one_thread():
    for _ in range(epochs + 1):
        perm = rng.permutation(60_000)
        t0 = time.perf_counter()
        runner.run_epoch(perm)
        times.append(time.perf_counter() - t0)
print(json.dumps(times[1:]))
"""


def run_worker(worker: str, row: str, B: str, dtype: str, epochs: int, env: dict) -> list[float]:
    """Run ``worker`` (a ``python -c`` script like ``_WORKER``) for one row in its own
    process with ``env``; return the epoch times it prints."""
    here = str(Path(__file__).parent)
    cmd = [sys.executable, "-c", worker, row, B, dtype, here, str(epochs)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", required=True, help="the other checkout's src folder")
    p.add_argument("--new", default=str(Path(__file__).parents[1] / "src"))
    p.add_argument("--rows", default="book:10,book:128,relu100:10,relu100:128")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads))
    for spec in args.rows.split(","):
        row, B = spec.split(":")
        times: dict[str, list[float]] = {"old": [], "new": []}
        sides = [("old", args.old), ("new", args.new)]
        for r in range(args.rounds):
            for name, src in sides if r % 2 == 0 else sides[::-1]:
                worker_env = dict(env, PYTHONPATH=src)
                times[name] += run_worker(_WORKER, row, B, args.dtype, args.epochs, worker_env)
        old, new = statistics.median(times["old"]), statistics.median(times["new"])
        ratio = new / old
        print(f"{row} B={B} {args.dtype}: old {old:.4f} s, new {new:.4f} s, new/old {ratio:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
