"""A convolutional epoch: nnmath against PyTorch eager on the CPU, same network, data and
optimizer, interleaved rounds, each epoch in a fresh process.

    python benchmarks/conv_speed.py --batches 10,64 --rounds 3 --n 10000

The network is the book's ``conv(20,5) pool(2) dense(100) softmax(10)`` (ReLU), plain SGD
η = 0.03 on MNIST's first ``n`` training images (random pixels when MNIST is absent), 2
threads for both. Each process trains one warm-up epoch on 1,000 images, then one timed
epoch on the ``n``; the table gives the median seconds and nnmath ÷ torch.
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
ROWS = {"conv20": "conv(20,5) pool(2) dense(100) softmax(10)"}


def _data(n: int) -> tuple[np.ndarray, np.ndarray]:
    sys.path.insert(0, str(ROOT / "src"))
    try:
        from nnmath.data import load_mnist

        data = load_mnist(
            os.environ.get("NNMATH_DATA") or ROOT.parent / "shared" / "data" / "mnist"
        )
        return data.train[0][:n].astype(np.float32), data.train[1][:n]
    except Exception:  # a benchmark without MNIST still times the same shapes
        rng = np.random.default_rng(0)
        return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)


def nnmath_epoch(n: int, B: int) -> float:
    sys.path.insert(0, str(ROOT / "src"))
    import nnmath as nm
    from nnmath.layers import Conv2D, Dense, Input, MaxPool2D

    X, y = _data(n)
    layers = [
        Input((1, 28, 28)),
        Conv2D(20, 5, activation="relu"),
        MaxPool2D(2),
        Dense(100, activation="relu"),
        Dense(10, activation="softmax"),
    ]
    net = nm.Network(layers, cost="log_likelihood", init="he", seed=0)
    kw = dict(epochs=1, mini_batch_size=B, eta=0.03, seed=0, monitor="batch")
    net.fit(X[:1000], y[:1000], **kw)
    t0 = time.perf_counter()
    net.fit(X, y, **kw)
    return time.perf_counter() - t0


def torch_epoch(n: int, B: int) -> float:
    import torch

    torch.set_num_threads(2)
    X, y = _data(n)
    Xt, yt = torch.from_numpy(X).reshape(-1, 1, 28, 28), torch.from_numpy(np.asarray(y))
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 20, 5),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(20 * 12 * 12, 100),
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


def _one(system: str, n: int, B: int) -> float:
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import conv_speed; "
        f"print(conv_speed.{system}_epoch({n}, {B}))"
    )
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", default="10,64")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    rows = []
    for B in (int(b) for b in args.batches.split(",")):
        times: dict[str, list[float]] = {"nnmath": [], "torch": []}
        for _ in range(args.rounds):  # interleaved: the host's drift hits both alike
            for system in times:
                times[system].append(_one(system, args.n, B))
        med = {s: float(np.median(t)) for s, t in times.items()}
        rows.append({"row": "conv20", "B": B, **med, "ratio": med["nnmath"] / med["torch"]})
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"n = {args.n} images, {args.rounds} rounds, medians\n")
    print("| row | B | nnmath s | torch eager s | nnmath ÷ torch |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        cells = [ROWS[r["row"]], r["B"], f"{r['nnmath']:.2f}", f"{r['torch']:.2f}"]
        print("| " + " | ".join(map(str, cells)) + f" | {r['ratio']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
