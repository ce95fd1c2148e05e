"""What ``nnmath predict`` writes: the predictions (and with ``--proba`` each class's
probability) as a CSV table with a header row, on stdout or atomically into ``--out``."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._common import CLIError, check_output_path, emit_json, suggest

__all__ = [
    "check_out",
    "dataset_name",
    "is_a_file",
    "prediction_table",
    "save_table",
    "write_predictions",
]


def is_a_file(source: str) -> bool:
    """Whether DATA names a file of one's own (else a data set name or a folder of IDX files).

    Raises
    ------
    CLIError
        A word that is neither an existing path nor a data set's name.
    """
    from ..data import LOADERS, dataset_key

    path = Path(source).expanduser()
    if dataset_key(source) in LOADERS or path.is_dir():
        return False
    if path.exists() or path.suffix:
        return True
    raise CLIError(
        f"DATA {source}: no such file, and no data set of that name{suggest(source, LOADERS)}; "
        f"give a .csv, .npy or IDX file, or one of {', '.join(LOADERS)}"
    )


def dataset_name(source: str) -> str:
    """The registry name of a data set given as DATA, or the folder as given."""
    from ..data import LOADERS, dataset_key

    return dataset_key(source) if dataset_key(source) in LOADERS else source


def check_out(args: argparse.Namespace) -> None:
    """Refuse, before the model is loaded, an ``--out`` that is not a ``.csv`` file name, that
    exists (without ``--overwrite``) or cannot be written; and ``--proba`` with a data set
    but no ``--out`` (the accuracy table has no room for it)."""
    if args.out is None:
        if args.proba and not is_a_file(args.data or args.dataset or "digits"):
            raise CLIError(
                "--proba on a data set writes the probabilities to --out FILE.csv; give --out"
            )
        return
    out = check_output_path(args.out, "--out", example="predictions.csv")
    if out.suffix.lower() != ".csv":
        raise CLIError(f"--out {args.out}: give a file name ending in .csv (a CSV table)")
    if out.exists() and not args.overwrite:
        raise CLIError(f"--out {args.out}: the file exists; add --overwrite to replace it")


def prediction_table(net: Any, X: np.ndarray, proba: bool) -> tuple[list[str], list[np.ndarray]]:
    """The column names and columns: ``prediction``, then with ``proba`` one column per
    class (``p0``, ``p1``, ... or the model's class names)."""
    predictions = net.predict(X)
    if not proba:
        return ["prediction"], [predictions]
    P = _probabilities(net, X)
    names = getattr(net, "class_names", None)
    if names is None or len(names) != P.shape[1]:
        names = [f"p{k}" for k in range(P.shape[1])]
    return ["prediction", *map(str, names)], [predictions, *P.T]


def _probabilities(net: Any, X: np.ndarray) -> np.ndarray:
    """Each class's probability: a softmax output as it is; other outputs clipped at 0 and
    divided by their sum; one sigmoid output ``a`` as ``(1 − a, a)``."""
    from ..backend import to_numpy

    A = np.asarray(to_numpy(net.feedforward(X)), dtype=np.float64)
    output = net.activation_functions[-1].name
    if A.shape[1] == 1:
        if output != "sigmoid":
            raise CLIError(
                f"--proba needs a classifier; this model has one {output} output (a "
                "regression): leave --proba out"
            )
        return np.hstack([1.0 - A, A])
    A = np.clip(A, 0.0, None)
    total = A.sum(axis=1, keepdims=True)
    return np.divide(A, total, out=np.full_like(A, 1.0 / A.shape[1]), where=total > 0)


def _cells(column: np.ndarray) -> list[str]:
    """A column's cells: integers as they are, other numbers to 6 significant digits."""
    if np.issubdtype(column.dtype, np.integer):
        return [str(int(v)) for v in column]
    return [f"{float(v):.6g}" for v in column]


def _write_csv(fh: Any, columns: Sequence[str], values: Sequence[np.ndarray]) -> None:
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(zip(*(_cells(np.asarray(v)) for v in values), strict=True))


def save_table(args: argparse.Namespace, columns: Sequence[str], values: Sequence[Any]) -> Path:
    """Write the table into ``--out`` at once (a reader never sees half of it)."""
    from .._files import atomic_write

    path = Path(args.out).expanduser()
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        _write_csv(fh, columns, values)
    return path


def write_predictions(args: argparse.Namespace, net: Any, source: str) -> int:
    """Predict every example of the file ``source``: the table to ``--out`` (with a status line
    on stderr) or to stdout; ``--json`` gives the numbers as JSON instead."""
    from ._features import read_features

    X = read_features(source, net.sizes[0])
    columns, values = prediction_table(net, X, args.proba)
    result: dict[str, Any] = {
        "model": str(args.model),
        "data": source,
        "n": int(X.shape[0]),
        "columns": columns,
        "out": None,
    }
    if args.out:
        result["out"] = str(save_table(args, columns, values))
        if not (args.quiet or args.json):
            print(f"nnmath predict: wrote {_count(X.shape[0])} to {result['out']}", file=sys.stderr)
    if args.json:
        result["predictions"] = np.asarray(values[0]).tolist()
        if args.proba:
            result["probabilities"] = np.column_stack(values[1:]).tolist()
        emit_json(result)
    elif not args.out:
        buffer = io.StringIO()
        _write_csv(buffer, columns, values)
        sys.stdout.write(buffer.getvalue())
    return 0


def _count(n: int) -> str:
    return f"{n} prediction{'' if n == 1 else 's'}"
