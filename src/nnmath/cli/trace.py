"""``nnmath trace``: one example's forward and backward pass in lecture notation."""

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
    emit_json,
    names,
    number,
    plural,
)
from .gradcheck import small_network


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "trace",
        help="every w^l, b^l, z^l, a^l, δ^l, ∂C/∂b^l, ∂C/∂w^l of one example (Markdown or LaTeX)",
        description="Run one example forward and backward through a small network and print "
        "every quantity of the lecture's backpropagation equations, layer by layer "
        "(l = 2, …, L), as a Markdown table or as LaTeX, with each layer's w^l and b^l so that "
        "z^l = w^l a^{l-1} + b^l can be checked by hand (matrices over 8 x 8 are elided, their "
        "shape stated; --json has every number).",
    )
    p.add_argument(
        "--sizes", type=comma_list(int), default=[2, 3, 2], help="layer sizes (default 2,3,2)"
    )
    p.add_argument(
        "--activation",
        type=comma_list(ACTIVATION),
        default=["sigmoid"],
        help=f"hidden activation(s): {names(ACTIVATIONS)}",
    )
    add_name_option(
        p, "--output-activation", ACTIVATION, None, "output activation (default: the hidden one)"
    )
    add_name_option(p, "--cost", COST, "quadratic", f"{names(COSTS)} (default quadratic)")
    add_name_option(
        p, "--init", INIT, "normal", f"weight initialisation: {names(INITS)} (default normal)"
    )
    p.add_argument(
        "--seed",
        type=number(int, low=0),
        default=0,
        help="seed of the weights (and of --x when not given) (default 0)",
    )
    p.add_argument(
        "--x",
        type=comma_list(float),
        default=None,
        help="the input, e.g. 0.5,0.1 (default: random from the seed)",
    )
    p.add_argument(
        "--y",
        type=comma_list(float),
        default=None,
        help="the target: a vector, or one class label (default: class 0)",
    )
    p.add_argument(
        "--format",
        choices=["markdown", "latex", "both"],
        default="markdown",
        help="markdown: one table row per layer; latex: an align* environment of the "
        "equations with their numbers; both: one after the other (default markdown)",
    )
    p.add_argument(
        "--digits",
        type=number(int, low=1, high=17),
        default=4,
        help="significant digits, 1 to 17 (default 4)",
    )
    add_output_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..diagnostics import trace

    net = small_network(args, args.sizes)
    n_in, n_out = net.sizes[0], net.sizes[-1]
    if args.x is None:
        x = np.round(np.random.default_rng(args.seed + 1).uniform(size=n_in), 3)
    elif len(args.x) != n_in:
        raise CLIError(
            f"--x has {plural(len(args.x), 'value')}, the network expects {n_in} (sizes[0])"
        )
    else:
        x = np.asarray(args.x)
    if args.y is None:
        y: Any = np.eye(n_out)[0] if n_out > 1 else np.array([1.0])
    elif len(args.y) == 1 and n_out > 1:
        label = args.y[0]
        if label != int(label) or not 0 <= label < n_out:
            raise CLIError(f"--y {label:g}: a single value is a class label 0..{n_out - 1}")
        y = np.eye(n_out)[int(label)]
    elif len(args.y) != n_out:
        raise CLIError(
            f"--y has {plural(len(args.y), 'value')}, the network has {plural(n_out, 'output')}"
        )
    else:
        y = np.asarray(args.y)
    t = trace(net, x, y, digits=args.digits)
    args.result = t
    if args.json:
        emit_json({"network": net.config(), **t.to_dict()})
        return 0
    if args.format in ("markdown", "both"):
        print(t.to_markdown())
    if args.format == "both":
        print()
    if args.format in ("latex", "both"):
        print(t.to_latex())
    return 0
