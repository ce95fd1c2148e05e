"""A convolutional epoch: nnmath against PyTorch eager on the CPU, same network, data and
optimizer, interleaved rounds, each epoch in a fresh process.

    python benchmarks/conv_speed.py --batches 10,64 --rounds 3 --n 10000

Rows (ReLU everywhere, softmax + log-likelihood on top, He's initialisation):

* ``conv20``: the book's ``conv(20,5) pool(2) dense(100) softmax(10)``;
* ``ch6``: Nielsen's chapter-6 network, ``conv(20,5) pool(2) conv(40,5) pool(2) dense(100)
  softmax(10)``.

Plain SGD η = 0.03 on MNIST's first ``n`` training images (random pixels when MNIST is
absent), ``OPENBLAS_NUM_THREADS=2`` and ``torch.set_num_threads(2)``. The system
``torch1`` is torch eager on one thread (``--systems nnmath,torch,torch1``): nnmath's fit
holds its OpenBLAS on one thread for a network of layers, so this is the like-for-like
column when other work shares the cores. Each process trains one warm-up epoch on 1,000
images, then one timed epoch on the ``n`` (nnmath's ``fit`` call is timed whole: its checks
and its divergence check's reference cost included); the table gives the median seconds
and nnmath ÷ torch, and the load average before and after. ``--previous SRC`` adds the
column ``previous``: nnmath from another src tree (the build before a change), interleaved
with the others in the same rounds. A system with ``+busy`` (``--systems
nnmath,nnmath+busy,torch,torch+busy``) times the same epoch while one CPU-bound process
competes for the cores (a Python busy loop, started before the epoch's process and killed
after it, as ``under_load.py`` does).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: a row: its convolutions (maps, kernel), each followed by a 2 × 2 max-pooling
ROWS = {"conv20": ((20, 5),), "ch6": ((20, 5), (40, 5))}
TITLES = {
    "conv20": "conv(20,5) pool(2) dense(100) softmax(10)",
    "ch6": "conv(20,5) pool(2) conv(40,5) pool(2) dense(100) softmax(10)",
}


def _src() -> str:
    """The nnmath tree to time: ``--nnmath-src`` (another build, for a before/after), else
    this checkout's ``src``."""
    return os.environ.get("CONV_SPEED_SRC") or str(ROOT / "src")


def _data(n: int) -> tuple[np.ndarray, np.ndarray]:
    if _src() not in sys.path:
        sys.path.insert(0, _src())
    try:
        from nnmath.data import load_mnist

        data = load_mnist(
            os.environ.get("NNMATH_DATA") or ROOT.parent / "shared" / "data" / "mnist"
        )
        return data.train[0][:n].astype(np.float32), data.train[1][:n]
    except Exception:  # a benchmark without MNIST still times the same shapes
        rng = np.random.default_rng(0)
        return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)


def _flat(row: str) -> int:
    """Units after the last pooling: 28 → (28 − k + 1) / 2 per convolution."""
    side = 28
    for _, k in ROWS[row]:
        side = (side - k + 1) // 2
    return ROWS[row][-1][0] * side * side


def nnmath_epoch(row: str, n: int, B: int) -> float:
    sys.path.insert(0, _src())
    import nnmath as nm
    from nnmath.layers import Conv2D, Dense, Input, MaxPool2D

    X, y = _data(n)
    layers = [Input((1, 28, 28))]
    for maps, k in ROWS[row]:
        layers += [Conv2D(maps, k, activation="relu"), MaxPool2D(2)]
    layers += [Dense(100, activation="relu"), Dense(10, activation="softmax")]
    net = nm.Network(layers, cost="log_likelihood", init="he", seed=0)
    kw = dict(epochs=1, mini_batch_size=B, eta=0.03, seed=0, monitor="batch")
    net.fit(X[:1000], y[:1000], **kw)
    t0 = time.perf_counter()
    net.fit(X, y, **kw)
    return time.perf_counter() - t0


