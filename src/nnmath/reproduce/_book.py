"""Training one of the book's networks on MNIST and recording the test accuracy of every epoch
(shared by ``nielsen-ch1`` and ``nielsen-ch3``), and their figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["train_book", "plot_curves"]


def train_book(
    data: Any,
    sizes: list[int],
    net_kw: dict[str, Any],
    fit_kw: dict[str, Any],
    *,
    epochs: int,
    seed: int,
    n_train: int | None,
    n_test: int | None,
) -> dict[str, Any]:
    """Train ``Network(sizes, **net_kw)`` with ``fit(**fit_kw)``; test accuracy after each epoch.

    Returns
    -------
    dict
        ``test`` and ``validation`` (accuracy per epoch), ``best_test`` (the book's figure:
        the best test accuracy over the epochs), ``test_at_best_validation`` (the test
        accuracy of the epoch chosen by validation), ``seconds_per_epoch`` (median).
    """
    from ..network import Network

    X, y = data.train[0][:n_train], data.train[1][:n_train]
    Xt, yt = data.test[0][:n_test], data.test[1][:n_test]
    Xv, yv = data.validation[0][:n_test], data.validation[1][:n_test]
    net = Network(sizes, seed=seed, **net_kw)
    test: list[float] = []

    def track(net: Any, history: Any, epoch: int) -> None:
        test.append(net.accuracy(Xt, yt))

    history = net.fit(
        X, y, epochs=epochs, validation_data=(Xv, yv), seed=seed, callbacks=[track], **fit_kw
    )
    best_val = int(np.argmax(history.validation_accuracy))
    return {
        "seed": seed,
        "test": test,
        "validation": list(history.validation_accuracy),
        "best_test": max(test),
        "test_at_best_validation": test[best_val],
        "seconds_per_epoch": float(np.median(history.epoch_time)),
        "train_path": history.extra.get("train_path"),
    }


def plot_curves(report: Any, directory: Path) -> list[Path]:
    """Test accuracy against epoch, one line per seed, the paper's number as a dashed line."""
    from ..plots._mpl import pyplot, save_figure

    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    for run in report.series["runs"]:
        epochs = np.arange(1, len(run["test"]) + 1)
        ax.plot(epochs, 100 * np.asarray(run["test"]), label=f"seed {run['seed']}")
    if report.series.get("paper_accuracy"):
        ax.axhline(100 * report.series["paper_accuracy"], ls="--", c="k", label="the book")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("test accuracy after the epoch (%)")
    ax.set_title(f"{report.name}: {report.title}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return [save_figure(fig, directory / f"{report.name}.png", tight=False)]
