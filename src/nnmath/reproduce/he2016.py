"""``he2016``: He, Zhang, Ren & Sun (2016), "Deep residual learning for image recognition",
the degradation problem (Sec. 1, Fig. 1; Sec. 4.1, Fig. 4), with MLPs on MNIST.

The paper trains *plain* ConvNets of 18 and 34 layers on ImageNet (20 and 56 on CIFAR-10)
and finds that the deeper one ends with a *higher training error*: not over-fitting, an
optimisation difficulty ("degradation"), and not vanishing gradients either, since its plain
networks normalise every layer (BN "ensures forward propagated signals to have non-zero
variances", and the backward gradients "exhibit healthy norms"). With identity shortcuts
every two layers, ``a^{out} = ReLU(a^{in} + F(a^{in}))``, the deeper *residual* network ends
with a lower training error than the shallower.

Here: MNIST and fully connected layers of 64 ReLU units instead of CIFAR-10's ConvNets, each
layer as the paper's, ``Dense(64, identity), BatchNorm(), Activation(relu)`` (BN after the
weights, before σ); plain networks of :data:`DEPTHS` layers of weights and their residual
counterparts of the same depth: the first hidden layer, then blocks
``Residual([Dense, BatchNorm, ReLU, Dense, BatchNorm], "relu")``, then the softmax output.
The paper's optimizer: SGD with momentum 0.9, mini-batches of 128, η divided by 10 at half
and at three quarters of the training (:class:`Milestones`), He's initialisation; η = 0.01,
not its 0.1 (:data:`FIT`); no weight decay (the claims are about the training error). The
speed of learning of a batch-normalised layer is ‖∂C/∂β^l‖ (its Dense's b is normalised
away).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..schedules import Schedule
from . import header
from ._data import mnist
from ._report import Claim, Report, Table

__all__ = ["run", "plot", "build", "train", "Milestones"]

WIDTH = 64
DEPTHS = (10, 50)
KINDS = ("plain", "residual")
#: the paper's SGD but for η: its 0.1 is what it found too large to start its deepest network
#: (110 layers, warmed up at 0.01); our 50-layer MLPs, plain and residual, do not start at 0.1
#: either, so all four networks train at 0.01
FIT = dict(mini_batch_size=128, eta=0.01, momentum=0.9, optimizer="sgd")
FULL = dict(n_train=50_000, epochs=12, n_speed=1000, seeds=[0, 1])
QUICK = dict(n_train=5_000, epochs=4, n_speed=300, seeds=[0])
#: thresholds: the paper's "higher" and "lower" as at least 0.1 percentage point (50 of the
#: 50,000 training images); the quick run's smoke check only asks for the order, and its few
#: steps leave the residual network behind the shallow plain one: it is compared with the
#: plain network of its own depth
FULL_TESTS = dict(degrades=0.001, lower=0.001, quick=False)
QUICK_TESTS = dict(degrades=0.0, lower=0.0, quick=True)
#: "healthy" gradients: the first hidden layer's speed at least this fraction of the last's
HEALTHY = 0.1


class Milestones(Schedule):
    """η_e = η · 0.1^k, k the number of milestones (½ and ¾ of the epochs) passed: the
    paper's division by 10 at 32k and 48k of 64k iterations (``torch``'s ``MultiStepLR``)."""

    name = "milestones"

    def eta(self, eta0: float, epoch: int, epochs: int | None = None) -> float:
        total = epochs or 1
        passed = sum(epoch >= m for m in (total // 2, (3 * total) // 4))
        return eta0 * 0.1**passed

    def torch_twin(self, epochs: int | None = None) -> tuple[str, dict[str, Any]]:
        total = epochs or 1
        return "MultiStepLR", {"milestones": [total // 2, (3 * total) // 4], "gamma": 0.1}


def _unit() -> list[Any]:
    """One layer as the paper's: weights, batch normalisation, then σ."""
    from ..layers import Activation, BatchNorm, Dense

    return [Dense(WIDTH, "identity"), BatchNorm(), Activation("relu")]


def _block() -> Any:
    """A residual block of two layers: ReLU(a + BN(W₂ ReLU(BN(W₁ a))))."""
    from ..layers import BatchNorm, Dense, Residual

    return Residual([*_unit(), Dense(WIDTH, "identity"), BatchNorm()], "relu")