def torch_epoch(row: str, n: int, B: int, threads: int = 2) -> float:
    import torch

    torch.set_num_threads(threads)
    X, y = _data(n)
    Xt, yt = torch.from_numpy(X).reshape(-1, 1, 28, 28), torch.from_numpy(np.asarray(y))
    torch.manual_seed(0)
    modules, channels = [], 1
    for maps, k in ROWS[row]:
        modules += [torch.nn.Conv2d(channels, maps, k), torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
        channels = maps
    net = torch.nn.Sequential(
        *modules,
        torch.nn.Flatten(),
        torch.nn.Linear(_flat(row), 100),
        torch.nn.ReLU(),
        torch.nn.Linear(100, 10),
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.03)
    loss_fn = torch.nn.CrossEntropyLoss()  # softmax + log-likelihood, as nnmath's

    def epoch(Xe: torch.Tensor, ye: torch.Tensor) -> None:
        perm = torch.randperm(Xe.shape[0])
        for k in range(0, Xe.shape[0], B):
            idx = perm[k : k + B]
            opt.zero_grad()
            loss_fn(net(Xe[idx]), ye[idx]).backward()
            opt.step()

    epoch(Xt[:1000], yt[:1000])
    t0 = time.perf_counter()
    epoch(Xt, yt)
    return time.perf_counter() - t0


def torch1_epoch(row: str, n: int, B: int) -> float:
    """torch eager held on one thread (nnmath's fit holds OpenBLAS there for layers)."""
    return torch_epoch(row, n, B, threads=1)


def _one(system: str, row: str, n: int, B: int, src: str | None, previous: str | None) -> float:
    if system.endswith("+busy"):
        busy = subprocess.Popen([sys.executable, "-c", "while True:\n    pass\n"])
        try:
            return _one(system.removesuffix("+busy"), row, n, B, src, previous)
        finally:
            busy.kill()
            busy.wait()
    function = "nnmath" if system == "previous" else system
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import conv_speed; "
        f"print(conv_speed.{function}_epoch({row!r}, {n}, {B}))"
    )
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    src = previous if system == "previous" else src
    if src:
        env["CONV_SPEED_SRC"] = src
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return float(out.stdout.strip().splitlines()[-1])


def _commit(src: str) -> str:
    """The commit of the tree ``src`` lies in (``+`` when it has uncommitted changes)."""
    out = subprocess.run(
        ["git", "-C", src, "describe", "--always", "--dirty=+"], capture_output=True, text=True
    )
    return out.stdout.strip() or "?"


def _table(rows: list[dict], systems: list[str]) -> list[str]:
    head = ["row", "B", *(f"{s} s" for s in systems), *(f"nnmath ÷ {s}" for s in systems[1:])]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        cells = [TITLES[r["row"]], str(r["B"]), *(f"{r[s]:.2f}" for s in systems)]
        cells += [f"{r['nnmath'] / r[s]:.2f}" for s in systems[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _src_of(args: argparse.Namespace) -> str:
    return args.nnmath_src or str(ROOT / "src")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="conv20")
    p.add_argument("--batches", default="10,64")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--systems", default="nnmath,torch")
    p.add_argument("--nnmath-src", help="another nnmath src tree to time (a before/after)")
    p.add_argument("--previous", help="the build before a change: its src tree, a column")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    systems = args.systems.split(",")
    known = {"nnmath", "torch", "torch1"}
    if systems[0] != "nnmath" or not {s.removesuffix("+busy") for s in systems} <= known:
        p.error("--systems: nnmath first, then torch and/or torch1, each maybe with +busy")
    if args.previous:
        systems.append("previous")
    load_before, rows = os.getloadavg(), []
    for row in args.rows.split(","):
        for B in (int(b) for b in args.batches.split(",")):
            times: dict[str, list[float]] = {s: [] for s in systems}
            for _ in range(args.rounds):  # interleaved: the host's drift hits both alike
                for system in times:
                    times[system].append(
                        _one(system, row, args.n, B, args.nnmath_src, args.previous)
                    )
            med = {s: float(np.median(t)) for s, t in times.items()}
            rows.append({"row": row, "B": B, **med, "times": times})
    load_after = os.getloadavg()
    if args.json:
        load = [load_before, load_after]
        print(json.dumps({"commit": _commit(_src_of(args)), "load": load, "rows": rows}))
        return 0
    src = _src_of(args)
    print(
        f"nnmath at {_commit(src)} ({src}), n = {args.n} images, {args.rounds} rounds, "
        "medians; load "
        f"average (1, 5, 15 min) before {load_before[0]:.2f} {load_before[1]:.2f} "
        f"{load_before[2]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f} "
        f"{load_after[2]:.2f}\n"
    )
    if args.previous:
        print(f"previous: {_commit(args.previous)} ({args.previous})")
    print("\n".join(_table(rows, systems)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
