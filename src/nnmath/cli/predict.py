"""``nnmath predict``: evaluate a saved model on a data set and print its accuracy."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

from ._common import CLIError, add_output_options, dataset, dataset_help, emit_json, print_table

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "predict",
        help="print the accuracy of a saved model (.safetensors) on a data set",
        description="Load a model saved by 'nnmath train --save' or Network.save (safetensors, "
        "no pickle) and print its accuracy and mean cost on a split of a data set.",
    )
    p.add_argument("model", metavar="MODEL", help="the saved model file (.safetensors)")
    p.add_argument(
        "--dataset", type=dataset, default="digits", help=f"{dataset_help()} (default digits)"
    )
    p.add_argument(
        "--split",
        choices=["test", "validation", "train"],
        default="test",
        help="which split to evaluate (default test)",
    )
    add_output_options(p)
    p.set_defaults(run=run)


def _load_model(path: str) -> Any:
    import nnmath

    if not hasattr(nnmath, "load"):
        raise CLIError("this nnmath cannot read model files yet (nnmath.load is missing)")
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a directory, expected a .safetensors model file")
    return nnmath.load(path)


def run(args: argparse.Namespace) -> int:
    from ..data import load_dataset

    net = _load_model(args.model)
    data = load_dataset(args.dataset)
    X, y = getattr(data, args.split)
    if net.sizes[0] != X.shape[1]:
        raise CLIError(
            f"the model expects {net.sizes[0]} inputs (sizes[0]) but data set {data.name!r} has "
            f"{X.shape[1]} features: pick the data set the model was trained on"
        )
    if net.n_outputs > 1 and net.n_outputs != data.n_classes:
        raise CLIError(
            f"the model has {net.n_outputs} outputs but data set {data.name!r} has "
            f"{data.n_classes} classes"
        )
    t0 = time.perf_counter()
    y_pred = net.predict(X)
    seconds = time.perf_counter() - t0
    accuracy = float(np.mean(y_pred == y))
    result: dict[str, Any] = {
        "model": str(args.model),
        "dataset": data.name,
        "split": args.split,
        "n": int(len(y)),
        "sizes": list(net.sizes),
        "accuracy": accuracy,
        "correct": int(np.sum(y_pred == y)),
        "cost": float(net.cost(X, y)),
        "seconds": seconds,
    }
    if args.json:
        emit_json(result)
    elif args.quiet:
        print(f"accuracy {accuracy:.2%}")
    else:
        print_table(
            "nnmath predict",
            ["", "value"],
            [
                ["model", result["model"]],
                ["network", ",".join(map(str, net.sizes))],
                ["data set", f"{data.name} ({args.split}, {result['n']} examples)"],
                ["accuracy", f"{accuracy:.2%} ({result['correct']}/{result['n']})"],
                ["mean cost", f"{result['cost']:.4f}"],
            ],
        )
    return 0
