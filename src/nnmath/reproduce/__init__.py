"""Reproductions of the vanishing-gradient literature, each checking the paper's claims by number.

Every experiment is one module of this package with ``run(quick, seeds, data_dir) -> Report``
and ``plot(report, directory) -> list of paths``; :data:`EXPERIMENTS` names them once, and
the command line (``nnmath reproduce NAME``), the tests and ``benchmarks/`` read it. A claim is
a measured number held to a stated threshold (:class:`Claim`): one that does not hold is
reported as not reproduced, with what was measured. The package computes and returns; it
prints nothing (the command line does), and figures import matplotlib only when asked for.

This module imports nothing heavy, so listing the experiments is instant.
"""

from __future__ import annotations

import importlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._report import Claim, Report, Table

__all__ = ["EXPERIMENTS", "Experiment", "Claim", "Report", "Table", "header", "run", "plot"]


@dataclass(frozen=True)
class Experiment:
    """One entry of :data:`EXPERIMENTS`: the module that runs it, its title and its source."""

    name: str
    module: str
    title: str
    source: str
    needs_mnist: bool = True
    rungs: int = 0  # > 0: run(..., rung=N) runs one of them, resuming from a work folder


#: every experiment, by the name ``nnmath reproduce NAME`` takes
EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            "nielsen-ch1",
            "nielsen_ch1",
            "the first network: [784,30,10], sigmoid, quadratic cost, η = 3.0",
            "Nielsen, Neural Networks and Deep Learning, ch. 1",
        ),
        Experiment(
            "nielsen-ch3",
            "nielsen_ch3",
            "cross-entropy, N(0, 1/n_in) weights and L2: [784,100,10]",
            "Nielsen, Neural Networks and Deep Learning, ch. 3",
        ),
        Experiment(
            "nielsen-ch5",
            "nielsen_ch5",
            "the speed of learning of each hidden layer, at initialisation and in training",
            "Nielsen, Neural Networks and Deep Learning, ch. 5",
        ),
        Experiment(
            "nielsen-ch6",
            "nielsen_ch6",
            "convolutional networks, rung by rung from 97.80 % to 99.67 %",
            "Nielsen, Neural Networks and Deep Learning, ch. 6",
            rungs=8,
        ),
        Experiment(
            "glorot2010",
            "glorot2010",
            "saturation of the top sigmoid layer; activations and gradients per layer, "
            "standard vs normalized initialisation",
            "Glorot & Bengio 2010, Understanding the difficulty of training deep "
            "feedforward neural networks (Figs. 2, 6, 7)",
        ),
        Experiment(
            "he2015",
            "he2015",
            "the variance of z^l through a deep ReLU network; 30 layers learn with He's "
            "initialisation, not with Xavier's",
            "He, Zhang, Ren & Sun 2015, Delving deep into rectifiers (Sec. 2.2, Fig. 3)",
        ),
        Experiment(
            "ioffe2015",
            "ioffe2015",
            "MNIST, three sigmoid layers of 100, with and without batch normalisation: "
            "test accuracy, and the drift of a sigmoid's input",
            "Ioffe & Szegedy 2015, Batch normalization: accelerating deep network training "
            "by reducing internal covariate shift (Sec. 4.1, Fig. 1)",
        ),
        Experiment(
            "he2016",
            "he2016",
            "degradation: plain and residual MLPs of 10 and 50 layers, training error and "
            "the speed of learning of the first layer against the last",
            "He, Zhang, Ren & Sun 2016, Deep residual learning for image recognition "
            "(Sec. 4.1, Fig. 1, Fig. 4)",
        ),
        Experiment(
            "mazur-backprop",
            "mazur_backprop",
            "one backpropagation step of a 2-2-2 sigmoid network, digit for digit",
            "Mazur 2015, A step by step backpropagation example",
            needs_mnist=False,
        ),
    )
}


def header(name: str) -> dict[str, str]:
    """``name``, ``title`` and ``source`` of a :class:`Report`, from :data:`EXPERIMENTS`."""
    exp = EXPERIMENTS[name]
    return {"name": exp.name, "title": exp.title, "source": exp.source}


def _experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ValueError(
            f"unknown experiment {name!r}: choose one of {', '.join(EXPERIMENTS)} "
            "('nnmath reproduce --list' describes them)"
        )
    return EXPERIMENTS[name]


def run(
    name: str,
    *,
    quick: bool = False,
    seeds: list[int] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    rung: int | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    backend: str | None = None,
    device: str | None = None,
) -> Report:
    """Run one experiment and check its claims.

    Parameters
    ----------
    name : str
        A key of :data:`EXPERIMENTS`.
    quick : bool
        The reduced protocol (seconds to a minute, for CI), with the thresholds it states.
    seeds : list of int, optional
        Seeds of the initialisations and shuffles (default: the experiment's own).
    data_dir : path-like, optional
        The folder of MNIST's four IDX files, or a folder holding ``mnist/`` (default: the
        usual search of :func:`nnmath.data.load_mnist`).
    rung : int, optional
        For an experiment of rungs (``Experiment.rungs``), only this one.
    work_dir : path-like, optional
        For an experiment of rungs, where each network's result, model and checkpoint are
        kept, so that a stopped run goes on from there.
    backend, device : str, optional
        For an experiment of rungs, the array backend its networks train on and its device
        (default NumPy on the CPU).

    Returns
    -------
    Report

    Raises
    ------
    ValueError
        For an unknown name, an empty list of seeds, or ``rung``/``work_dir``/``backend``/
        ``device`` for an experiment without rungs.
    nnmath.data.DataError
        When the experiment needs MNIST and it is not found (the message says where it looked).
    """
    exp = _experiment(name)
    if seeds is not None and len(seeds) == 0:
        raise ValueError("give at least one seed")
    given = (("rung", rung), ("work_dir", work_dir), ("backend", backend), ("device", device))
    ladder = {k: v for k, v in given if v is not None}
    if ladder and not exp.rungs:
        raise ValueError(f"{name} has no rungs: leave out {' and '.join(ladder)}")
    module: Any = importlib.import_module(f".{exp.module}", __name__)
    t0 = time.perf_counter()
    report: Report = module.run(quick=quick, seeds=seeds, data_dir=data_dir, **ladder)
    report.seconds = time.perf_counter() - t0
    return report


def plot(report: Report, directory: str | os.PathLike[str]) -> list[Path]:
    """Write the experiment's figures into ``directory`` (created); returns their paths.

    The paths are also added to ``report.figures``, so the Markdown report shows them.
    """
    module: Any = importlib.import_module(f".{_experiment(report.name).module}", __name__)
    paths: list[Path] = module.plot(report, Path(directory))
    report.figures.extend(str(p) for p in paths)
    return paths
