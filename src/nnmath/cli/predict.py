"""``nnmath predict``: a saved model's predictions on a file of one's own (``.csv``, ``.npy``,
IDX images) or on a data set, where it also prints the accuracy."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

from ._common import (
    CLIError,
    add_output_options,
    dataset,
    dataset_help,
    emit_json,
    plural,
    print_table,
)

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "predict",
        help="predict with a saved model on a file of features, or on a data set (accuracy)",
        description="Load a model saved by 'nnmath train --save' or Network.save (safetensors, "
        "no pickle) and predict. DATA is a file of one's own (a .csv of feature columns, with "
        "or without a header row; a .npy array; an IDX images file, gzip or not): the "
        "predictions go to stdout as CSV, or to --out FILE.csv. Or DATA is a data set "
        "(digits, mnist, ...): the accuracy and mean cost on --split are printed, and --out "
        "also writes the predictions.",
    )
    p.add_argument("model", metavar="MODEL", help="the saved model file (.safetensors)")
    p.add_argument(
        "data",
        metavar="DATA",
        nargs="?",
        help="a .csv / .npy / IDX file of examples, or a data set name (default digits)",
    )
    p.add_argument("--dataset", type=dataset, help=f"{dataset_help()} (default digits)")
    p.add_argument(
        "--split",
        choices=["test", "validation", "train"],
        default="test",
        help="which split of a data set to evaluate (default test)",
    )
    p.add_argument(
        "--proba",
        action="store_true",
        help="add each class's probability, one column per class (p0, p1, ...)",
    )
    p.add_argument(
        "--out",
        metavar="FILE.csv",
        help="write the predictions (a header row, then one row per example) to this file "
        "(default: stdout for a DATA file, none for a data set)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
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
    from ._predictions import check_out, is_a_file, write_predictions

    source = _chosen_data(args)
    check_out(args)
    net = _load_model(args.model)
    if is_a_file(source):
        return write_predictions(args, net, source)
    return _run_dataset(args, net, source)


def _chosen_data(args: argparse.Namespace) -> str:
    """DATA or ``--dataset`` (not both), ``digits`` when neither is given."""
    if args.data is not None and args.dataset is not None:
        raise CLIError(f"give DATA ({args.data}) or --dataset ({args.dataset}), not both")
    return args.data or args.dataset or "digits"


def _run_dataset(args: argparse.Namespace, net: Any, name: str) -> int:
    """The accuracy and mean cost on a data set's split (and, with --out, the predictions)."""
    from ..data import load_dataset
    from ._predictions import dataset_name, prediction_table, save_table

    data = load_dataset(dataset_name(name))
    X, y = getattr(data, args.split)
    if net.sizes[0] != X.shape[1]:
        raise CLIError(
            f"the model expects {net.sizes[0]} inputs (sizes[0]) but data set '{data.name}' has "
            f"{X.shape[1]} features: pick the data set the model was trained on"
        )
    if net.n_outputs > 1 and net.n_outputs != data.n_classes:
        raise CLIError(
            f"the model has {net.n_outputs} outputs but data set '{data.name}' has "
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
    if args.out:
        columns, values = prediction_table(net, X, args.proba)
        columns, values = [columns[0], "label", *columns[1:]], [values[0], y, *values[1:]]
        result["out"] = str(save_table(args, columns, values))
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
                _network_row(net),
                ["data set", f"{data.name} ({args.split}, {plural(result['n'], 'example')})"],
                ["accuracy", f"{accuracy:.2%} ({result['correct']}/{result['n']})"],
                ["mean cost", f"{result['cost']:.4f}"],
                *([["predictions", result["out"]]] if args.out else []),
            ],
        )
    return 0


def _network_row(net: Any) -> list[str]:
    """The model's architecture: its sizes, or the description of its layers."""
    if getattr(net, "layered", False):
        from ..layers import describe

        return ["layers", describe(net.layers)]
    return ["network", ",".join(map(str, net.sizes))]