def build(kind: str, depth: int, seed: int) -> Any:
    """A plain or residual network of ``depth`` layers of weights, 784 → 64 … 64 → 10."""
    from ..layers import Dense, Input
    from ..network import Network

    if kind == "plain":
        hidden = [layer for _ in range(depth - 1) for layer in _unit()]
    else:
        blocks = [_block() for _ in range((depth - 2) // 2)]
        hidden = [*_unit(), *blocks]
    return Network(
        [Input(784), *hidden, Dense(10, "softmax")], cost="log_likelihood", init="he", seed=seed
    )


def speeds(net: Any, X: Any, y: Any) -> list[float]:
    """The speed of learning of every hidden layer, first first: ‖∂C/∂β^l‖ of its BatchNorm
    (:func:`nnmath.diagnostics.gradient_norms`' ``speed``, without the output layer's)."""
    from ..diagnostics import gradient_norms

    return gradient_norms(net, X, y).speed[:-1]


def train(data: Any, kind: str, depth: int, seed: int, p: dict[str, Any]) -> dict[str, Any]:
    """Train one network; the training and test error after every epoch, the speeds of
    learning of its hidden layers before and after training (first ``n_speed`` images)."""
    net = build(kind, depth, seed)
    X, y = data.train[0][: p["n_train"]], data.train[1][: p["n_train"]]
    Xt, yt = data.test
    Xs, ys = X[: p["n_speed"]], y[: p["n_speed"]]
    out: dict[str, Any] = {"seed": seed, "speeds": [speeds(net, Xs, ys)]}
    train_err, test_err = [], []

    def record(net: Any, history: Any, epoch: int) -> None:
        train_err.append(1.0 - float(net.accuracy(X, y)))
        test_err.append(1.0 - float(net.accuracy(Xt, yt)))

    net.fit(X, y, epochs=p["epochs"], seed=seed, schedule=Milestones(), callbacks=[record], **FIT)
    out["speeds"].append(speeds(net, Xs, ys))
    return {**out, "train_error": train_err, "test_error": test_err}


def _key(kind: str, depth: int) -> str:
    return f"{kind}-{depth}"


def _final(runs: dict[str, list[dict[str, Any]]], what: str) -> dict[str, float]:
    """The last epoch's ``what`` (``train_error``, ``test_error``), mean over seeds."""
    return {k: float(np.mean([r[what][-1] for r in rs])) for k, rs in runs.items()}


def _ratio(runs: list[dict[str, Any]], when: int) -> float:
    """First hidden layer's speed over the last's, geometric mean over seeds (``when``: 0 at
    initialisation, 1 after training)."""
    return float(
        np.exp(np.mean([np.log(r["speeds"][when][0] / r["speeds"][when][-1]) for r in runs]))
    )


def _claims(runs: dict[str, list[dict[str, Any]]], p: dict[str, Any]) -> list[Claim]:
    train, test = _final(runs, "train_error"), _final(runs, "test_error")
    shallow, deep = _key("plain", DEPTHS[0]), _key("plain", DEPTHS[1])
    res = _key("residual", DEPTHS[1])
    ratio = {k: (_ratio(runs[k], 0), _ratio(runs[k], 1)) for k in (deep, res)}
    spread = {k: max(abs(np.log10(v)) for v in ratio[k]) for k in ratio}
    pct = {k: f"{train[k]:.2%} (test {test[k]:.2%})" for k in train}
    return [
        Claim.at_least(
            "plain-degrades",
            f"degradation: the {DEPTHS[1]}-layer plain network ends with a higher training "
            f"error than the {DEPTHS[0]}-layer one",
            "higher (Fig. 1, Fig. 4 left)",
            train[deep] - train[shallow],
            p["degrades"],
            detail=f"training error {DEPTHS[1]} minus {DEPTHS[0]} layers after the last epoch, "
            f"mean over seeds: {pct[deep]} against {pct[shallow]}",
        ),
        Claim.at_least(
            "residual-lower",
            f"the {DEPTHS[1]}-layer residual network ends with a lower training error than "
            + ("the plain one of its depth" if p["quick"] else "both plain ones"),
            "lower (Fig. 4 right)",
            (train[deep] if p["quick"] else min(train[shallow], train[deep])) - train[res],
            p["lower"],
            detail=f"the {'deeper' if p['quick'] else 'lower'} plain training error minus "
            f"the residual's: {pct[res]}",
        ),
        Claim.at_least(
            "plain-not-vanishing",
            f"the {DEPTHS[1]}-layer plain network (with BN) has no vanishing gradient: its "
            "first hidden layer learns at least a tenth as fast as its last",
            "healthy norms (Sec. 4.1)",
            min(ratio[deep]),
            HEALTHY,
            detail="‖∂C/∂β‖ of hidden layer 1 / of the last, the smaller of at "
            f"initialisation ({ratio[deep][0]:.3g}) and after training ({ratio[deep][1]:.3g})",
            digits=3,
        ),
        Claim.at_least(
            "identity-paths-even",
            "with the identity paths the first layer's speed of learning is closer to the "
            "last's: |log10(first/last)|, plain over residual",
            "(not in the paper)",
            spread[deep] - spread[res],
            0.0,
            detail=f"first/last at initialisation and after training: plain {ratio[deep][0]:.3g}, "
            f"{ratio[deep][1]:.3g}; residual {ratio[res][0]:.3g}, {ratio[res][1]:.3g}; the "
            "larger |log10| of each, plain minus residual",
            digits=3,
        ),
    ]


def run(
    quick: bool = False,
    seeds: list[int] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> Report:
    """The four networks (plain and residual, two depths) per seed, and the claims."""
    p = {**(QUICK if quick else FULL), **(QUICK_TESTS if quick else FULL_TESTS)}
    seeds = list(p["seeds"] if seeds is None else seeds)
    data = mnist(data_dir)
    runs = {
        _key(kind, depth): [train(data, kind, depth, s, p) for s in seeds]
        for kind in KINDS
        for depth in DEPTHS
    }
    claims = _claims(runs, p)
    if quick:
        claims = [c.as_smoke_check() for c in claims]
    protocol = (
        f"MNIST, the first {p['n_train']:,} training images; MLPs of {DEPTHS[0]} and "
        f"{DEPTHS[1]} layers of weights, 64 units, each hidden layer Dense(64, identity), "
        "BatchNorm(), ReLU; residual: the first hidden layer, then blocks Residual([Dense, BN, "
        "ReLU, Dense, BN], relu); softmax output, log-likelihood, He's init. SGD, momentum "
        f"0.9, mini-batches of 128, η = {FIT['eta']} ÷ 10 at epochs {p['epochs'] // 2} and "
        f"{3 * p['epochs'] // 4} of {p['epochs']}; training error on the training images "
        "after every epoch (inference: running statistics); speeds of learning ‖∂C/∂β^l‖ "
        f"on the first {p['n_speed']:,}. Seeds {', '.join(map(str, seeds))}."
    )
    if quick:
        protocol += (
            f" Quick: {p['n_train']:,} images, {p['epochs']} epochs; own thresholds, and the "
            "residual network against the plain one of its depth only."
        )
    return Report(
        **header("he2016"),
        protocol=protocol,
        quick=quick,
        seeds=seeds,
        claims=claims,
        tables=_tables(runs),
        series={"runs": runs, "epochs": p["epochs"]},
        notes=[
            "The paper trains ConvNets on ImageNet and CIFAR-10; these are MLPs on MNIST, "
            "with the paper's layer (weights, BN, ReLU), blocks of two layers and optimizer.",
            "The paper argues that its plain networks' gradients do not vanish; with BN a "
            "deep plain MLP's first layers may rather learn *faster* than the last at "
            "initialisation (the ratio above 1).",
        ],
    )


def _tables(runs: dict[str, list[dict[str, Any]]]) -> list[Table]:
    rows = []
    for key, rs in runs.items():
        err = np.mean([r["train_error"] for r in rs], axis=0)
        test = np.mean([r["test_error"] for r in rs], axis=0)
        rows.append(
            [
                key,
                " ".join(f"{e:.2%}" for e in err),
                f"{test[-1]:.2%}",
                f"{_ratio(rs, 0):.3g}",
                f"{_ratio(rs, 1):.3g}",
            ]
        )
    columns = [
        "network",
        "training error after epoch 1, 2, …",
        "test error",
        "first/last speed at init",
        "after training",
    ]
    return [Table("training (mean over seeds)", columns, rows)]


def plot(report: Report, directory: Path) -> list[Path]:
    """Training error against epoch (the paper's Fig. 4), and each hidden layer's speed of
    learning at initialisation (log scale)."""
    from matplotlib.ticker import MaxNLocator

    from ..plots._mpl import pyplot, save_figure

    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
    for key, rs in report.series["runs"].items():
        kind, depth = key.split("-")
        style = dict(color="C0" if kind == "plain" else "C1", ls="--" if depth == "10" else "-")
        err = 100 * np.mean([r["train_error"] for r in rs], axis=0)
        left.plot(np.arange(1, len(err) + 1), err, label=f"{kind}, {depth} layers", **style)
        speed = np.exp(np.mean([np.log(r["speeds"][0]) for r in rs], axis=0))
        right.semilogy(np.arange(1, len(speed) + 1), speed, label=f"{kind}, {depth}", **style)
    left.set_xlabel("epoch")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_ylabel("training error (%)")
    left.set_title("training error (mean over seeds)", fontsize=10)
    right.set_xlabel("hidden layer (two per residual block)")
    right.set_ylabel(r"speed of learning $\|\partial C/\partial \beta^l\|$ at initialisation")
    right.set_title("speed of learning of each hidden layer", fontsize=10)
    for ax in (left, right):
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("He et al. 2016: degradation of plain MLPs on MNIST, and residual ones")
    return [save_figure(fig, directory / "he2016.png", tight=False)]
