"""The options that describe a training run (the data set, the network, the optimisation,
the arrays), shared by ``nnmath train``, ``nnmath plot`` and the figures' titles."""

from __future__ import annotations

import argparse

from ..activations import ACTIVATIONS
from ..backend import BACKENDS, DTYPES
from ..costs import COSTS
from ..init import INITS
from ..optim import OPTIMIZERS
from ..schedules import SCHEDULES
from ._common import (
    ACTIVATION,
    COST,
    INIT,
    OPTIMIZER,
    add_name_option,
    comma_list,
    dataset,
    dataset_help,
    names,
    number,
    positive_int,
)
from ._layers import layers_help

__all__ = ["SGD_ETA", "add_training_options", "chosen_eta"]

#: η of plain SGD when --eta is not given: the book's chapter-3 value, for its cross-entropy
SGD_ETA = 0.5


def chosen_eta(args: argparse.Namespace) -> float:
    """``--eta``, or when it is not given the optimizer's own default (:data:`SGD_ETA` for sgd,
    ``default_eta`` of the registry entry otherwise)."""
    if args.eta is not None:
        return float(args.eta)
    return SGD_ETA if args.optimizer == "sgd" else OPTIMIZERS[args.optimizer].default_eta


def add_training_options(p: argparse.ArgumentParser) -> None:
    """The data set, network and training options (shared with ``nnmath plot``)."""
    p.add_argument(
        "--dataset", type=dataset, default="digits", help=f"{dataset_help()} (default digits)"
    )
    p.add_argument(
        "--sizes",
        type=comma_list(int),
        help="layer sizes, e.g. 64,30,10 (default: inputs,30,classes)",
    )
    p.add_argument("--layers", metavar="TEXT", default=None, help=layers_help())
    p.add_argument(
        "--expanded",
        action="store_true",
        help="train on the training set expanded by one-pixel shifts (mnist, fashion-mnist or "
        "a folder; made once by `nnmath data expand mnist`; default: the original one)",
    )
    p.add_argument(
        "--activation",
        type=comma_list(ACTIVATION),
        default=None,  # sigmoid; None tells an option given beside --layers from the default
        help="hidden activation(s), one or one per hidden layer (default sigmoid): "
        + names(ACTIVATIONS),
    )
    add_name_option(
        p, "--output-activation", ACTIVATION, None, "output activation (default: the hidden one)"
    )
    add_name_option(p, "--cost", COST, "cross_entropy", f"{names(COSTS)} (default cross_entropy)")
    add_name_option(p, "--init", INIT, "scaled_normal", f"{names(INITS)} (default scaled_normal)")
    _add_optimization_options(p)
    _add_array_options(p)


def _add_optimization_options(p: argparse.ArgumentParser) -> None:
    """Epochs, mini-batch, η, λ, the optimizer, early stopping, the schedule, dropout, seed."""
    p.add_argument("--epochs", type=positive_int, default=30, help="epochs (default 30)")
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=10,
        help="mini-batch size m (default 10; clipped, with a note, to the training rows)",
    )
    p.add_argument(
        "--eta",
        type=number(low=0, low_open=True),
        default=None,
        help=f"learning rate η (default: {SGD_ETA} for sgd here, the book's chapter-3 value; "
        "each other optimizer its own: "
        + ", ".join(f"{k} {OPTIMIZERS[k].default_eta:g}" for k in OPTIMIZERS if k != "sgd")
        + "; Network.fit's SGD default is 3.0, the book's chapter-1 value for the quadratic "
        "cost)",
    )
    p.add_argument(
        "--lmbda", type=number(low=0), default=0.0, help="L2 regularisation λ, ≥ 0 (default 0)"
    )
    add_name_option(
        p, "--optimizer", OPTIMIZER, "sgd", f"update rule: {names(OPTIMIZERS)} (default sgd)"
    )
    p.add_argument(
        "--momentum",
        type=number(low=0, high=1, high_open=True),
        default=0.0,
        help="SGD momentum μ in [0, 1) (default 0: plain SGD)",
    )
    p.add_argument(
        "--patience",
        type=positive_int,
        default=None,
        help="early stopping: stop after this many epochs without a better validation "
        "accuracy and restore the best epoch's weights (default: no early stopping)",
    )
    p.add_argument(
        "--schedule",
        default=None,
        choices=sorted(SCHEDULES),  # a misspelt one: argparse's invalid choice, did you mean
        metavar="NAME",
        help=f"learning-rate schedule per epoch, from --eta: {names(SCHEDULES)} (default: none, "
        "η stays --eta)",
    )
    p.add_argument(
        "--dropout",
        type=_probability,
        default=None,  # 0; None tells an option given beside --layers from the default
        metavar="P",
        help="probability of dropping a hidden unit during training, in [0, 1) (default 0)",
    )
    p.add_argument(
        "--seed",
        type=number(int, low=0),
        default=0,
        help="seed of weights and shuffling, ≥ 0 (default 0)",
    )


def _add_array_options(p: argparse.ArgumentParser) -> None:
    """The floating-point type, the array backend and its device."""
    p.add_argument(
        "--dtype",
        default="float32",
        choices=sorted(DTYPES),
        help="floating-point type (default float32)",
    )
    p.add_argument(
        "--backend",
        default="numpy",
        choices=sorted(BACKENDS),
        help=f"array backend: {names(BACKENDS)} (default numpy; cupy needs an NVIDIA GPU)",
    )
    p.add_argument(
        "--device", default=None, help="cpu | cuda (default: cpu; cuda for --backend cupy)"
    )


def _probability(text: str) -> float:
    """A dropout probability: a float in [0, 1)."""
    try:
        p = float(text)
    except ValueError:
        p = float("nan")
    if not 0.0 <= p < 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability in [0, 1), got {text!r}")
    return p
