"""An epoch on a loaded machine: how much slower with one CPU-bound process competing.

Students train on laptops that also run a browser and a notebook server. This script times
one training epoch of nnmath and of PyTorch eager (the systems of ``speed.py``, its workers
and its synthetic 60,000 MNIST-shaped rows) on a quiet machine and with one other CPU-bound
process running (a Python busy loop, started before the epoch and killed after it), in
alternation: quiet, loaded, quiet, loaded, ... for ``--rounds`` rounds, so that the host's
drift hits both alike. It prints the medians and the ratio loaded / quiet per system and
mini-batch size. Goal (issue 21): nnmath's ratio at most 2.2 on a 2-core machine at
mini-batch 10 and 128.

A thread that waits for another must not hold a core the competitor needs: the C epoch's
waiting thread yields its core after a short spin and then sleeps on a futex, and fit holds
OpenBLAS on one thread while the threaded epoch runs. At batch 128 the epoch's two threads
share each mini-batch in parts (each thread's rows, then its slice of the step); a thread that
finds the other's part not started yet (the scheduler has taken the other thread off its
core) runs that part itself, with the same result bit for bit, instead of waiting for it
(``nnmath/engine/_threads.h``; ``EpochRunner.parts_taken`` counts those parts).
Run it on an otherwise quiet machine::

    python benchmarks/under_load.py
    python benchmarks/under_load.py --rows relu100 --batches 10,128 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import N_EXAMPLES, ROWS, _Worker  # noqa: E402  (the same workers and rows)

BUSY_LOOP = "while True:\n    pass\n"


def _competitor() -> subprocess.Popen:
    """One CPU-bound process: a Python busy loop (one core's worth of work)."""
    return subprocess.Popen([sys.executable, "-c", BUSY_LOOP])


def _epoch(worker: _Worker) -> float:
    reply = worker.send("epoch")
    if reply is None:
        raise RuntimeError(f"{worker.system}: {worker.error}")
    return float(reply)


def measure(system: str, row: str, batch: int, dtype: str, args: argparse.Namespace) -> dict:
    """Quiet and loaded epochs of one system, alternating; their medians and ratio."""
    with tempfile.TemporaryDirectory(prefix="nnmath-load-") as tmp:
        worker = _Worker(system, row, batch, dtype, args, Path(tmp) / "worker.log")
        if worker._reply() != "ready":
            raise RuntimeError(f"{system}: {worker.error}")
        quiet, loaded = [], []
        for _ in range(args.rounds):
            time.sleep(args.settle)
            quiet.append(_epoch(worker))
            busy = _competitor()
            try:
                time.sleep(args.settle)  # the competitor is running before the epoch starts
                loaded.append(_epoch(worker))
            finally:
                busy.kill()
                busy.wait()
        worker.finish()
    q, lo = statistics.median(quiet), statistics.median(loaded)
    return {"quiet": q, "loaded": lo, "ratio": lo / q, "quiet_all": quiet, "loaded_all": loaded}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", default="relu100", help=f"comma list of {list(ROWS)}")
    p.add_argument("--systems", default="nnmath,torch")
    p.add_argument("--batches", default="10,128")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--n", type=int, default=N_EXAMPLES)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--settle", type=float, default=0.5, help="seconds before each epoch")
    p.add_argument("--timeout", type=float, default=900)
    args = p.parse_args(argv)
    print("| row | B | system | quiet s | loaded s | loaded / quiet | goal |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in args.rows.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            for system in args.systems.split(","):
                r = measure(system, row, batch, args.dtype, args)
                goal = ("met" if r["ratio"] <= 2.2 else "NOT met") if system == "nnmath" else ""
                print(
                    f"| {row} {ROWS[row]['sizes']} | {batch} | {system} | {r['quiet']:.3f} | "
                    f"{r['loaded']:.3f} | {r['ratio']:.2f}× | {goal} |",
                    flush=True,
                )
    print(
        f"\n{args.rounds} rounds of (quiet, loaded) epochs after one warm-up, medians; "
        f"{args.threads} threads; {args.dtype}; one `python -c 'while True: pass'` competing."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
