"""``nielsen-ch5``: the speed of learning ‖∂C/∂b^l‖ of each hidden layer (the vanishing gradient).

The book's networks [784,30,30,10], [784,30,30,30,10] and [784,30,30,30,30,10], sigmoid
everywhere, cross-entropy, N(0, 1/n_in) weights, on the first 1,000 MNIST training images.
At initialisation the book shows one draw per network (its table, :data:`BOOK_SPEEDS`); we
draw 20 (seeds 0–19) and ask whether each of its nine numbers lies within our range, and
whether each hidden layer learns several times slower than the next. During training the
book's figure follows the speeds over 500 epochs (η = 0.1, λ = 5.0, mini-batches of 1,000:
the book's ``generate_gradient.py`` calls ``net.SGD(training_data, 1, 1000, 0.1, lmbda=5.0)``
once per epoch, so each epoch is one step on all 1,000 images) and
finds "the first hidden layer learning roughly 100 times slower than the final hidden layer"
(four hidden layers); the speeds are measured after every epoch on the same 1,000 images.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from . import header
from ._data import mnist
from ._report import Claim, Report, Table

__all__ = ["run", "plot", "BOOK_SPEEDS"]

#: the book's speeds ‖∂C/∂b^l‖ of the hidden layers at initialisation (one random draw each)
BOOK_SPEEDS: dict[tuple[int, ...], list[float]] = {
    (784, 30, 30, 10): [0.07, 0.31],
    (784, 30, 30, 30, 10): [0.012, 0.060, 0.283],
    (784, 30, 30, 30, 30, 10): [0.003, 0.017, 0.070, 0.285],
}
NET = dict(activation="sigmoid", cost="cross_entropy", init="scaled_normal", dtype="float64")
FIT = dict(mini_batch_size=1000, eta=0.1, lmbda=5.0)
INIT_SEEDS = list(range(20))
FULL = dict(epochs=500, seeds=[0, 1, 2])
QUICK = dict(epochs=30, seeds=[0])  # quick: the same initial table, 30 epochs of training


def speeds_at_init(X: Any, y: Any, seeds: list[int]) -> dict[tuple[int, ...], np.ndarray]:
    """Speeds of the hidden layers at initialisation: ``(seeds, hidden layers)`` per network."""
    from ..diagnostics import gradient_norms
    from ..network import Network

    out = {}
    for sizes in BOOK_SPEEDS:
        rows = [gradient_norms(Network(list(sizes), seed=s, **NET), X, y).nabla_b for s in seeds]
        out[sizes] = np.asarray(rows)[:, : len(sizes) - 2]
    return out


def speeds_in_training(X: Any, y: Any, epochs: int, seeds: list[int]) -> dict[str, Any]:
    """Mean over seeds of the hidden layers' speeds after every epoch, per network."""
    from ..diagnostics import GradientTracker
    from ..network import Network

    out = {}
    for sizes in BOOK_SPEEDS:
        runs = []
        for s in seeds:
            tracker = GradientTracker(X, y, max_rows=len(y))
            net = Network(list(sizes), seed=s, **NET)
            history = net.fit(X, y, epochs=epochs, seed=s, callbacks=[tracker], **FIT)
            runs.append(np.asarray(history.extra["gradient_norms"]["nabla_b"]))
        out[",".join(map(str, sizes))] = np.mean(runs, axis=0)[:, : len(sizes) - 2].tolist()
    return out


def _init_claims(init: dict[tuple[int, ...], np.ndarray]) -> tuple[list[Claim], Table]:
    inside, ratios, rows = 0, [], []
    for sizes, speeds in init.items():
        mean, lo, hi = speeds.mean(axis=0), speeds.min(axis=0), speeds.max(axis=0)
        book = BOOK_SPEEDS[sizes]
        inside += int(np.sum((lo <= book) & (np.asarray(book) <= hi)))
        ratios += list(mean[1:] / mean[:-1])
        for j in range(len(book)):
            label = ",".join(map(str, sizes)) if j == 0 else ""
            cells = [f"{book[j]:.3g}", f"{mean[j]:.3g}", f"{lo[j]:.3g}–{hi[j]:.3g}"]
            rows.append([label, str(j + 1), *cells])
    n_book = sum(len(v) for v in BOOK_SPEEDS.values())
    claims = [
        Claim.at_least(
            "book-speeds-in-range",
            "the book's speeds at initialisation lie within our range over 20 draws",
            "9 numbers, one draw each",
            inside,
            n_book,
            detail=f"count of the {n_book} inside min–max, seeds 0–19",
        ),
        Claim.between(
            "slower-than-next",
            "each hidden layer learns several times slower than the next",
            "4.1–5.6× (the book's draws)",
            float(min(ratios)),
            3.0,
            8.0,
            detail=f"smallest next/this ratio of mean speeds, largest {max(ratios):.3g}",
        ),
    ]
    columns = ["network", "hidden layer", "book", "mean (20 draws)", "min–max"]
    table = Table("speed of learning at initialisation", columns, rows)
    return claims, table


