"""What watching a run costs: the guide's vanishing example with each watcher, per epoch.

The example of docs/guide/vanishing.md trains ``[784, 30, 30, 30, 10]`` on MNIST's 50,000
training rows with ``fit(X, y, epochs=30, track_gradients=True)`` (η = 3, mini-batches of
10). This script runs that fit (``--epochs`` of them) once per variant, in an order that
rotates from round to round, and reports the wall-clock seconds per epoch of the whole
``fit`` (training, the measurements after each epoch and the watchers' own work), and the
training path:

* ``plain``: no tracking;
* ``track reference``: ``track_gradients=True`` on the reference loop (``fast=False``), which
  is where a per-epoch tracker used to send every run;
* ``track``: ``track_gradients=True`` (the compiled epoch, the speeds measured after it);
* ``tensorboard``, ``liveplot``, ``log``: the same with ``TensorBoard`` (histograms too),
  ``LivePlot`` (a PNG file) or ``EpochLogger`` (CSV) added; ``all``: the three together.

Without MNIST (``$NNMATH_DATA`` or ``../shared/data``) it runs on the embedded digits.

Usage::

    python benchmarks/watching.py
    python benchmarks/watching.py --epochs 30 --rounds 1 --variants "track reference,track"
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

VARIANTS = ("plain", "track reference", "track", "tensorboard", "liveplot", "log", "all")


def _watchers(variant: str, folder: Path) -> list:
    from nnmath.callbacks import EpochLogger, LivePlot, TensorBoard

    made = {
        "tensorboard": lambda: TensorBoard(folder / "tb"),
        "liveplot": lambda: LivePlot(path=folder / "live.png"),
        "log": lambda: EpochLogger(folder / "run.csv"),
    }
    names = list(made) if variant == "all" else [variant] if variant in made else []
    return [made[n]() for n in names]


def _fit(variant: str, X, y, epochs: int) -> tuple[float, str]:
    from nnmath import Network

    net = Network([X.shape[1], 30, 30, 30, 10], cost="cross_entropy", init="scaled_normal", seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        kw = {"track_gradients": variant != "plain", "fast": variant != "track reference"}
        t0 = time.perf_counter()
        h = net.fit(X, y, epochs=epochs, callbacks=_watchers(variant, Path(tmp)), **kw)
        seconds = time.perf_counter() - t0
    return seconds / epochs, h.extra["train_path"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3, help="epochs per fit (the guide: 30)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--variants", default=",".join(VARIANTS))
    args = p.parse_args(argv)
    from nnmath.data import load_dataset

    try:
        data = load_dataset("mnist")
    except (OSError, ValueError):
        data = load_dataset("digits")
    X, y = data.train
    variants = [v.strip() for v in args.variants.split(",")]
    times: dict[str, list[float]] = {v: [] for v in variants}
    paths: dict[str, str] = {}
    for r in range(args.rounds):
        for v in variants[r % len(variants) :] + variants[: r % len(variants)]:
            seconds, paths[v] = _fit(v, X, y, args.epochs)
            times[v].append(seconds)
    base = statistics.median(times["plain"]) if "plain" in times else None
    print(f"{data.name}, {len(y)} rows, {args.epochs} epochs per fit, {args.rounds} rounds\n")
    print("| variant | path | s per epoch (median) | ratio to plain |")
    print("|---|---|---|---|")
    for v in variants:
        med = statistics.median(times[v])
        ratio = "" if base is None else f"{med / base:.2f}"
        print(f"| {v} | {paths[v]} | {med:.3f} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
