"""``he2015``: He, Zhang, Ren & Sun (2015), "Delving deep into rectifiers", Sec. 2.2 and Fig. 3,
with ReLU MLPs on MNIST.

* **The variance at initialisation** (their eq. 10): for ReLU layers with zero biases and
  symmetric weights, ``Var[z^l] = ½ n_l Var[w^l] Var[z^{l−1}]`` (n_l the fan-in), so
  ``Var[z^L] = Var[z^1] ∏_{l=2}^{L} ½ n_l Var[w^l]``. With He's ``N(0, 2/n_in)`` every factor
  is 1; with Xavier's (``init="glorot"``, Var[w] = 2/(n_in + n_out), 1/64 in a 64-wide layer)
  it is ½, and a 30-layer network divides the variance by about 2²⁹. Measured: the second
  moment of z^l over units and images, against the formula with each layer's Var[w^l].
* **Training** (Fig. 3): a 30-layer ReLU MLP, 64 units wide, softmax output and
  log-likelihood, SGD with the same η for both initialisations; the paper: with Xavier's
  the 30-layer model "completely stalls", with He's it converges; a 22-layer model converges
  with both (He's "starts reducing the error earlier").

Reduced from the paper (ImageNet, convolutional layers, 30 and 22 layers with a tuned
schedule): MLPs on MNIST, its 50,000 training images, 10 epochs.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import header
from ._data import mnist
from ._report import Claim, Report, Table

__all__ = ["run", "plot", "variance_profile", "train_deep", "predicted"]

WIDTH = 64
INITS = {"He": "he", "Xavier": "glorot"}
OUT = dict(activation="relu", output_activation="softmax", cost="log_likelihood")
FIT = dict(mini_batch_size=16, eta=0.01)
FULL = dict(n_train=50_000, epochs=10, n_var=1000, seeds=[0, 1, 2])
QUICK = dict(n_train=4_000, epochs=6, n_var=300, seeds=[0])
#: eq. 10 is an expectation over the weights: each layer's factor is averaged over this many
#: draws (a single 64-wide draw of 30 layers is off by a factor e^±1.5)
DRAWS = 20
CHANCE = math.log(10)  # the log-likelihood of a uniform guess over 10 classes
LEARNS, STALLS = 0.5 * CHANCE, 0.95 * CHANCE


def sizes(depth: int) -> list[int]:
    """``depth`` layers of weights: 784 inputs, ``depth − 1`` hidden layers of 64, 10 outputs."""
    return [784, *[WIDTH] * (depth - 1), 10]


def predicted(layer_sizes: list[int], init: str) -> list[float]:
    """The paper's ``Var[z^l] / Var[z^1]`` for l = 1, 2, …: the product of ½ n_l Var[w^l].

    ``Var[w^l]`` is the variance of the initialisation's distribution (:mod:`nnmath.init`):
    2/n_in for ``he``, 2/(n_in + n_out) for ``glorot``.
    """
    var_w = {
        "he": lambda n_in, n_out: 2.0 / n_in,
        "glorot": lambda n_in, n_out: 2.0 / (n_in + n_out),
    }
    out = [1.0]
    for n_in, n_out in zip(layer_sizes[1:-1], layer_sizes[2:]):
        out.append(out[-1] * 0.5 * n_in * var_w[init](n_in, n_out))
    return out


def variance_profile(X: Any, depth: int, init: str, draws: int) -> list[float]:
    """Measured ``Var[z^l] / Var[z^1]`` per layer, composed as the paper derives eq. 10.

    For each layer the factor ``E[(z^l)²] / E[(z^{l−1})²]`` (second moments over units and
    images of one draw, float64) is averaged over ``draws`` networks (seeds 0, 1, …); the
    profile is the running product of these mean factors. (The mean of ``Var[z^L]`` itself
    over draws is dominated by rare draws: it is log-normal with a log-variance of about
    29 · 5/64 in a 64-wide, 30-layer ReLU network.)
    """
    from ..network import Network

    factors = []
    for seed in range(draws):
        net = Network(sizes(depth), init=init, seed=seed, dtype="float64", **OUT)
        zs, _ = net.forward(np.asarray(X, dtype=np.float64).T)
        second = np.array([np.mean(z * z) for z in zs])
        factors.append(second[1:] / second[:-1])
    return [1.0, *np.cumprod(np.mean(factors, axis=0)).tolist()]


def train_deep(
    data: Any, depth: int, init: str, seed: int, n_train: int, epochs: int
) -> list[float]:
    """Training cost (mean log-likelihood over the training images) after every epoch."""
    from ..network import Network

    net = Network(sizes(depth), init=init, seed=seed, **OUT)
    X, y = data.train[0][:n_train], data.train[1][:n_train]
    history = net.fit(X, y, epochs=epochs, seed=seed, **FIT)
    return [float(c) for c in history.training_cost]


def _variance_claims(measured: dict[str, list[float]]) -> list[Claim]:
    claims = []
    for label, init in INITS.items():
        pred = predicted(sizes(30), init)[-1]
        ratio = measured[label][-1] / pred
        claims.append(
            Claim.between(
                f"variance-formula-{init}",
                f"eq. 10: Var[z^L] = Var[z^1] ∏ ½ n_l Var[w^l], {label}'s init, 30 layers",
                f"∏ = {pred:.3g}",
                ratio,
                0.5,
                2.0,
                detail=f"measured / predicted at the output, per-layer factors averaged over "
                f"{DRAWS} draws; "
                f"measured {measured[label][-1]:.3g}",
            )
        )
    return claims


def _epochs_at_chance(curve: np.ndarray) -> int:
    """How many epochs the cost stays at chance (≥ 0.95 ln 10) before it first falls below."""
    below = np.flatnonzero(np.asarray(curve) < STALLS)
    return int(below[0]) if below.size else len(curve)


def _training_claims(costs: dict[tuple[int, str], np.ndarray], quick: bool) -> list[Claim]:
    final = {k: float(v[:, -1].mean()) for k, v in costs.items()}
    learn = f"≤ ½ ln 10 = {LEARNS:.3f}"
    xavier_stall = _epochs_at_chance(costs[(30, "Xavier")].mean(axis=0))
    epochs = costs[(30, "Xavier")].shape[1]
    return [
        Claim.at_most(
            "he-30-learns",
            "Fig. 3: 30 layers, He's init converges",
            "converges",
            final[(30, "He")],
            LEARNS,
            detail=f"final training cost, mean over seeds ({learn})",
        ),
        Claim.at_least(
            "xavier-30-stalls",
            "Fig. 3: 30 layers, Xavier's init stalls",
            "completely stalls",
            final[(30, "Xavier")],
            STALLS,
            detail=f"final training cost, mean over seeds (ln 10 = 2.303: chance); "
            f"at chance for the first {xavier_stall} of {epochs} epochs",
        ),
        Claim.at_most(
            "he-22-learns",
            "22 layers: He's init converges",
            "converges",
            final[(22, "He")],
            LEARNS,
            detail=f"final training cost ({learn})",
        ),
        *(
            []
            if quick
            else [
                Claim.at_most(
                    "xavier-22-learns",
                    "22 layers: Xavier's init converges too",
                    "converges (more slowly)",
                    final[(22, "Xavier")],
                    LEARNS,
                    detail=f"final training cost ({learn})",
                )
            ]
        ),
        Claim.at_least(
            "he-22-earlier",
            "22 layers: He's init starts reducing the error earlier",
            "earlier",
            float(costs[(22, "Xavier")][:, 0].mean() - costs[(22, "He")][:, 0].mean()),
            0.0,
            detail="Xavier's minus He's cost after epoch 1, mean over seeds",
        ),
    ]


def run(
    quick: bool = False,
    seeds: list[int] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> Report:
    """The variance profile of 30 layers (both inits) and the 30- and 22-layer training runs."""
    p = QUICK if quick else FULL
    seeds = list(p["seeds"] if seeds is None else seeds)
    data = mnist(data_dir)
    X = data.train[0][: p["n_var"]]
    measured = {label: variance_profile(X, 30, init, DRAWS) for label, init in INITS.items()}
    costs = {
        (depth, label): np.asarray(
            [train_deep(data, depth, init, s, p["n_train"], p["epochs"]) for s in seeds]
        )
        for depth in (30, 22)
        for label, init in INITS.items()
    }
    stall = {k: _epochs_at_chance(v.mean(axis=0)) for k, v in costs.items()}
    rows = [
        [str(d), label, " ".join(f"{c:.3f}" for c in v.mean(axis=0)), str(stall[(d, label)])]
        for (d, label), v in costs.items()
    ]
    var_rows = [
        [
            str(l + 1),
            *[f"{measured[k][l]:.3g} / {predicted(sizes(30), INITS[k])[l]:.3g}" for k in INITS],
        ]
        for l in range(0, 30, 5)
    ]
    var_rows.append(
        [
            "30",
            *[f"{measured[k][-1]:.3g} / {predicted(sizes(30), INITS[k])[-1]:.3g}" for k in INITS],
        ]
    )
    protocol = (
        f"ReLU MLPs [784, 64×(L−1), 10], zero biases, softmax + log-likelihood. Variance: 30 "
        f"layers, {p['n_var']:,} training images, float64, each layer's factor "
        f"E[(z^l)²]/E[(z^(l−1))²] averaged over {DRAWS} draws (seeds 0–{DRAWS - 1}) and "
        f"multiplied up. Training: SGD "
        f"η = {FIT['eta']}, mini-batch {FIT['mini_batch_size']}, the first {p['n_train']:,} "
        f"training images, {p['epochs']} epochs, seeds {', '.join(map(str, seeds))}."
    )
    if quick:
        protocol += (
            " Quick: too short for the 22-layer Xavier network, which starts learning only "
            "after about 40,000 examples; its claim is checked in the full run."
        )
    return Report(
        **header("he2015"),
        protocol=protocol,
        quick=quick,
        seeds=seeds,
        claims=_variance_claims(measured) + _training_claims(costs, quick),
        tables=[
            Table("Var[z^l] / Var[z^1], measured / eq. 10", ["l", *INITS], var_rows),
            Table(
                "training cost per epoch (mean over seeds)",
                ["layers", "init", "cost after epoch 1, 2, …", "epochs at chance"],
                rows,
            ),
        ],
        series={
            "variance": measured,
            "predicted": {k: predicted(sizes(30), init) for k, init in INITS.items()},
            "training": {f"{d} layers, {label}": v.tolist() for (d, label), v in costs.items()},
        },
    )


def plot(report: Report, directory: Path) -> list[Path]:
    """Var[z^l]/Var[z^1] against l (log scale, with eq. 10) and the training cost per epoch."""
    from matplotlib.ticker import MaxNLocator

    from ..plots._mpl import pyplot, save_figure

    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
    for k, label in enumerate(INITS):  # one colour per init: measured as dots, eq. 10 as a line
        layers = np.arange(1, len(report.series["variance"][label]) + 1)
        left.semilogy(
            layers,
            report.series["variance"][label],
            "o",
            ms=6,
            mfc="none",
            color=f"C{k}",
            label=f"{label}'s init, measured",
        )
        left.semilogy(
            layers,
            report.series["predicted"][label],
            "--",
            lw=1.2,
            color="0.15",
            zorder=3,
            label="eq. 10" if k == 0 else None,
        )
    left.set_xlabel("layer l")
    left.set_ylabel(r"$\mathrm{Var}[z^l]\, /\, \mathrm{Var}[z^1]$")
    left.set_title("eq. 10 through 30 ReLU layers", fontsize=10)
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    for key, curves in report.series["training"].items():
        c = np.asarray(curves).mean(axis=0)
        k = list(INITS).index(key.split(", ")[1]) if ", " in key else 0
        deep = not key.startswith("22")
        right.plot(
            np.arange(1, len(c) + 1),
            c,
            "-" if deep else "--",
            color=f"C{k}",
            marker="o" if deep else "s",
            ms=4 if deep else 8,  # open squares around the dots: coinciding curves stay seen
            mfc=None if deep else "none",
            label=key,
        )
    right.axhline(CHANCE, c="grey", lw=0.8, label="chance (ln 10)")
    right.set_xlabel("epoch")
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_ylabel("training cost (mean over seeds)")
    right.set_title("ReLU MLPs of 30 and 22 layers: training", fontsize=10)
    right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    fig.suptitle("He et al. 2015: He's against Xavier's initialisation")
    return [save_figure(fig, directory / "he2015.png", tight=False)]
