"""A per-epoch log file: one CSV or JSON-lines row as each epoch ends, flushed at once.

A run that crashes or is killed keeps the rows of the epochs it finished (at most the last
line can be cut short, and :func:`read_log` skips such a line). The header is written
atomically; a resumed run keeps the rows up to its checkpoint and continues the file.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import IO, Any

from .._files import atomic_write
from ..diagnostics._float64 import layer_numbers
from ._probe import LayerProbe
from .base import History

__all__ = ["LOG_FORMATS", "EpochLogger", "read_log"]

#: file suffix -> format
LOG_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
#: the columns every row has, before the per-layer speeds
RUN_COLUMNS = (
    "epoch",
    "training_cost",
    "training_accuracy",
    "validation_cost",
    "validation_accuracy",
    "eta",
    "epoch_time",
)


def log_format(path: str | os.PathLike[str]) -> str:
    """``"csv"`` or ``"jsonl"`` from the suffix of ``path``; a clear error for any other."""
    suffix = Path(path).suffix.lower()
    if suffix not in LOG_FORMATS:
        raise ValueError(
            f"log file {str(path)!r}: give a name ending in {', '.join(LOG_FORMATS)} "
            "(CSV, or one JSON object a line)"
        )
    return LOG_FORMATS[suffix]


def _cell(value: Any) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def _number(text: str) -> Any:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def read_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of a log written by :class:`EpochLogger` (numbers as numbers, empty as
    ``None``); a last line cut short by a crash is left out."""
    path = Path(path)
    fmt, text = log_format(path), path.read_text(encoding="utf-8")
    complete = text if text.endswith("\n") else text[: text.rfind("\n") + 1]
    if fmt == "jsonl":
        return [json.loads(line) for line in complete.splitlines() if line.strip()]
    rows = list(csv.reader(io.StringIO(complete)))
    if not rows:
        return []
    header = rows[0]
    return [dict(zip(header, map(_number, r))) for r in rows[1:] if len(r) == len(header)]


class EpochLogger(LayerProbe):
    """Write one row per epoch to a CSV or JSON-lines file as the epoch ends (Keras's
    ``CSVLogger``), flushed, so a crashed run keeps what it did.

    Columns: ``epoch`` (1-based: epochs done), ``training_cost``, ``training_accuracy``,
    ``validation_cost``, ``validation_accuracy``, ``eta`` (the epoch's η), ``epoch_time``
    (seconds), and with ``speeds=True`` Nielsen's speed of learning of every layer,
    ``nabla_b_l2 … nabla_b_lL`` (‖∂C/∂b^l‖ in the lecture's numbering, l = 2 the first
    hidden layer) on the first ``max_rows`` training rows; for a network of layers, one column
    per layer with parameters, ``l`` its position in ``net.layers`` (a 2-conv chapter-6 net
    logs ``nabla_b_l2``, ``nabla_b_l4``, ...: a pooling layer has no ∂C/∂b, so no speed).
    A value the run does not measure
    (no validation data, ...) is empty in CSV and ``null`` in JSON.

    Parameters
    ----------
    path : path-like
        ``.csv``, or ``.jsonl`` / ``.ndjson`` for one JSON object a line.
    speeds : bool
        Also log the per-layer speeds (one backward pass over ``max_rows`` rows an epoch).
    X, Y : arrays, optional
        The examples to measure the speeds on (default: the training data).
    max_rows : int
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        speeds: bool = True,
        X: Any = None,
        Y: Any = None,
        max_rows: int = 1000,
    ) -> None:
        super().__init__(X, Y, max_rows)
        self.path, self.format = Path(path), log_format(path)
        self.speeds = bool(speeds)
        self._fh: IO[str] | None = None

    @property
    def measures(self) -> bool:  # type: ignore[override]
        return self.speeds

    def on_train_begin(self, net: Any, history: History) -> None:
        layers = layer_numbers(net) if self.speeds else ()  # those with parameters
        self.columns = [*RUN_COLUMNS, *(f"nabla_b_l{l}" for l in layers)]
        if self.path.is_dir():
            raise ValueError(f"log file {self.path} is a folder: give a file name")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = []  # a resumed run keeps the rows of the epochs its checkpoint holds
        if history.epochs and self.path.exists():
            kept = [r for r in read_log(self.path) if (r.get("epoch") or 0) <= history.epochs]
        with atomic_write(self.path, "w", encoding="utf-8", newline="") as fh:
            if self.format == "csv":
                fh.write(self._line(dict(zip(self.columns, self.columns))))
            for row in kept:
                fh.write(self._line(row))
        self._fh = self.path.open("a", encoding="utf-8", newline="")

    def _line(self, row: dict[str, Any]) -> str:
        if self.format == "jsonl":
            return json.dumps({c: row.get(c) for c in self.columns}) + "\n"
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([_cell(row.get(c)) for c in self.columns])
        return buf.getvalue()

    def on_epoch_end(self, net: Any, history: History, epoch: int) -> None:
        row: dict[str, Any] = {"epoch": epoch + 1, "epoch_time": history.epoch_time[-1]}
        for name in RUN_COLUMNS[1:5]:
            values = getattr(history, name)
            row[name] = float(values[-1]) if values else None
        eta = history.extra.get("eta")
        row["eta"] = float(eta[-1]) if eta else None
        if self.speeds:
            stats = self.statistics(net, ("epoch", epoch))
            row.update({f"nabla_b_l{l}": v for l, v in zip(stats.layers, stats.nabla_b)})
        if self._fh is None:
            raise RuntimeError("EpochLogger: on_train_begin opens the log; use it through fit")
        self._fh.write(self._line(row))
        self._fh.flush()  # in the operating system's hands: a crash of the process loses nothing

    def on_train_end(self, net: Any, history: History) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def on_exception(self, net: Any, history: History, exc: BaseException) -> None:
        self.on_train_end(net, history)

    def __repr__(self) -> str:
        return f"EpochLogger({str(self.path)!r})"
