"""Seconds per MNIST-shaped epoch on each backend: NumPy, PyTorch (CPU / CUDA), CuPy.

The second lecture lists the GPU as one remedy for the vanishing gradient (more epochs in the
same time). This script times :meth:`nnmath.Network.fit` — the same network code on every
backend — for ``[784,100,10]`` and ``[784,100,100,100,100,10]`` (sigmoid, cross-entropy) at
mini-batch 10, 128 and 1024, on synthetic data of MNIST's shape (60,000 rows of 784 values
in [0, 1], 10 classes). ``--networks conv20,ch6`` adds the convolutional rows of
``conv_speed.py`` (ReLU, softmax with the log-likelihood cost, He's initialisation):
``conv(20,5) pool(2) dense(100) softmax(10)`` and Nielsen's chapter-6 network with a second
``conv(40,5) pool(2)``.
The data moves to the device once, before the timed epochs.

Usage::

    python benchmarks/gpu.py --backend cupy                         # on an NVIDIA GPU
    python benchmarks/gpu.py --backend torch --device cuda
    python benchmarks/gpu.py --backend numpy --backend torch --rows 6000 --epochs 1  # CPU

Each (backend, network, batch) row reports the median of ``--epochs`` timed epochs
(``History.epoch_time``: training only, GPU work synchronised) after one untimed warm-up
epoch on a small slice. ``--json`` writes the rows as JSON (atomically) for RESULTS.md.
Run it under ``flock /tmp/nnmath-heavy.lock`` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from typing import Any

import numpy as np

import nnmath as nm

NETWORKS = {"shallow": [784, 100, 10], "deep": [784, 100, 100, 100, 100, 10]}
#: the convolutional rows: each convolution's (maps, kernel), each followed by 2 × 2 pooling
CONV = {"conv20": ((20, 5),), "ch6": ((20, 5), (40, 5))}


def build(spec: Any, dtype: str, where: dict[str, Any]) -> Any:
    """The network of a row: dense ``sizes``, or the name of a convolutional row."""
    if not isinstance(spec, str):
        return nm.Network(
            spec,
            activation="sigmoid",
            cost="cross_entropy",
            init="scaled_normal",
            seed=0,
            dtype=dtype,
            **where,
        )
    from nnmath.layers import Conv2D, Dense, Input, MaxPool2D

    layers: list[Any] = [Input((1, 28, 28))]
    for maps, k in CONV[spec]:
        layers += [Conv2D(maps, k, activation="relu"), MaxPool2D(2)]
    layers += [Dense(100, activation="relu"), Dense(10, activation="softmax")]
    return nm.Network(layers, cost="log_likelihood", init="he", seed=0, dtype=dtype, **where)


def mnist_shaped(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic data with MNIST's shape: ``X`` (rows, 784) float32 in [0, 1], labels 0..9."""
    rng = np.random.default_rng(seed)
    X = rng.random((rows, 784), dtype=np.float32)
    y = rng.integers(0, 10, rows)
    return X, y


def time_epochs(
    backend: str,
    device: str | None,
    sizes: Any,
    batch: int,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    dtype: str,
) -> dict[str, Any]:
    """Median seconds per epoch of ``fit`` for one configuration (after a warm-up epoch)."""
    where = {} if backend == "numpy" else {"backend": backend, "device": device}
    net = build(sizes, dtype, where)
    eta = 0.03 if isinstance(sizes, str) else 0.1
    # the data go to the device once, as they would in a real run
    data = (net.check_inputs(X), net.check_targets(y, X.shape[0])) if where else (X, y)
    warm = min(X.shape[0], 20 * batch)
    net.fit(data[0][:warm], data[1][:warm], epochs=1, mini_batch_size=batch, eta=eta, seed=0)
    history = net.fit(*data, epochs=epochs, mini_batch_size=batch, eta=eta, seed=0)
    times = history.epoch_time
    return {
        "backend": backend,
        "device": getattr(getattr(net, "backend", None), "device", "cpu"),
        "sizes": sizes,
        "batch": batch,
        "rows": int(X.shape[0]),
        "dtype": dtype,
        "epochs": len(times),
        "seconds_per_epoch": statistics.median(times),
        "seconds_per_60000": statistics.median(times) * 60_000 / X.shape[0],
    }


def _title(spec: Any) -> str:
    return spec if isinstance(spec, str) else ",".join(map(str, spec))


def _device_name(backend: str, device: str | None) -> str:
    if device and device.startswith("cuda"):
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(device)
        import cupy

        index = int(device.partition(":")[2] or 0)
        return cupy.cuda.runtime.getDeviceProperties(index)["name"].decode()
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--backend",
        action="append",
        choices=["numpy", "torch", "cupy"],
        help="backend to time (repeat for several; default numpy)",
    )
    p.add_argument(
        "--device", default=None, help="cpu | cuda (default: cpu for numpy/torch, cuda for cupy)"
    )
    p.add_argument(
        "--networks",
        default="shallow,deep",
        help="comma list of shallow ([784,100,10]), deep ([784,100x4,10]), conv20, ch6 (the "
        "convolutional rows) or explicit sizes joined by '-', e.g. 784-30-10",
    )
    p.add_argument("--batch-sizes", default="10,128,1024")
    p.add_argument("--rows", type=int, default=60_000, help="training rows (default 60000)")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs (default 3)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch.set_num_threads for the torch CPU backend (default: torch's)",
    )
    p.add_argument("--json", metavar="PATH", help="also write the rows as JSON to PATH")
    args = p.parse_args(argv)
    if args.torch_threads and "torch" in (args.backend or []):
        import torch

        torch.set_num_threads(args.torch_threads)
    if args.rows < 1 or args.epochs < 1:
        p.error("--rows and --epochs must be positive")

    networks: list[Any] = [
        NETWORKS[n] if n in NETWORKS else n if n in CONV else [int(s) for s in n.split("-")]
        for n in args.networks.split(",")
    ]
    batches = [int(b) for b in args.batch_sizes.split(",")]
    X, y = mnist_shaped(args.rows)
    rows: list[dict[str, Any]] = []
    print(
        f"{'backend':<8} {'device':<24} {'network':<26} {'batch':>5} "
        f"{'s/epoch':>9} {'s/60k rows':>10}"
    )
    for backend in args.backend or ["numpy"]:
        device = args.device if backend != "numpy" else None
        try:
            if backend != "numpy":  # (keeps the script usable on older nnmath for numpy)
                from nnmath.backend import get_backend

                get_backend(backend, device)
        except (ImportError, ValueError) as exc:
            print(f"{backend}: skipped: {exc}", file=sys.stderr)
            continue
        name = _device_name(backend, device)
        for sizes in networks:
            for batch in batches:
                row = time_epochs(backend, device, sizes, batch, X, y, args.epochs, args.dtype)
                row["device_name"] = name
                rows.append(row)
                print(
                    f"{backend:<8} {name[:24]:<24} {_title(sizes):<26} "
                    f"{batch:>5} {row['seconds_per_epoch']:>9.3f} "
                    f"{row['seconds_per_60000']:>10.3f}",
                    flush=True,
                )
    if args.json:
        folder = os.path.dirname(os.path.abspath(args.json))
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(rows, fh, indent=2)
        os.replace(tmp, args.json)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