def _training_claims(train: dict[str, Any], epochs: int) -> list[Claim]:
    ordered, total = 0, 0
    for curve in train.values():
        c = np.asarray(curve)
        ordered += int(np.sum(np.all(np.diff(c, axis=1) > 0, axis=1)))
        total += len(c)
    deepest = np.asarray(train["784,30,30,30,30,10"])
    return [
        Claim.at_least(
            "early-layers-slower-in-training",
            "during training every hidden layer still learns slower than the next",
            "all three figures",
            ordered / total,
            0.95,
            detail=f"fraction of the {total} recorded epochs (3 networks) in that order",
        ),
        Claim.between(
            "hundred-times-slower",
            "four hidden layers: the first learns roughly 100× slower than the last",
            "≈ 100×",
            float(deepest[-1, -1] / deepest[-1, 0]),
            30.0,
            300.0,
            detail=f"last/first hidden layer after epoch {epochs}",
        ),
    ]


def run(
    quick: bool = False,
    seeds: list[int] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> Report:
    """Speeds at initialisation (20 draws) and during training (``seeds``), with the claims."""
    p = QUICK if quick else FULL
    seeds = list(p["seeds"] if seeds is None else seeds)
    data = mnist(data_dir, scale=256)
    X, y = data.train[0][:1000], data.train[1][:1000]
    init = speeds_at_init(X, y, INIT_SEEDS)
    train = speeds_in_training(X, y, p["epochs"], seeds)
    claims, table = _init_claims(init)
    claims += _training_claims(train, p["epochs"])
    protocol = (
        "[784,30,30,10], [784,30,30,30,10], [784,30,30,30,30,10]: sigmoid, cross-entropy, "
        "N(0, 1/n_in) weights, float64, the first 1,000 MNIST training images. At "
        "initialisation: 20 draws (seeds 0–19). Training: η = 0.1, λ = 5.0, mini-batch 1,000 "
        "(the book's code; not 10), "
        f"{p['epochs']} epochs, speeds after every epoch, mean over seeds "
        f"{', '.join(map(str, seeds))}."
    )
    if quick:
        protocol += " Quick: 30 epochs instead of the book's 500."
    return Report(
        **header("nielsen-ch5"),
        protocol=protocol,
        quick=quick,
        seeds=seeds,
        claims=claims,
        tables=[table],
        series={
            "init": {",".join(map(str, k)): v.tolist() for k, v in init.items()},
            "book": {",".join(map(str, k)): v for k, v in BOOK_SPEEDS.items()},
            "training": train,
        },
    )


def plot(report: Report, directory: Path) -> list[Path]:
    """Speeds during training (log scale), one panel per network, as the book's figures."""
    from matplotlib.ticker import MaxNLocator

    from ..plots._mpl import pyplot, save_figure

    plt = pyplot()
    train = report.series["training"]
    fig, axes = plt.subplots(
        1,
        len(train),
        figsize=(4.2 * len(train), 4.2),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    for ax, (label, curve) in zip(axes[0], train.items(), strict=True):
        c = np.asarray(curve)
        for j in range(c.shape[1]):
            ax.plot(np.arange(1, len(c) + 1), c[:, j], label=f"hidden layer {j + 1}")
        ax.set_yscale("log")
        ax.set_xlabel("epoch (speeds measured after it)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"[{label}]", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    axes[0][0].set_ylabel(r"speed of learning $\|\partial C/\partial b^l\|$")
    fig.suptitle("Nielsen, chapter 5: speed of learning of each hidden layer during training")
    return [save_figure(fig, directory / "nielsen-ch5.png", tight=False)]
