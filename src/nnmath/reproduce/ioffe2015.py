"""``ioffe2015``: Ioffe & Szegedy (2015), "Batch normalization: accelerating deep network
training by reducing internal covariate shift", Sec. 4.1 and Fig. 1, on MNIST.

The paper's network: 784 inputs, three fully connected hidden layers of 100 sigmoid units,
10 outputs (softmax, log-likelihood), weights drawn from a small Gaussian, trained for 50,000
steps on mini-batches of 60, with and without batch normalisation before each hidden
sigmoid: ``Dense(100, "identity"), BatchNorm(), Activation("sigmoid")`` against
``Dense(100, "sigmoid")`` (the output layer is not normalised). Both start from the same
weights. Fig. 1 shows

* (a) the test accuracy against the steps: the batch-normalised network is higher, earlier;
* (b, c) the input of a typical sigmoid of the last hidden layer (``z`` without, the
  normalised ``γ ẑ + β`` with) as its 15th, 50th and 85th percentiles over the test images,
  against the steps: it drifts without batch normalisation and stays put with it.

What the paper does not state, and what we chose (:data:`SIGMA`, :data:`ETAS`): the Gaussian's
σ, the optimizer and its learning rate. Plain mini-batch SGD is the optimizer of the paper's
Sec. 2–3 (the MNIST section names none other); η is chosen from :data:`ETAS` by the
validation accuracy of the network *without* batch normalisation after a short run (so the
test set plays no part, and the choice favours the network batch normalisation is compared
with), and both networks train with it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from . import header
from ._data import mnist
from ._report import Claim, Report, Table

__all__ = ["run", "plot", "build", "train", "drift", "choose_eta"]

WIDTH, HIDDEN, BATCH = 100, 3, 60
#: the standard deviation of the initial weights, N(0, σ²) ("small random Gaussian values"):
#: a hidden unit's z starts within about ±0.3 of 0, so every sigmoid starts near its middle
SIGMA = 0.01
#: the learning rates the validation run chooses from (plain SGD)
ETAS = (0.1, 0.3, 1.0, 3.0)
PERCENTILES = (15, 50, 85)
LABELS = {False: "without BN", True: "with BN"}
#: steps: the paper's 50,000; every: steps between two measurements; start: the step the
#: drift is measured from (after the first tenth, where every network moves fast); select:
#: the steps of the learning-rate choice; watch: test images the percentiles are taken over
FULL = dict(steps=50_000, every=500, start=5_000, select=5_000, watch=10_000, seeds=[0, 1])
QUICK = dict(steps=3_000, every=250, start=250, select=500, watch=2_000, seeds=[0])
TARGET = 0.95  # the test accuracy whose first step is compared
#: thresholds: the paper's words (higher, earlier, drifts against stable) as numbers; the
#: quick run's (a smoke check) compare the steps to 90 %, which 3,000 steps reach, and ask
#: only for no less drift without BN than with it, from the first measurement on
FULL_TESTS = dict(target=TARGET, higher=0.0005, earlier=1.5, stable=2.0)
QUICK_TESTS = dict(target=0.90, higher=0.02, earlier=1.5, stable=1.0)


def build(batch_norm: bool, seed: int) -> Any:
    """The paper's network, its weights W ~ N(0, SIGMA²) from ``seed`` (layer by layer, the
    same draws with and without batch normalisation), biases 0."""
    from ..layers import Activation, BatchNorm, Dense, Input
    from ..network import Network

    if batch_norm:
        hidden = [
            layer
            for _ in range(HIDDEN)
            for layer in (Dense(WIDTH, "identity"), BatchNorm(), Activation("sigmoid"))
        ]
        net = Network([Input(784), *hidden, Dense(10, "softmax")], cost="log_likelihood", seed=seed)
    else:
        net = Network(
            [784, *[WIDTH] * HIDDEN, 10],
            activation="sigmoid",
            output_activation="softmax",
            cost="log_likelihood",
            seed=seed,
        )
    rng = np.random.default_rng(seed)
    shapes = [W.shape for W in net.weights]
    dense = [i for i, layer in enumerate(_layers_of(net)) if layer != "batch_norm"]
    weights, biases = list(net.weights), list(net.biases)
    for i in dense:  # W ~ N(0, σ²), b = 0: the same numbers in both networks
        weights[i] = rng.normal(0.0, SIGMA, shapes[i]).astype(net.dtype)
        biases[i] = np.zeros_like(biases[i])
    net.weights, net.biases = weights, biases
    return net


def _layers_of(net: Any) -> list[str]:
    """The kind of each entry of ``net.weights``: ``"dense"`` or ``"batch_norm"`` (γ, β)."""
    if not getattr(net, "layered", False):
        return ["dense"] * len(net.weights)
    return [
        "batch_norm" if type(layer).__name__ == "BatchNorm" else "dense"
        for layer in net.parametrized
    ]


def sigmoid_inputs(net: Any, X: Any) -> np.ndarray:
    """The input of every sigmoid of the last hidden layer: ``z`` (its Dense's) without
    batch normalisation, ``γ ẑ + β`` with (the running statistics, as at inference).
    Shape ``(units, images)``."""
    zs, _ = net.forward(np.asarray(X).T)
    if not getattr(net, "layered", False):
        return np.asarray(zs[-2])
    sigmoids = [i for i, layer in enumerate(net.layers[1:-1]) if layer.activation is not None]
    return np.asarray(zs[sigmoids[-1]])


def _batches(n: int, steps: int, every: int, seed: int) -> list[np.ndarray]:
    """Row indices of each chunk of ``every`` mini-batches: epochs of a permutation of the
    ``n`` training rows drawn from ``seed``, one after another (the same for both networks)."""
    rng = np.random.default_rng(seed)
    need = steps * BATCH
    order = np.concatenate([rng.permutation(n) for _ in range(-(-need // n))])[:need]
    return np.split(order, steps // every)


def train(
    data: Any, batch_norm: bool, eta: float, seed: int, steps: int, every: int, watch: int
) -> dict[str, Any]:
    """Train for ``steps`` mini-batches of 60 with SGD; every ``every`` steps the test
    accuracy and the 15th/50th/85th percentiles of each last-hidden-layer sigmoid's input over
    the first ``watch`` test images.

    Returns
    -------
    dict
        ``steps`` (list), ``test`` (accuracy per entry), ``percentiles`` as a nested list
        ``(entries, 3, units)``.
    """
    net = build(batch_norm, seed)
    X, y = data.train
    Xt, yt = data.test
    out: dict[str, Any] = {"seed": seed, "steps": [], "test": [], "percentiles": []}
    for k, rows in enumerate(_batches(len(y), steps, every, seed)):
        net.fit(X[rows], y[rows], epochs=1, mini_batch_size=BATCH, eta=eta, seed=seed + k)
        z = sigmoid_inputs(net, Xt[:watch])
        out["steps"].append((k + 1) * every)
        out["test"].append(float(net.accuracy(Xt, yt)))
        out["percentiles"].append(np.percentile(z, PERCENTILES, axis=1).tolist())
    return out


def choose_eta(data: Any, steps: int, seed: int) -> tuple[float, dict[float, float]]:
    """The η of :data:`ETAS` with the best validation accuracy of the network without batch
    normalisation after ``steps`` mini-batches (the test set is not read); ``steps`` is a
    multiple of 500 or less."""
    X, y = data.train
    Xv, yv = data.validation
    scores = {}
    chunk = min(steps, 500)  # mini-batches a fit takes at once: 30,000 rows copied, not more
    for eta in ETAS:
        net = build(False, seed)
        with np.errstate(over="ignore", invalid="ignore"):
            for k, rows in enumerate(_batches(len(y), steps, chunk, seed)):
                net.fit(X[rows], y[rows], epochs=1, mini_batch_size=BATCH, eta=eta, seed=seed + k)
            scores[eta] = float(net.accuracy(Xv, yv))
    return max(scores, key=lambda e: scores[e]), scores


def drift(percentiles: Any, steps: list[int], start: int) -> np.ndarray:
    """Per unit, how far its input's distribution moved from step ``start`` to the end: the
    mean over the 15th, 50th and 85th percentiles of ``|p(end) − p(start)|``. Shape ``(units,)``."""
    p = np.asarray(percentiles)  # (entries, 3, units)
    i = steps.index(start)
    return np.abs(p[-1] - p[i]).mean(axis=0)


def first_step(run: dict[str, Any], target: float = TARGET) -> int | None:
    """The first measured step whose test accuracy reaches ``target`` (None: never)."""
    hits = [s for s, a in zip(run["steps"], run["test"]) if a >= target]
    return hits[0] if hits else None


def typical_unit(runs: list[dict[str, Any]], start: int) -> int:
    """The unit of the last hidden layer whose drift (first seed) is the median one."""
    d = drift(runs[0]["percentiles"], runs[0]["steps"], start)
    return int(np.argsort(d)[len(d) // 2])


def _mean_curve(runs: list[dict[str, Any]]) -> np.ndarray:
    return np.mean([r["test"] for r in runs], axis=0)


def _claims(runs: dict[bool, list[dict[str, Any]]], p: dict[str, Any]) -> list[Claim]:
    final = {bn: float(_mean_curve(rs)[-1]) for bn, rs in runs.items()}
    target = p["target"]
    reach = {bn: _first(rs, target, p["steps"] + p["every"]) for bn, rs in runs.items()}
    drifts = {
        bn: float(np.mean([np.median(drift(r["percentiles"], r["steps"], p["start"])) for r in rs]))
        for bn, rs in runs.items()
    }
    never = f"{p['steps'] + p['every']:,}: not reached in the run"
    return [
        Claim.at_least(
            "bn-higher-accuracy",
            "Fig. 1(a): the batch-normalised network reaches a higher test accuracy",
            "higher",
            final[True] - final[False],
            p["higher"],
            detail=f"test accuracy after {p['steps']:,} steps with BN minus without, mean over "
            f"seeds: {final[True]:.2%} against {final[False]:.2%}",
        ),
        Claim.at_least(
            "bn-earlier",
            f"Fig. 1(a): and earlier: steps to {target:.0%} test accuracy, without BN / with BN",
            "earlier",
            reach[False] / reach[True],
            p["earlier"],
            detail=f"first measured step at {target:.0%} (mean over seeds): "
            f"{reach[True]:,.0f} with BN, {reach[False]:,.0f} without "
            f"(a run that never reaches it counts as {never})",
            digits=3,
        ),
        Claim.at_least(
            "drift-without-bn",
            "Fig. 1(b, c): a last-hidden-layer sigmoid's input drifts without BN, stays "
            "stable with it: drift without / with",
            "drifts / stable",
            drifts[False] / drifts[True],
            p["stable"],
            detail=f"drift: mean |change| of its 15th, 50th, 85th percentiles from step "
            f"{p['start']:,} to the end, median over the 100 units, mean over seeds: "
            f"{drifts[False]:.3g} without BN, {drifts[True]:.3g} with",
            digits=3,
        ),
    ]


def _first(runs: list[dict[str, Any]], target: float, never: int) -> float:
    """Mean over seeds of the first step at ``target`` (``never`` for a run that does not)."""
    steps = [first_step(r, target) for r in runs]
    return float(np.mean([never if s is None else s for s in steps]))


def _tables(runs: dict[bool, list[dict[str, Any]]], p: dict[str, Any], unit: int) -> list[Table]:
    steps = runs[False][0]["steps"]
    picks = sorted({steps.index(p["start"]), *np.linspace(0, len(steps) - 1, 5).astype(int)})
    acc_rows = [
        [LABELS[bn], *[f"{_mean_curve(rs)[k]:.2%}" for k in picks]] for bn, rs in runs.items()
    ]
    pct_rows = []
    for bn, rs in runs.items():
        per = np.asarray(rs[0]["percentiles"])[:, :, unit]  # (entries, 3)
        for j, q in enumerate(PERCENTILES):
            row = [LABELS[bn] if j == 0 else "", f"{q}th", *[f"{per[k, j]:.2f}" for k in picks]]
            pct_rows.append(row)
    at = [f"step {steps[k]:,}" for k in picks]
    return [
        Table("test accuracy (mean over seeds)", ["network", *at], acc_rows),
        _drift_table(runs, p),
        Table(
            f"percentiles of the input of sigmoid {unit + 1} of the last hidden layer (the "
            f"median drift, first seed), over {p['watch']:,} test images",
            ["network", "percentile", *at],
            pct_rows,
        ),
    ]


def _drift_table(runs: dict[bool, list[dict[str, Any]]], p: dict[str, Any]) -> Table:
    """The drift three ways (median over units, mean over seeds): from the claim's step, from
    the first measurement, and from the claim's step in units of the spread p85 − p15 at the
    end (a shift of the distribution against its own width)."""
    rows = []
    for bn, rs in runs.items():
        cells = []
        for start, relative in (
            (p["start"], False),
            (rs[0]["steps"][0], False),
            (p["start"], True),
        ):
            values = []
            for r in rs:
                d = drift(r["percentiles"], r["steps"], start)
                if relative:
                    end = np.asarray(r["percentiles"])[-1]
                    d = d / (end[2] - end[0])
                values.append(float(np.median(d)))
            cells.append(f"{np.mean(values):.3g}")
        rows.append([LABELS[bn], *cells])
    first = runs[False][0]["steps"][0]
    columns = [
        "network",
        f"from step {p['start']:,}",
        f"from step {first:,}",
        f"from step {p['start']:,}, / (p85 − p15) at the end",
    ]
    return Table(
        "drift of the last hidden layer's sigmoid inputs (median over the units)", columns, rows
    )


def run(
    quick: bool = False,
    seeds: list[int] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> Report:
    """The learning rate chosen on the validation images, then both networks per seed."""
    p = {**(QUICK if quick else FULL), **(QUICK_TESTS if quick else FULL_TESTS)}
    seeds = list(p["seeds"] if seeds is None else seeds)
    data = mnist(data_dir)
    eta, scores = choose_eta(data, p["select"], seeds[0])
    runs = {
        bn: [train(data, bn, eta, s, p["steps"], p["every"], p["watch"]) for s in seeds]
        for bn in (False, True)
    }
    unit = typical_unit(runs[False], p["start"])
    claims = _claims(runs, p)
    if quick:
        claims = [c.as_smoke_check() for c in claims]
    select = ", ".join(f"η = {e:g}: {a:.2%}" for e, a in scores.items())
    protocol = (
        f"MNIST, [784, 100, 100, 100, 10]: sigmoid hidden layers, softmax output, "
        f"log-likelihood; W ~ N(0, {SIGMA}²), b = 0, the same draws for both networks; with "
        "BN: Dense(100, identity), BatchNorm(), Activation(sigmoid) per hidden layer "
        f"(inference with the running statistics). Plain SGD, mini-batches of {BATCH}, "
        f"{p['steps']:,} steps, η = {eta:g} for both: the best validation accuracy of the "
        f"network without BN after {p['select']:,} steps ({select}). Measured every "
        f"{p['every']} steps: test accuracy (10,000 images), percentiles over the first "
        f"{p['watch']:,} test images. Seeds {', '.join(map(str, seeds))}."
    )
    if quick:
        protocol += (
            f" Quick: {p['steps']:,} steps instead of 50,000, and {p['target']:.0%} instead "
            "of 95 % for the steps compared; the thresholds are the quick run's own."
        )
    return Report(
        **header("ioffe2015"),
        protocol=protocol,
        quick=quick,
        seeds=seeds,
        claims=claims,
        tables=_tables(runs, p, unit),
        series={
            "eta": eta,
            "eta_scores": {f"{e:g}": a for e, a in scores.items()},
            "unit": unit,
            "start": p["start"],
            "runs": {LABELS[bn]: rs for bn, rs in runs.items()},
        },
        notes=[
            "The paper states neither σ of the initial weights, nor the optimizer or its "
            f"learning rate: σ = {SIGMA} is ours, plain SGD the paper's Sec. 2–3, η chosen on "
            "the validation images for the network without BN.",
            "The figure's percentiles are those of one unit (the median drift of the first "
            "seed); the claim takes the median drift over all 100 units.",
        ],
    )


def plot(report: Report, directory: Path) -> list[Path]:
    """Fig. 1: (a) test accuracy against steps, (b, c) the typical sigmoid's percentiles."""
    from ..plots._mpl import pyplot, save_figure

    plt = pyplot()
    runs, unit = report.series["runs"], report.series["unit"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.8), layout="constrained")
    for k, (label, rs) in enumerate(runs.items()):
        steps = np.asarray(rs[0]["steps"])
        axes[0].plot(steps, 100 * _mean_curve(rs), color=f"C{k}", label=label)
    axes[0].set_xlabel("training step")
    axes[0].set_ylabel("test accuracy (%, mean over seeds)")
    axes[0].set_title("(a) test accuracy", fontsize=10)
    axes[0].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    low = min(float(np.min(np.asarray(rs[0]["percentiles"])[:, :, unit])) for rs in runs.values())
    high = max(float(np.max(np.asarray(rs[0]["percentiles"])[:, :, unit])) for rs in runs.values())
    for ax, (tag, (label, rs)) in zip(axes[1:], zip("bc", runs.items())):
        per = np.asarray(rs[0]["percentiles"])[:, :, unit]
        for j, q in enumerate(PERCENTILES):
            style = dict(color="k", lw=(1.0, 2.0, 1.0)[j], ls=("--", "-", ":")[j])
            ax.plot(rs[0]["steps"], per[:, j], label=f"{q}th percentile", **style)
        ax.axvline(report.series["start"], color="grey", lw=0.8, ls=":")
        ax.set_ylim(low - 0.3, high + 0.3)
        ax.set_xlabel("training step")
        ax.set_title(
            f"({tag}) {label}: input of sigmoid {unit + 1}, last hidden layer", fontsize=10
        )
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3)
    axes[1].set_ylabel("sigmoid input (test images)")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    fig.suptitle("Ioffe & Szegedy 2015, Fig. 1: MNIST with and without batch normalisation")
    return [save_figure(fig, directory / "ioffe2015.png", tight=False)]
