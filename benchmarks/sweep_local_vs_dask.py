"""Time one ``nnmath sweep`` command locally (joblib processes) and on a 2-worker Dask cluster
started on 127.0.0.1, and check that both give the same table.

Run from the repository root under the shared lock (it takes a few minutes)::

    flock /tmp/nnmath-heavy.lock python benchmarks/sweep_local_vs_dask.py --repeat 3 --plot docs

Two Dask clusters are timed one after the other: workers as ``dask worker`` starts them
(Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` in every worker), and workers whose nanny
leaves glibc's malloc defaults alone (a Dask config file with
``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null``). With the fixed trim
threshold glibc also stops adapting its mmap threshold, and NumPy's short-lived arrays above
128 KiB are mapped and unmapped at every step (the allocator trap of PERFORMANCE-NOTES.md).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SWEEP = [
    "vanishing",
    "--activation",
    "sigmoid,tanh,relu,elu",
    "--depth",
    "2,4,6,8",
    "--init",
    "scaled_normal,glorot,he",
    "--seeds",
    "5",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sweep(env: dict[str, str], out: Path, *extra: str) -> float:
    """Run the sweep command; return the seconds it reports for its tasks."""
    cmd = [
        sys.executable,
        "-m",
        "nnmath",
        "sweep",
        *SWEEP,
        "--out",
        str(out),
        "--overwrite",
        "-q",
        *extra,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return float(re.search(r"in ([0-9.]+) s", proc.stdout).group(1))


def start_cluster(env: dict[str, str], n_workers: int) -> tuple[str, list[subprocess.Popen]]:
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = subprocess.DEVNULL
    procs = [
        subprocess.Popen(
            [
                "dask",
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--dashboard-address",
                "127.0.0.1:0",
            ],
            env=env,
            stdout=log,
            stderr=log,
        )
    ]
    procs.append(
        subprocess.Popen(
            [
                "dask",
                "worker",
                address,
                "--host",
                "127.0.0.1",
                "--nworkers",
                str(n_workers),
                "--nthreads",
                "1",
                "--dashboard-address",
                "127.0.0.1:0",
            ],
            env=env,
            stdout=log,
            stderr=log,
        )
    )
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.wait_for_workers(n_workers, timeout=60)
    return address, procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        p.terminate()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--plot", help="also write the summary plots here (from the local run)")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    work = Path(tempfile.mkdtemp(prefix="nnmath-sweep-bench-"))
    cfg = work / "dask-config"
    cfg.mkdir()
    (cfg / "nnmath.yaml").write_text(
        "distributed:\n  nanny:\n    pre-spawn-environ:\n      MALLOC_TRIM_THRESHOLD_: null\n"
    )
    times: dict[str, list[float]] = {}
    plot = ["--plot", args.plot] if args.plot else []
    times["local (joblib, 2 processes)"] = [
        sweep(env, work / "local.csv", "--jobs", "2", *plot) for _ in range(args.repeat)
    ]
    for name, extra_env in [
        ("Dask, 2 workers (dask worker defaults)", {}),
        ("Dask, 2 workers (glibc malloc defaults)", {"DASK_CONFIG": str(cfg)}),
    ]:
        t0 = time.perf_counter()
        address, procs = start_cluster({**env, **extra_env}, 2)
        started = time.perf_counter() - t0
        try:
            times[name] = [
                sweep(env, work / "dask.csv", "--scheduler", address) for _ in range(args.repeat)
            ]
        finally:
            stop(procs)
        print(f"{name}: cluster up in {started:.1f} s")
        sys.path.insert(0, str(ROOT / "src"))
        from nnmath.sweep import read_results

        def stable(path: Path) -> list[dict]:
            rows = read_results(path)
            return sorted(
                ({k: v for k, v in r.items() if k not in ("wall_time", "worker")} for r in rows),
                key=lambda r: r["key"],
            )

        same = stable(work / "local.csv") == stable(work / "dask.csv")
        print(f"{name}: {len(read_results(work / 'dask.csv'))} rows, identical to local: {same}")
    print(f"\n{'':44s} {'median':>8s} {'min':>8s}   all (s, the tasks of one sweep command)")
    for name, ts in times.items():
        print(
            f"{name:44s} {statistics.median(ts):8.1f} {min(ts):8.1f}   "
            + " ".join(f"{t:.1f}" for t in ts)
        )
    with open("/proc/loadavg") as fh:
        print(f"load average at the end: {fh.read().split()[:3]}")


if __name__ == "__main__":
    main()
