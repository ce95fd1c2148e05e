"""``nnmath gradcheck``: every backprop equation against central differences, as a table."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..activations import ACTIVATIONS
from ..costs import COSTS
from ..init import INITS
from ._common import (
    ACTIVATION,
    COST,
    INIT,
    CLIError,
    add_name_option,
    add_output_options,
    comma_list,
    dataset,
    dataset_help,
    describe_network,
    emit_json,
    names,
    number,
    plural,
    positive_int,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "gradcheck",
        help="check σ', δ^L, δ^l, ∂C/∂b^l, ∂C/∂w^l against central differences",
        description="Compare backpropagation's σ'(z^l), δ^L, every δ^l, ∂C/∂b^l and ∂C/∂w^l "
        "with central differences in float64, on a small network and random data (or the "
        "first rows of --dataset). Exit code 1 when a check fails.",
    )
    p.add_argument(
        "--sizes",
        type=comma_list(int),
        default=None,
        help="layer sizes (default 4,5,5,3; with --dataset: inputs,10,10,classes)",
    )
    p.add_argument(
        "--activation",
        type=comma_list(ACTIVATION),
        default=["sigmoid"],
        help=f"hidden activation(s): one, or one per hidden layer: {names(ACTIVATIONS)}",
    )
    add_name_option(
        p, "--output-activation", ACTIVATION, None, "output activation (default: the hidden one)"
    )
    add_name_option(p, "--cost", COST, "cross_entropy", f"{names(COSTS)} (default cross_entropy)")
    add_name_option(
        p,
        "--init",
        INIT,
        "scaled_normal",
        f"weight initialisation: {names(INITS)} (default scaled_normal)",
    )
    p.add_argument(
        "--examples", type=positive_int, default=8, help="number of examples (default 8)"
    )
    p.add_argument(
        "--dataset",
        type=dataset,
        default=None,
        help=f"take the examples from this data set: {dataset_help()} (default: random "
        "examples drawn from --seed)",
    )
    p.add_argument(
        "--eps",
        type=number(low=0, low_open=True),
        default=1e-6,
        help="step ε of the central difference (C(w+ε) − C(w−ε)) / 2ε, in float64 (default 1e-6)",
    )
    p.add_argument(
        "--tol",
        type=number(low=0, low_open=True),
        default=1e-4,
        help="largest relative error |backprop − difference| / max(|backprop|, |difference|) "
        "that passes (default 1e-4)",
    )
    p.add_argument(
        "--seed",
        type=number(int, low=0),
        default=0,
        help="seed of the weights and of the random examples (default 0)",
    )
    add_output_options(p)
    p.set_defaults(run=run)


def small_network(args: argparse.Namespace, default_sizes: list[int]) -> Any:
    """The network of ``--sizes/--activation/--output-activation/--cost/--init/--seed``."""
    from ..network import Network

    sizes = args.sizes or default_sizes
    act: Any = args.activation[0] if len(args.activation) == 1 else args.activation
    out = args.output_activation
    if isinstance(act, list) and out is None and len(act) == len(sizes) - 2:
        raise CLIError("with one --activation per hidden layer, also give --output-activation")
    return Network(
        sizes,
        activation=act,
        output_activation=out,
        cost=args.cost,
        init=args.init,
        seed=args.seed,
        dtype="float64",
    )


def _data(args: argparse.Namespace) -> tuple[Any, np.ndarray, np.ndarray]:
    if args.examples < 1:
        raise CLIError(f"--examples must be at least 1, got {args.examples}")
    if args.dataset is not None:
        from ..data import load_dataset

        data = load_dataset(args.dataset)
        net = small_network(args, [data.n_features, 10, 10, data.n_classes])
        if net.sizes[0] != data.n_features or net.sizes[-1] != data.n_classes:
            raise CLIError(
                f"--sizes must start with {data.n_features} and end with "
                f"{data.n_classes} for {data.name}"
            )
        return net, data.train[0][: args.examples], data.train[1][: args.examples]
    net = small_network(args, [4, 5, 5, 3])
    rng = np.random.default_rng(args.seed + 1)
    X = rng.uniform(size=(args.examples, net.sizes[0]))
    n_out = net.sizes[-1]
    if n_out > 1:
        y = rng.integers(0, n_out, size=args.examples)
    else:
        y = rng.uniform(size=(args.examples, 1))
    return net, X, y


def run(args: argparse.Namespace) -> int:
    from ..diagnostics import gradcheck

    net, X, y = _data(args)
    check = gradcheck(net, X, y, eps=args.eps, tol=args.tol)
    result = {"network": net.config(), "examples": int(len(X)), **check.to_dict()}
    args.result = (check, result)
    if args.json:
        emit_json(result)
    elif args.quiet:
        print(
            f"gradcheck {'passed' if check.ok else 'FAILED'}: "
            f"max relative error {check.max_error:.2e}"
        )
    else:
        print(f"{describe_network(net)}; {plural(len(X), 'example')}, eps {args.eps:g}\n")
        print(check.to_markdown())
        print(
            f"\n{'all checks passed' if check.ok else 'SOME CHECKS FAILED'}: "
            f"max relative error {check.max_error:.2e} (tolerance {args.tol:g})"
        )
    return 0 if check.ok else 1
