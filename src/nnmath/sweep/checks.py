"""What a resumed sweep checks in the rows it finds: each row must be its key's task's.

A row is kept only when its identity (measure, data set, subset, seed index, every grid
parameter) is that of the task its key names and its results have their types (accuracies
in [0, 1] or empty, ``diverged`` true or false, ...). Any other row is reported and its task
run again, so that an edited, mixed-up or half-written row is never averaged into a summary.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .spec import PARAMETERS, Sweep, SweepError
from .task import Task

__all__ = ["check_header", "row_problem"]

#: the columns that say which task a row is (a sweep's own grid parameters, see
#: :func:`identity`)
IDENTITY = ("key", "measure", "dataset", "subset", "seed_index", *PARAMETERS)


def identity(sweep: Sweep) -> tuple[str, ...]:
    """The columns that say which of ``sweep``'s tasks a row is."""
    return (*IDENTITY[:5], *sweep.parameters())


def check_header(path: Path, header: list[str], sweep: Sweep) -> None:
    """A CSV table's header names every identity column (else it was renamed or cut)."""
    if path.suffix.lower() != ".csv" or not header:
        return
    missing = [c for c in identity(sweep) if c not in header]
    if missing:
        raise SweepError(
            f"{path}, line 1: the header lacks the columns {missing} (renamed?); restore "
            "them or start afresh with --overwrite"
        )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _same(found: Any, expected: Any) -> bool:
    if _number(found) and _number(expected):
        return float(found) == float(expected)
    return found == expected and type(found) is type(expected)


def row_problem(row: dict[str, Any], task: Task) -> str | None:
    """Why ``row`` is not a result of ``task`` (the task its key names), or ``None``."""
    expected = {
        "measure": task.measure,
        "dataset": task.dataset,
        "subset": task.subset,
        "seed_index": task.seed_index,
        **task.params,
    }
    for column, value in expected.items():
        if not _same(row.get(column), value):
            return f"{column} is {row.get(column)!r}, its key's task has {value!r}"
    for column in ("training_cost", "validation_accuracy", "test_accuracy"):
        value = row.get(column)
        if value is not None and not _number(value):
            return f"{column} {value!r} is not a number"
        if value is not None and column != "training_cost" and not 0 <= value <= 1:
            return f"{column} {value!r} is not in [0, 1]"
    if not isinstance(row.get("diverged"), bool):
        return f"diverged {row.get('diverged')!r} is not true or false"
    epochs = row.get("epochs_run")
    if not (isinstance(epochs, int) and not isinstance(epochs, bool) and epochs >= 0):
        return f"epochs_run {epochs!r} is not a count"
    for column in ("epoch_costs", "epoch_accuracies"):
        if not isinstance(row.get(column), list):
            return f"{column} is not a list"
    return None
