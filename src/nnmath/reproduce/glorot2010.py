"""``glorot2010``: Glorot & Bengio (2010), "Understanding the difficulty of training deep
feedforward neural networks", on MNIST.

Two measurements, as in the paper:

* **Fig. 2**, saturation during training: four hidden layers of 1,000 sigmoid units, softmax
  output with the log-likelihood cost, the *standard* initialisation ``U[−1/√n_in, 1/√n_in]``
  (``init="standard"``), zero biases, SGD with mini-batches of 10. The mean and spread of each
  hidden layer's activations on 300 fixed images after every chunk of training. The paper:
  the last hidden layer is "quickly pushed to its lower saturation value of 0", while the
  other layers keep a mean above 0.5 that decreases from the output toward the input.
* **Figs. 6–7**, at initialisation: five hidden layers of 1,000 tanh units, the standard
  against the *normalized* initialisation ``U[±√6/√(n_in+n_out)]`` (``init="glorot"``):
  per layer the histogram and variance of the activations and of the back-propagated
  gradients ``∂C/∂z^l`` (the δ^l of backprop, one column per example). The paper: with the
  standard initialisation the activations shrink and the back-propagated gradients fade
  toward the input; with the normalized one both keep their spread across layers. Sigmoid
  and softsign networks are measured beside tanh (table only).

The protocol is reduced from the paper's (a few epochs of millions of updates with a learning
rate tuned per model): Fig. 2 trains on the 50,000 training images once (η = 0.1, not tuned), so
the paper's later desaturation of the top layer (around epoch 100) is not checked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from . import header
from ._data import mnist
from ._report import Claim, Report, Table

__all__ = ["run", "plot", "saturation", "at_initialisation"]

WIDTH = 1000
OUT = dict(output_activation="softmax", cost="log_likelihood")
FULL = dict(n_train=50_000, chunks=50, n_init=1000, seeds=[0, 1, 2])
QUICK = dict(n_train=5_000, chunks=5, n_init=300, seeds=[0])
ETA, BATCH, N_WATCH = 0.1, 10, 300
INITS = {"standard": "standard", "normalized": "glorot"}
BINS = np.linspace(-1.0, 1.0, 51)


def saturation(data: Any, n_train: int, chunks: int, seed: int) -> dict[str, Any]:
    """Fig. 2: mean and std of every hidden sigmoid layer on 300 fixed images during training."""
    from ..network import Network

    net = Network([784, *[WIDTH] * 4, 10], activation="sigmoid", init="standard", seed=seed, **OUT)
    watch = data.validation[0][:N_WATCH].T
    seen, mean, std = [], [], []

    def record(n: int) -> None:
        _, acts = net.forward(watch)
        seen.append(n)
        mean.append([float(a.mean()) for a in acts[1:-1]])
        std.append([float(a.std()) for a in acts[1:-1]])

    record(0)
    k = n_train // chunks
    for c in range(chunks):
        X, y = data.train[0][c * k : (c + 1) * k], data.train[1][c * k : (c + 1) * k]
        net.fit(X, y, epochs=1, mini_batch_size=BATCH, eta=ETA, seed=seed + c)
        record((c + 1) * k)
    return {"seed": seed, "examples": seen, "mean": mean, "std": std}


def at_initialisation(data: Any, activation: str, init: str, n: int, seed: int) -> dict[str, Any]:
    """Figs. 6–7: per hidden layer, activations and δ^l = ∂C/∂z^l at initialisation."""
    from ..network import Network

    net = Network(
        [784, *[WIDTH] * 5, 10],
        activation=activation,
        init=INITS[init],
        seed=seed,
        dtype="float64",
        **OUT,
    )
    g = net.backprop(data.train[0][:n], data.train[1][:n])
    hidden = range(len(g.zs) - 1)
    acts = [np.asarray(g.activations[i + 1]) for i in hidden]
    deltas = [np.asarray(g.deltas[i]) for i in hidden]
    top = max(float(np.abs(d).max()) for d in deltas)
    return {
        "activation": activation,
        "init": init,
        "a_mean": [float(a.mean()) for a in acts],
        "a_std": [float(a.std()) for a in acts],
        "a_hist": [np.histogram(a, bins=BINS)[0].tolist() for a in acts],
        "delta_var": [float(d.var()) for d in deltas],
        "delta_hist": [
            np.histogram(d, bins=np.linspace(-top, top, 51))[0].tolist() for d in deltas
        ],
        "delta_range": top,
    }


def _saturation_claims(runs: list[dict[str, Any]], n_train: int) -> list[Claim]:
    end = np.mean([r["mean"][-1] for r in runs], axis=0)  # per hidden layer, mean over seeds
    start = np.mean([r["mean"][0] for r in runs], axis=0)
    where = f"after {n_train:,} examples, mean over seeds"
    return [
        Claim.at_most(
            "top-layer-saturates",
            "Fig. 2: the top hidden sigmoid layer is pushed to its lower saturation 0",
            "mean → 0 (from 0.5)",
            float(end[-1]),
            0.1,
            detail=f"mean activation of hidden layer 4 {where}; {start[-1]:.3f} at the start",
        ),
        Claim.at_least(
            "lower-layers-above-half",
            "Fig. 2: the other hidden layers keep a mean activation above 0.5",
            "> 0.5",
            float(end[:-1].min()),
            0.5,
            detail=f"smallest mean of hidden layers 1–3 {where}",
        ),
        Claim.at_least(
            "decreasing-toward-input",
            "Fig. 2: their mean decreases from the output toward the input",
            "layer 3 > layer 2 > layer 1",
            float(np.diff(end[:-1]).min()),
            0.0,
            detail="smallest of mean(l+1) − mean(l) over hidden layers 1–3",
        ),
    ]


def _init_claims(stats: dict[tuple[str, str], dict[str, Any]]) -> list[Claim]:
    def a_ratio(init: str) -> float:
        s = stats[("tanh", init)]["a_std"]
        return s[-1] / s[0]

    def d_ratio(init: str) -> float:
        v = stats[("tanh", init)]["delta_var"]
        return v[-1] / v[0]

    top_bottom = "hidden layer 5 / hidden layer 1, tanh"
    return [
        Claim.at_most(
            "activations-shrink-standard",
            "Fig. 6: standard init: activations narrow from layer to layer",
            "histograms narrow upward",
            a_ratio("standard"),
            0.5,
            detail=f"std of a^l, {top_bottom}",
        ),
        Claim.between(
            "activations-kept-normalized",
            "Fig. 6: normalized init: activations keep their spread",
            "similar histograms in all layers",
            a_ratio("normalized"),
            0.67,
            1.5,
            detail=f"std of a^l, {top_bottom}",
        ),
        Claim.at_least(
            "gradients-fade-standard",
            "Fig. 7: standard init: back-propagated gradients fade toward the input",
            "Var[∂C/∂z] falls downward",
            d_ratio("standard"),
            4.0,
            detail=f"Var[δ^l], {top_bottom}",
        ),
        Claim.between(
            "gradients-kept-normalized",
            "Fig. 7: normalized init: back-propagated gradients keep their variance",
            "≈ 1 (similar histograms)",
            d_ratio("normalized"),
            0.5,
            2.0,
            detail=f"Var[δ^l], {top_bottom}",
        ),
    ]


def _tables(runs: list[dict[str, Any]], stats: dict[tuple[str, str], Any]) -> list[Table]:
    picks = sorted({0, len(runs[0]["examples"]) // 4, len(runs[0]["examples"]) - 1})
    rows = []
    for j in range(4):
        cells = []
        for k in picks:
            m = np.mean([r["mean"][k][j] for r in runs])
            s = np.mean([r["std"][k][j] for r in runs])
            cells.append(f"{m:.3f} ± {s:.3f}")
        rows.append([str(j + 1), *cells])
    fig2 = Table(
        "Fig. 2: sigmoid activations (mean ± std over 300 images, mean over seeds)",
        ["hidden layer", *[f"after {runs[0]['examples'][k]:,} examples" for k in picks]],
        rows,
    )
    init_rows = []
    for (act, init), s in stats.items():
        init_rows.append(
            [
                act,
                init,
                " ".join(f"{v:.3f}" for v in s["a_std"]),
                " ".join(f"{v:.3g}" for v in s["delta_var"]),
                f"{s['delta_var'][-1] / s['delta_var'][0]:.3g}",
            ]
        )
    figs67 = Table(
        "Figs. 6–7 at initialisation (seed of the first run): per hidden layer 1 → 5",
        ["σ", "init", "std of a^l", "Var[δ^l]", "Var ratio top/bottom"],
        init_rows,
    )
    return [fig2, figs67]


def run(
    quick: bool = False,
    seeds: list[int] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> Report:
    """Fig. 2 once per seed; Figs. 6–7 (tanh, sigmoid, softsign; both inits) for the first seed."""
    p = QUICK if quick else FULL
    seeds = list(p["seeds"] if seeds is None else seeds)
    data = mnist(data_dir)
    runs = [saturation(data, p["n_train"], p["chunks"], s) for s in seeds]
    stats = {
        (act, init): at_initialisation(data, act, init, p["n_init"], seeds[0])
        for act in ("tanh", "sigmoid", "softsign")
        for init in INITS
    }
    protocol = (
        f"Fig. 2: [784, 1000×4, 10] sigmoid, softmax + log-likelihood, standard init, SGD "
        f"η = {ETA}, mini-batch {BATCH}, the first {p['n_train']:,} training images once "
        f"(pixel / 255), activations of 300 validation images after every "
        f"{p['n_train'] // p['chunks']:,}. Figs. 6–7: [784, 1000×5, 10] at initialisation, "
        f"{p['n_init']:,} training images, float64."
    )
    if quick:
        protocol += " Quick: 5,000 training images, one seed, 300 images at initialisation."
    return Report(
        **header("glorot2010"),
        protocol=protocol,
        quick=quick,
        seeds=seeds,
        claims=_saturation_claims(runs, p["n_train"]) + _init_claims(stats),
        tables=_tables(runs, stats),
        series={"saturation": runs, "init": [v for v in stats.values()]},
        notes=[
            "Not checked: the paper's slow desaturation of the top layer later in training "
            "(around epoch 100), nor its test errors (Table 1): both need far more training "
            "than this protocol's budget."
        ],
    )


def plot(report: Report, directory: Path) -> list[Path]:
    """Fig. 2 (mean ± std per layer against examples seen) and Figs. 6–7 (tanh histograms)."""
    from ..plots._mpl import pyplot, save_figure

    plt = pyplot()
    run0 = report.series["saturation"][0]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    mean, std = np.asarray(run0["mean"]), np.asarray(run0["std"])
    for j in range(mean.shape[1]):
        ax.errorbar(
            run0["examples"], mean[:, j], yerr=std[:, j], label=f"hidden layer {j + 1}", capsize=2
        )
    ax.set_xlabel("training examples seen")
    ax.set_ylabel("sigmoid activation (mean ± std over 300 images)")
    ax.set_title(f"Glorot & Bengio 2010, Fig. 2 (seed {run0['seed']}, standard init)")
    ax.legend(fontsize=8)
    paths = [save_figure(fig, directory / "glorot2010-fig2.png", tight=False)]
    tanh = [s for s in report.series["init"] if s["activation"] == "tanh"]
    fig, axes = plt.subplots(
        len(tanh), 2, figsize=(11, 3.3 * len(tanh) + 0.6), squeeze=False, layout="constrained"
    )
    for row, s in zip(axes, tanh, strict=False):
        _histograms(row, s)
    fig.suptitle(
        "Glorot & Bengio 2010, Figs. 6–7: tanh network [784, 1000×5, 10] at initialisation"
    )
    paths.append(save_figure(fig, directory / "glorot2010-figs6-7.png", tight=False))
    return paths


def _histograms(row: Any, s: dict[str, Any]) -> None:
    """One row of Figs. 6–7: the histograms of a^l (left) and of ∂C/∂z^l (right) per layer."""
    centres = (BINS[:-1] + BINS[1:]) / 2
    d = np.linspace(-s["delta_range"], s["delta_range"], 51)
    for j, (ha, hd) in enumerate(zip(s["a_hist"], s["delta_hist"], strict=True)):
        row[0].plot(centres, ha, label=f"hidden layer {j + 1}")
        row[1].plot((d[:-1] + d[1:]) / 2, hd, label=f"hidden layer {j + 1}")
    row[0].set_title(f"Fig. 6: activations, {s['init']} init", fontsize=10)
    row[0].set_xlabel(r"tanh activation $a^l$")
    row[1].set_title(f"Fig. 7: back-propagated gradients, {s['init']} init", fontsize=10)
    row[1].set_xlabel(r"$\partial C/\partial z^l$")
    for ax in row:
        ax.set_ylabel("count (units × images)")
        ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 3))
    row[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
