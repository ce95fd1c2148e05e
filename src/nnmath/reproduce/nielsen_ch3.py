"""``nielsen-ch3``: [784,100,10], sigmoid, cross-entropy, N(0, 1/n_in) weights, η = 0.5,
λ = 5.0, mini-batches of 10, 60 epochs (the set-up of ``benchmarks/reproduce_book.py``).

The book reaches 97.92 % after 30 epochs at η = 0.5 and 98.04 % after 60 epochs at η = 0.1
(validation accuracy, one run each); the claim held here is ≥ 97.8 % best test accuracy.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import header
from ._book import plot_curves, train_book
from ._data import mnist
from ._report import Claim, Report, Table

__all__ = ["run", "plot"]

SIZES = [784, 100, 10]
NET = dict(activation="sigmoid", cost="cross_entropy", init="scaled_normal")
FIT = dict(mini_batch_size=10, eta=0.5, lmbda=5.0)
FULL = dict(epochs=60, n_train=None, n_test=None, seeds=[0, 1, 2], bound=0.978)
#: the quick protocol only checks that the network learns: 10,000 images, 5 epochs
QUICK = dict(epochs=5, n_train=10_000, n_test=2_000, seeds=[0], bound=0.90)


def run(
    quick: bool = False,
    seeds: list[int] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> Report:
    """Train the chapter-3 network; claim: best test accuracy (median over seeds) ≥ 97.8 %."""
    p = QUICK if quick else FULL
    seeds = list(p["seeds"] if seeds is None else seeds)
    data = mnist(data_dir, scale=256)
    runs = [
        train_book(
            data,
            SIZES,
            NET,
            FIT,
            epochs=p["epochs"],
            seed=s,
            n_train=p["n_train"],
            n_test=p["n_test"],
        )
        for s in seeds
    ]
    protocol = (
        f"[784,100,10], sigmoid, cross-entropy, N(0, 1/n_in) weights and N(0, 1) biases, "
        f"η = 0.5, λ = 5.0, mini-batch 10, {p['epochs']} epochs on the first "
        f"{p['n_train'] or 50_000:,} training images (pixel / 256); test accuracy on "
        f"{p['n_test'] or 10_000:,} test images after each epoch."
    )
    if quick:
        protocol += (
            " Quick: a reduced run that only checks that the network learns (≥ 90 %): a smoke "
            "check, not a reproduction of the book's 97.92 %."
        )
    claim = Claim.at_least(
        "accuracy",
        "best test accuracy over the epochs, median over seeds",
        "97.92 % (30 epochs) / 98.04 % (60 epochs, η = 0.1), validation, one run each",
        float(np.median([r["best_test"] for r in runs])),
        p["bound"],
        detail=f"seeds {', '.join(map(str, seeds))}",
        digits=0,
    )
    if quick:  # its threshold is below the book's number: passing it reproduces nothing
        claim = claim.as_smoke_check()
    table = Table(
        "per seed",
        ["seed", "best test", "test @ best validation", "s/epoch"],
        [
            [
                str(r["seed"]),
                f"{r['best_test']:.2%}",
                f"{r['test_at_best_validation']:.2%}",
                f"{r['seconds_per_epoch']:.2f}",
            ]
            for r in runs
        ],
    )
    return Report(
        **header("nielsen-ch3"),
        protocol=protocol,
        quick=quick,
        seeds=seeds,
        claims=[claim],
        tables=[table],
        series={"runs": runs, "paper_accuracy": 0.9804},
    )


def plot(report: Report, directory: Path) -> list[Path]:
    """Test accuracy per epoch and seed beside the book's 98.04 %."""
    return plot_curves(report, directory)
