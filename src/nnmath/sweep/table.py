"""The results table: one row per task, streamed to CSV or JSON lines, Parquet at the end.

Rows are appended as they arrive and flushed, so an interrupted sweep loses nothing; a last
line cut short by the interruption is skipped when the table is read back. A file that must
be rewritten (a new header, a dropped partial line) is replaced atomically.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._files import atomic_write
from .spec import PARAMETERS, SweepError

__all__ = ["JSON_COLUMNS", "column_kind", "read_results"]

#: columns that hold lists (JSON text in a CSV cell or a Parquet column)
JSON_COLUMNS = ("epoch_costs", "epoch_accuracies", "speeds")
#: the table's schema, with the grid parameters' kinds (:data:`PARAMETERS`) and
#: ``speed_l1``, ``speed_l2``, ... (floats)
_TEXT_COLUMNS = ("key", "measure", "dataset", "worker")
_INT_COLUMNS = ("subset", "seed_index", "epochs_run")
_FLOAT_COLUMNS = ("training_cost", "validation_accuracy", "test_accuracy", "wall_time", "speed_out")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)  # floats: the shortest repr that reads back exactly


def column_kind(column: str) -> str | None:
    """What a column of the results table holds: ``"text"``, ``"int"``, ``"float"``,
    ``"bool"`` or ``"json"``; ``None`` for a column the table's schema does not know."""
    if column in JSON_COLUMNS:
        return "json"
    if column == "diverged":
        return "bool"
    if column in _TEXT_COLUMNS:
        return "text"
    if column in PARAMETERS:
        kind = PARAMETERS[column].kind
        return "text" if kind is str else kind.__name__
    if column in _INT_COLUMNS:
        return "int"
    if column in _FLOAT_COLUMNS or re.fullmatch(r"speed_l[0-9]+", column):
        return "float"
    return None


def _parse_cell(column: str, text: str) -> Any:
    """A CSV cell as its column's kind (:func:`column_kind`): a task key of 16 hex digits
    stays text even when it reads as a number (``0123456789012345``, ``30834145e4476955``).

    Raises
    ------
    ValueError
        A cell that is not of its column's kind (a number column holding text).
    """
    if text == "":
        return None
    kind = column_kind(column)
    if kind == "json":
        return json.loads(text)
    if kind == "text":
        return text
    if kind == "bool":
        if text not in ("True", "False"):
            raise ValueError(f"{column} is {text!r:.40}, not True or False")
        return text == "True"
    if kind in ("int", "float"):
        return _number(column, text)
    return _guess(text)


def _number(column: str, text: str) -> int | float:
    """A numeric cell: an integer when it is written as one (``subset``, ``depth``), else a
    float (``nan`` and ``inf`` included: the row checks say whether it may be one)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{column} is {text!r:.40}, not a number") from None


def _guess(text: str) -> Any:
    """A cell of a column the schema does not know (added by hand, or by a later nnmath):
    a boolean, an integer or a float where it reads as one, else the text."""
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def stream_path(out: Path) -> Path:
    """The file rows stream into: ``out``, or the ``.jsonl`` beside a ``.parquet`` ``out``.

    Raises
    ------
    SweepError
        For a name that is none of ``.csv``, ``.jsonl`` (``.json``, ``.ndjson``), ``.parquet``.
    """
    stream = out.with_suffix(".jsonl") if out.suffix.lower() == ".parquet" else out
    table_format(stream)
    return stream


def table_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    raise SweepError(f"results file {str(path)!r}: use a .csv, .jsonl or .parquet name")


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The complete rows of a results table (CSV, JSON lines or Parquet), in file order.

    A last line cut short by an interruption is skipped, a line that does not parse is
    left out (:func:`read_rows` says which), and a key seen twice keeps its first row.

    Raises
    ------
    SweepError
        A line that is JSON but not an object, a row without a key, or a CSV header without
        a ``key`` column, naming the file and the line.
    """
    rows, _, _ = read_rows(Path(path))
    for r in rows:
        r.pop("_line", None)
    return rows


