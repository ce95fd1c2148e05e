"""``nielsen-ch6``: the book's climb from 97.80 % to 99.67 % on MNIST with convolutional
networks, rung by rung (:data:`~nnmath.reproduce._ch6_ladder.RUNGS`).

Each rung's claim is the book's test accuracy against ours, "test accuracy at the epoch of
best validation accuracy" as ``network3.py`` reports it (one run in the book; here the
median over the seeds), held to the book's number less 0.1 percentage points (the spread of
one seed's result; the table gives the best test accuracy too). Rung 8 is the vote of five
networks of rung 7's protocol. Mini-batches of 10, the log-likelihood cost with a softmax
output, the book's initialisation and L2 convention (:mod:`~nnmath.reproduce._ch6_ladder`).

``rung`` runs one rung; with ``work_dir`` each network's result and model are kept there,
so a long ladder goes on where it stopped. The quick protocol (a thousand images, two
epochs, three voters) only checks that every rung's network learns: a smoke check, never a
reproduction. The book's ReLU networks without dropout (rungs 1, 4, 5, 6) learn within
its 200 steps, and its claim for each is a test accuracy of at least 50 %. The sigmoid
convolutions (rungs 2, 3) and the dropout networks (rungs 7, 8) sit on a plateau at the
uniform guess for their first few hundred steps with the book's initialisation, so a
quick run leaves them out, and says so.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from . import header
from ._ch6_ladder import RUNGS, Rung
from ._ch6_train import Protocol, Trainer
from ._data import mnist
from ._report import Claim, Report, Table

__all__ = ["run", "plot", "RUNGS"]

FULL = Protocol(n_train=None, n_test=None, epochs=None, nets=None)
#: the quick protocol: each rung trains 200 steps (the expanded rungs on 200 images' 1,000)
QUICK = Protocol(n_train=1000, n_test=500, epochs=2, nets=3, n_expanded=200)
#: the quick claim of a rung that learns within 200 steps: this test accuracy (chance: 10 %)
QUICK_BOUND = 0.3
#: the rungs a quick run trains, and those of them that learn within its 200 steps
QUICK_RUNGS = (1, 4, 5, 6)
#: the book's number less this is a reproduction (one seed's spread)
TOLERANCE = 0.001


def run(
    quick: bool = False,
    seeds: list[int] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    rung: int | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    backend: str = "numpy",
    device: str | None = None,
) -> Report:
    """Climb the ladder (or one rung of it); one claim per rung.

    Parameters
    ----------
    rung : int, optional
        Only this rung (1–8).
    work_dir : path-like, optional
        Keep each network's record, model and checkpoint here and reuse them.
    backend, device : str, optional
        The array backend the networks train on (``"torch"`` with ``device="cuda"``, or
        ``"cupy"``: the same layers' code on a GPU); the work folder keeps their networks
        apart from NumPy's.
    """
    rungs = _chosen(rung)
    notes = []
    if quick:
        left = [r.number for r in rungs if r.number not in QUICK_RUNGS]
        if rung is not None and left:
            raise ValueError(
                f"rung {rung} has no quick run (its 1,000-unit layers): run it in full"
            )
        rungs = [r for r in rungs if r.number in QUICK_RUNGS]
        if left:
            notes.append(
                f"quick: rungs {left} left out: with the book's initialisation they sit on a "
                "plateau for their first few hundred steps (run them in full, --rung N)"
            )
    seeds = list(seeds or [0])
    protocol = replace(QUICK if quick else FULL, backend=backend, device=device)
    trainer = Trainer(
        mnist(data_dir, scale=256), protocol, None if work_dir is None else Path(work_dir)
    )
    records = {r.number: [trainer.rung(r, s) for s in seeds] for r in rungs}
    claims = [_claim(r, records[r.number], quick) for r in rungs]
    return Report(
        **header("nielsen-ch6"),
        protocol=_protocol(quick, rungs),
        quick=quick,
        seeds=seeds,
        claims=claims,
        tables=[_table(rungs, records)],
        series={"records": {str(k): v for k, v in records.items()}},
        notes=notes,
    )


def _chosen(rung: int | None) -> list[Rung]:
    if rung is None:
        return list(RUNGS)
    if isinstance(rung, bool) or not isinstance(rung, int) or not 1 <= rung <= len(RUNGS):
        raise ValueError(f"rung must be one of 1–{len(RUNGS)}, got {rung!r}")
    return [RUNGS[rung - 1]]


def _measured(record: dict[str, Any]) -> float:
    """A rung's figure: the vote's accuracy, or the test accuracy at the best validation."""
    if "vote" in record:
        return float(record["vote"])
    run = record["runs"][0]
    if run.get("test_at_best_validation") is None:  # written by an older version, resumed
        raise ValueError(
            f"{run['key']}.json in the work folder has no test accuracy at its best validation "
            f"epoch ({run['best_epoch']}): its run was resumed by a version that kept only the "
            "epochs after the resume; move its .json, .safetensors and .checkpoint.safetensors "
            "away to train it again"
        )
    return float(run["test_at_best_validation"])


def _claim(rung: Rung, records: list[dict[str, Any]], quick: bool) -> Claim:
    measured = float(np.median([_measured(r) for r in records]))
    if quick:  # a threshold far below the book's: a smoke check
        return Claim.at_least(
            f"rung-{rung.number}",
            f"rung {rung.number}: {rung.change}",
            f"{rung.book:.2%} (one run)",
            measured,
            QUICK_BOUND,
            detail="quick: test accuracy at best validation after 200 steps",
            digits=0,
        ).as_smoke_check()
    what = "the vote's test accuracy" if rung.nets > 1 else "test accuracy at best validation"
    return Claim.at_least(
        f"rung-{rung.number}",
        f"rung {rung.number}: {rung.change}",
        f"{rung.book:.2%} (one run)",
        measured,
        rung.book - TOLERANCE,
        detail=f"{what}, median over seeds",
        digits=0,
    )


def _table(rungs: list[Rung], records: dict[int, list[dict[str, Any]]]) -> Table:
    rows = []
    for r in rungs:
        for record in records[r.number]:
            runs = record["runs"]
            rows.append(
                [
                    str(r.number),
                    f"{r.book:.2%}",
                    f"{_measured(record):.2%}",
                    f"{max(run['best_test'] for run in runs):.2%}",
                    ", ".join(str(run["best_epoch"]) for run in runs),
                    ", ".join(str(run["seed"]) for run in runs),
                    f"{sum(run['wall_seconds'] for run in runs):.0f}",
                ]
            )
    head = ["rung", "book", "ours", "best test", "best epoch", "seeds", "s"]
    return Table("the ladder", head, rows)


def _protocol(quick: bool, rungs: list[Rung]) -> str:
    text = (
        "MNIST (50,000 training images, pixel / 256; the first 10,000 validation and test "
        "images), mini-batches of 10, softmax output with the log-likelihood cost, the "
        "book's initialisation (w ~ N(0, 1/n_out), b ~ N(0, 1), the softmax layer at 0) "
        "and L2 (λ' = 10 λ in nnmath's convention). Rungs: "
        + "; ".join(f"{r.number}. {r.change} ({r.epochs} epochs, η = {r.eta})" for r in rungs)
        + "."
    )
    if quick:
        text += (
            f" Quick: {QUICK.n_train:,} training images ({QUICK.n_expanded:,} expanded to "
            f"{5 * (QUICK.n_expanded or 0):,}), {QUICK.n_test:,} test images, {QUICK.epochs} "
            f"epochs per rung (200 steps), rungs {', '.join(map(str, QUICK_RUNGS))}; it checks "
            f"that each reaches {QUICK_BOUND:.0%} test accuracy: a smoke check, not a "
            "reproduction."
        )
    return text


def plot(report: Report, directory: Path) -> list[Path]:
    """The ladder: the book's accuracy and ours per rung."""
    from ..plots._mpl import pyplot, save_figure

    plt = pyplot()
    numbers = [int(k) for k in report.series["records"]]
    ours = [
        float(np.median([_measured(r) for r in report.series["records"][str(k)]])) for k in numbers
    ]
    book = [RUNGS[k - 1].book for k in numbers]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    ax.plot(numbers, 100 * np.asarray(book), "o--", c="k", label="the book")
    ax.plot(numbers, 100 * np.asarray(ours), "s-", label="nnmath")
    ax.set_xticks(numbers)
    ax.set_xlabel("rung")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{report.name}: {report.title}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return [save_figure(fig, directory / f"{report.name}.png", tight=False)]
