"""Every figure nnmath draws reads: no text leaves the canvas or lies on another text, no legend
over another panel. Each figure is measured as it is saved (matplotlib's renderer gives every
text's extent), from the command line, ``nnmath.plots``, the live plot and the reproductions,
on tiny data."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from _layout import layout_problems  # noqa: E402
from nnmath import History, plots  # noqa: E402
from nnmath.cli import main  # noqa: E402
from nnmath.plots.sweep import plot_sweep  # noqa: E402
from nnmath.plots.vanishing import plot_speeds  # noqa: E402
from nnmath.reproduce import Report  # noqa: E402
from nnmath.reproduce import plot as plot_reproduction  # noqa: E402
from nnmath.sweep import summarize  # noqa: E402


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """figure (number: title) -> layout problems of every figure saved while the test runs,
    measured just before matplotlib writes it (the real savefig then runs)."""
    found: dict[str, list[str]] = {}
    real = Figure.savefig

    def savefig(fig: Any, fname: Any, *args: Any, **kwargs: Any) -> Any:
        title = fig._suptitle.get_text() if fig._suptitle else fig.axes[0].get_title()
        found[f"{len(found) + 1}: {title}"] = layout_problems(fig)
        return real(fig, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    yield found
    plt.close("all")


def readable(saved: dict[str, list[str]], count: int) -> None:
    assert len(saved) >= count, f"expected {count} figures, saved {sorted(saved)}"
    bad = {name: problems for name, problems in saved.items() if problems}
    assert bad == {}


def test_the_check_sees_clipped_and_overlapping_texts() -> None:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_title("a title far wider than this small figure can ever hold on its canvas")
    ax.text(0.5, 0.5, "one", transform=ax.transAxes)
    ax.text(0.5, 0.5, "two", transform=ax.transAxes)
    problems = layout_problems(fig)
    assert any(p.startswith("leaves the canvas: 'a title") for p in problems)
    assert "overlap: 'one' and 'two'" in problems


# --------------------------------------------------------------------------- nnmath.plots


def _history(epochs: int = 12) -> History:
    h = History()
    h.training_cost = [1.0 / (e + 1) for e in range(epochs)]
    h.validation_cost = [1.2 / (e + 1) for e in range(epochs)]
    h.training_accuracy = [0.4 + 0.04 * e for e in range(epochs)]
    h.validation_accuracy = [0.8 + 0.01 * e for e in range(epochs)]
    h.best_epoch = epochs - 2
    return h


def test_library_figures(saved: dict[str, list[str]], tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 200)
    y_pred = np.where(rng.random(200) < 0.8, y, rng.integers(0, 10, 200))
    plots.plot_activations(path=tmp_path / "activations.png")
    plots.plot_learning_curves(_history(), title="digits: [64,30,10]", path=tmp_path / "c.png")
    plots.plot_confusion_matrix(y, y_pred, path=tmp_path / "confusion.png")
    plots.plot_misclassified(rng.random((200, 64)), y, y_pred, (8, 8), path=tmp_path / "m.png")
    readable(saved, 4)


def _speeds(label: str, sizes: list[int], activation: str, epochs: int) -> dict[str, Any]:
    hidden = len(sizes) - 2
    mean = [
        [0.1 * 3.0 ** (j - hidden) * (1 + 0.01 * e) for j in range(hidden)] for e in range(epochs)
    ]
    return {
        "label": label,
        "sizes": sizes,
        "layers": list(range(2, hidden + 2)),
        "epoch": list(range(epochs)),
        "seeds": [0, 1],
        "activation": activation,
        "init": "scaled_normal",
        "mean": mean,
        "min": [[0.5 * v for v in row] for row in mean],
        "max": [[1.5 * v for v in row] for row in mean],
        "book": [0.01 * (j + 1) for j in range(hidden)] if activation == "sigmoid" else None,
    }


def test_vanishing_figures(saved: dict[str, list[str]], tmp_path: Path) -> None:
    acts = ("sigmoid", "tanh", "relu", "leaky_relu", "elu")
    at_init = [
        _speeds(f"{a}, [784,{','.join(['30'] * d)},10]", [784, *[30] * d, 10], a, 1)
        for d in (2, 3, 4)
        for a in acts
    ]
    plot_speeds(at_init, tmp_path / "vanishing_init.png", title="speed of learning, 20 seeds")
    training = [
        _speeds(f"[784,{','.join(['30'] * d)},10]", [784, *[30] * d, 10], "sigmoid", 30)
        for d in (2, 3, 4)
    ]
    plot_speeds(training, tmp_path / "vanishing_training.png", title="during training")
    readable(saved, 2)


def _sweep_rows(grid: dict[str, list[Any]], seeds: int = 3) -> list[dict[str, Any]]:
    """One row per grid point and seed; the speed does not depend on η (it is measured at
    initialisation), the accuracy does, and the largest η diverges."""
    keys = list(grid)
    rows = []
    for values in (
        np.array(np.meshgrid(*grid.values(), indexing="ij"), dtype=object).reshape(len(keys), -1).T
    ):
        point = dict(zip(keys, values, strict=True))
        depth = int(point.get("depth", 1))
        eta = float(point.get("eta", 0.5))
        kind = 1 + sorted(SWEEP_VALUES).index(str(point.get("activation", "relu")))
        kind += 0.5 * sorted(SWEEP_VALUES).index(str(point.get("init", "he")))
        for seed in range(seeds):
            diverged = eta >= 10 and seed > 0
            rows.append(
                {
                    **point,
                    "seed": seed,
                    "diverged": diverged,
                    "speed_l1": kind * 0.3**depth * (1 + 0.1 * seed),
                    "validation_accuracy": 0.1
                    if diverged
                    else 0.9 - 0.01 * depth - 0.02 * kind - 0.01 * math.log(eta),
                }
            )
    return rows


SWEEPS = {
    "readme-command": {
        "activation": ["sigmoid", "tanh", "relu", "elu"],
        "depth": [2, 4, 6, 8],
        "init": ["scaled_normal", "glorot", "he"],
    },
    "readme-toml": {
        "activation": ["sigmoid", "tanh", "relu", "elu"],
        "depth": [2, 4, 6, 8],
        "init": ["scaled_normal", "glorot", "he"],
        "eta": [0.1, 0.5],
    },
    "eta-only": {"eta": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0]},
    "eta-and-activation": {"activation": ["sigmoid", "relu"], "eta": [0.1, 1.0, 10.0, 30.0]},
    "depth-only": {"depth": [1, 2, 3, 4, 5]},
    "one-point": {"activation": ["relu"]},
}


SWEEP_VALUES = {"sigmoid", "tanh", "relu", "elu", "scaled_normal", "glorot", "he"}


@pytest.mark.parametrize("name", SWEEPS)
def test_sweep_figures(name: str, saved: dict[str, list[str]], tmp_path: Path) -> None:
    rows = _sweep_rows(SWEEPS[name])
    summary = summarize(rows, by=list(SWEEPS[name]))
    plot_sweep(summary, tmp_path, rows)
    plot_sweep(summary, tmp_path / "without-rows")
    readable(saved, 2)


def test_live_plot_figure(tmp_path: Path) -> None:
    from nnmath.callbacks.liveplot import figure

    h = _history(30)
    points = {
        "epoch": list(range(1, 31)),
        "nabla_b": [[0.01 * 2**j * (1 + e / 30) for j in range(4)] for e in range(30)],
    }
    assert layout_problems(figure(h, points)) == []


# -------------------------------------------------------------------------- command line


def test_cli_figures(saved: dict[str, list[str]], tmp_path: Path) -> None:
    quiet = ["--dataset", "digits", "--quiet"]
    assert main(["plot", "activations", "--out", str(tmp_path / "a.png"), "--quiet"]) == 0
    for kind in ("curves", "confusion", "misclassified"):
        out = str(tmp_path / "new" / "folder" / f"{kind}.png")  # created, as --plot DIR
        assert main(["plot", kind, "--epochs", "2", "--lmbda", "1", "--out", out, *quiet]) == 0
        assert Path(out).is_file()
    assert main(["train", "--epochs", "2", "--plot", str(tmp_path / "run"), *quiet]) == 0
    argv = ["--sizes", "64,30,30,10", "--sizes", "64,30,30,30,10", "--subset", "200"]
    out = str(tmp_path / "v.png")
    assert main(["vanishing", *argv, "--activation", "sigmoid,relu", "--plot", out, *quiet]) == 0
    out = str(tmp_path / "vt.png")
    assert main(["vanishing", *argv, "--epochs", "3", "--seeds", "2", "--plot", out, *quiet]) == 0
    readable(saved, 8)
    # the learning curves' title names the setting that differs from the defaults
    assert any(name.endswith("cross_entropy, λ = 1") for name in saved), sorted(saved)


def test_cli_sweep_figures(saved: dict[str, list[str]], tmp_path: Path) -> None:
    argv = ["sweep", "vanishing", "--dataset", "digits", "--subset", "200", "--jobs", "1"]
    argv += ["--depth", "1,2", "--eta", "0.1,1", "--seeds", "2", "--epochs", "1", "--quiet"]
    argv += ["--out", str(tmp_path / "s.csv"), "--plot", str(tmp_path)]
    assert main(argv) == 0
    readable(saved, 2)


# --------------------------------------------------------------------------- reproductions


def _report(name: str, series: dict[str, Any]) -> Report:
    return Report(
        name, "a title", "a source", "a protocol", quick=True, seeds=[0, 1], series=series
    )


def _glorot_series() -> dict[str, Any]:
    x = np.linspace(-1, 1, 50)
    hist = [list(1000 * np.exp(-(x**2) * (j + 1) * 8)) for j in range(5)]
    init = [
        {"activation": act, "init": init, "a_hist": hist, "delta_hist": hist, "delta_range": 0.04}
        for act in ("tanh", "sigmoid")
        for init in ("standard", "glorot")
    ]
    run = {
        "seed": 0,
        "examples": [0, 1000, 2000, 3000],
        "mean": [[0.5, 0.4, 0.3, 0.1 * k] for k in range(4)],
        "std": [[0.1] * 4] * 4,
    }
    return {"saturation": [run], "init": init}


def _he_series() -> dict[str, Any]:
    layers = np.arange(1, 31)
    return {
        "variance": {"He": [1.0] * 30, "Xavier": list(0.5 ** (layers - 1))},
        "predicted": {"He": [1.0] * 30, "Xavier": list(0.5 ** (layers - 1))},
        "training": {
            f"{d} layers, {init}": [[2.3 * math.exp(-e / k) for e in range(10)]]
            for d, xavier in ((30, 40), (22, 4))  # at 30 layers Xavier's init stalls
            for init, k in (("He", 2), ("Xavier", xavier))
        },
    }


def test_reproduction_figures(saved: dict[str, list[str]], tmp_path: Path) -> None:
    speeds = [[0.01 * 3**j * (1 + e / 30) for j in range(3)] for e in range(30)]
    book_runs = [
        {"seed": s, "test": [0.9 + 0.001 * e * (s + 1) for e in range(30)]} for s in range(5)
    ]
    reports = [
        _report("glorot2010", _glorot_series()),
        _report("he2015", _he_series()),
        _report("nielsen-ch5", {"training": {"784,30,30,10": speeds, "784,30,30,30,10": speeds}}),
        _report("nielsen-ch1", {"runs": book_runs, "paper_accuracy": 0.9542}),
    ]
    for report in reports:
        plot_reproduction(report, tmp_path)
    readable(saved, 5)