def read_rows(path: Path) -> tuple[list[dict[str, Any]], bool, list[str]]:
    """(rows, clean, rejected): ``clean`` is False when a partial line, a line that does not
    parse or a duplicate was dropped; ``rejected`` says which lines did not parse
    (``"FILE, line N: why"``). Each row's line number is under ``"_line"``."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
        for r in rows:
            for c in JSON_COLUMNS:
                if isinstance(r.get(c), str):
                    r[c] = json.loads(r[c])
        return rows, True, []
    text = path.read_text(encoding="utf-8")
    clean = True
    if text and not text.endswith("\n"):  # a row cut short by an interruption
        text, clean = text[: text.rfind("\n") + 1], False
    reader = _csv_rows if table_format(path) == "csv" else _jsonl_rows
    rows, rejected = reader(path, text)
    for r in rows:
        if not isinstance(r.get("key"), str) or not r["key"]:
            raise SweepError(
                f"{path}, line {r['_line']}: the row has no key (every row names its task's "
                "key); fix the line or start afresh with --overwrite"
            )
    seen: set[str] = set()
    unique = []
    for r in rows:
        if r["key"] not in seen:
            seen.add(r["key"])
            unique.append(r)
    return unique, clean and not rejected and len(unique) == len(rows), rejected


def _csv_rows(path: Path, text: str) -> tuple[list[dict[str, Any]], list[str]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is not None and "key" not in header:
        raise SweepError(
            f"{path}, line 1: the header {header[:6]!r:.200} has no 'key' column (renamed?); "
            "restore it or start afresh with --overwrite"
        )
    rows, rejected = [], []
    for rec in reader:
        where = f"{path}, line {reader.line_num}"
        if header is None or len(rec) != len(header):
            rejected.append(f"{where}: {len(rec)} cells, the header has {len(header or [])}")
            continue
        try:
            row = {c: _parse_cell(c, v) for c, v in zip(header, rec, strict=True)}
        except (ValueError, RecursionError) as exc:
            rejected.append(f"{where}: a cell does not parse ({exc!r:.100})")
            continue
        rows.append({**row, "_line": reader.line_num})
    return rows, rejected


def _jsonl_rows(path: Path, text: str) -> tuple[list[dict[str, Any]], list[str]]:
    rows, rejected = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as exc:
            rejected.append(f"{path}, line {number}: not JSON ({exc!r:.100})")
            continue
        if not isinstance(row, dict):
            raise SweepError(
                f"{path}, line {number}: a {type(row).__name__}, not a JSON object (each line "
                "is one row); fix the line or start afresh with --overwrite"
            )
        rows.append({**row, "_line": number})
    return rows, rejected


class Writer:
    """Appends rows to a CSV or JSON-lines file, flushed after every row."""

    def __init__(
        self, path: Path, columns: list[str], existing: list[dict[str, Any]], rewrite: bool
    ) -> None:
        self.path, self.fmt = path, table_format(path)
        self.columns = list(columns)
        for r in existing:  # keep the columns of rows from an earlier, wider sweep
            self.columns += [c for c in r if c not in self.columns and c != "_line"]
        if not rewrite and len(self.columns) != len(columns):
            raise SweepError(f"{path}: rows do not match the file's header; use --overwrite")
        path.parent.mkdir(parents=True, exist_ok=True)
        if rewrite or not path.exists():
            with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
                if self.fmt == "csv":
                    fh.write(self._csv_line(dict(zip(self.columns, self.columns, strict=True))))
                for r in existing:
                    fh.write(self._line(r))
        self.fh = path.open("a", encoding="utf-8", newline="")

    def _csv_line(self, row: Mapping[str, Any]) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([_cell(row.get(c)) for c in self.columns])
        return buf.getvalue()

    def _line(self, row: Mapping[str, Any]) -> str:
        if self.fmt == "csv":
            return self._csv_line(row)
        return json.dumps({c: row.get(c) for c in self.columns}) + "\n"

    def write(self, row: Mapping[str, Any]) -> None:
        self.fh.write(self._line(row))
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def write_parquet(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = {
        c: [json.dumps(r.get(c)) if c in JSON_COLUMNS else r.get(c) for r in rows] for c in columns
    }
    with atomic_write(path) as fh:
        pq.write_table(pa.table(data), fh)


def read_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        first = fh.readline()
    if table_format(path) == "csv":
        return next(csv.reader([first]), [])
    try:
        return list(json.loads(first)) if first.strip() else []
    except json.JSONDecodeError:
        return []
