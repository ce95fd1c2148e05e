"""Running a sweep: every task not yet in the results table, on an engine, into the table."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._words import plural
from .checks import check_header, row_problem
from .engines import connect, dask_results, joblib_results
from .spec import Sweep, SweepError
from .summary import summarize
from .table import (
    Writer,
    read_header,
    read_results,
    read_rows,
    stream_path,
    write_parquet,
)
from .task import Task

__all__ = ["SweepResult", "run_sweep"]


@dataclass
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    rows : list of dict
        Every row of the table for this sweep's tasks (earlier ones included on resume),
        in the sweep's task order.
    path : Path
        The streaming table file (CSV or JSON lines); ``parquet`` the Parquet file, if any.
    ran, skipped, total : int
        Tasks run now, tasks found done already, tasks in the sweep.
    seconds : float
        Wall-clock time of this call.
    complete : bool
        Whether every task of the sweep has its row.
    rejected : list of str
        The rows found on resume that were run again, ``"FILE, line N: why"``.
    """

    sweep: Sweep
    rows: list[dict[str, Any]]
    path: Path
    ran: int
    skipped: int
    total: int
    seconds: float
    parquet: Path | None = None
    rejected: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return len(self.rows) == self.total

    def summary(self) -> list[dict[str, Any]]:
        """:func:`summarize` grouped by the swept parameters (and ``depth``, for the plots)."""
        by = self.sweep.varying
        return summarize(self.rows, by=by if "depth" in by else [*by, "depth"])


def _pending(tasks: list[Any], done: set[str], max_tasks: int | None) -> tuple[list[Any], int]:
    """The tasks whose key has no row yet (the first ``max_tasks`` of them when given), and
    how many tasks have one."""
    pending = [t for t in tasks if t.key not in done]
    skipped = len(tasks) - len(pending)
    return (pending if max_tasks is None else pending[: max(int(max_tasks), 0)]), skipped


def run_sweep(
    sweep: Sweep,
    out: str | os.PathLike[str] = "sweep.csv",
    *,
    resume: bool = False,
    overwrite: bool = False,
    scheduler: str | None = None,
    n_jobs: int = -1,
    max_tasks: int | None = None,
    on_result: Callable[[dict[str, Any], int, int], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
    connect_timeout: float = 10.0,
    delay: float = 0.0,
    tensorboard: str | os.PathLike[str] | None = None,
) -> SweepResult:
    """Run every task of ``sweep`` not yet in ``out`` and stream the rows into ``out``.

    Parameters
    ----------
    sweep : Sweep
    out : path
        ``.csv`` or ``.jsonl`` (rows appended as they arrive) or ``.parquet`` (rows streamed
        into the ``.jsonl`` file of the same name, Parquet written at the end).
    resume : bool
        Keep the rows already in ``out`` and run only the missing tasks.
    overwrite : bool
        Start ``out`` afresh. Without ``resume`` or ``overwrite`` an existing ``out`` is an
        error, so finished work is never thrown away by accident.
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a ``dask.distributed`` scheduler; otherwise local processes.
    n_jobs : int
        Local worker processes (joblib; ``-1`` all cores, ``1`` this process).
    max_tasks : int, optional
        Stop after this many new rows (the rest stays for a later ``resume``).
    on_result : callable ``f(row, done, total)``, optional
        Called after each row is written; an exception raised here stops the sweep.
    on_start : callable ``f(n_to_run, n_done_already)``, optional
        Called once before the first task starts.
    connect_timeout : float
        Seconds to wait for the scheduler.
    delay : float
        Seconds each task sleeps before it starts (to test interruptions).
    tensorboard : path, optional
        A folder for one TensorBoard run per task (a sub-folder named by :func:`run_name`;
        on a Dask cluster, one the workers can write to).

    Returns
    -------
    SweepResult

    Raises
    ------
    SweepError
        An existing ``out`` without ``resume``/``overwrite``, an unreachable scheduler, or a
        task that failed.
    """
    t0 = time.perf_counter()
    out = Path(out)
    stream = stream_path(out)
    tasks = sweep.tasks()
    existing, rejected, rewrite = _existing_rows(stream, sweep, resume, overwrite)
    done = {r["key"] for r in existing}
    pending, skipped = _pending(tasks, done, max_tasks)
    with ExitStack() as stack:  # whatever happens, the engine, client and file are closed
        client = connect(scheduler, connect_timeout) if scheduler and pending else None
        writer = _open(stack, client, sweep, stream, existing, rewrite)
        if on_start is not None:
            on_start(len(pending), skipped)
        logdir = None if tensorboard is None else str(tensorboard)
        results = stack.enter_context(closing(_engine(pending, client, n_jobs, delay, logdir)))
        new_rows = _write_rows(results, writer, done, len(pending), on_result)
    parquet = out if out.suffix.lower() == ".parquet" else None
    if parquet is not None:
        write_parquet(parquet, read_results(stream), writer.columns)
    rows, seconds = _in_task_order(tasks, existing + new_rows), time.perf_counter() - t0
    return SweepResult(
        sweep, rows, stream, len(new_rows), skipped, len(tasks), seconds, parquet, rejected
    )


def _in_task_order(tasks: list[Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the tasks that have one, in the tasks' order."""
    by_key = {r["key"]: r for r in rows}
    return [by_key[t.key] for t in tasks if t.key in by_key]


def _existing_rows(
    stream: Path, sweep: Sweep, resume: bool, overwrite: bool
) -> tuple[list[dict[str, Any]], list[str], bool]:
    """The rows already in ``stream`` that a resumed sweep keeps, the rows it runs again
    (``"FILE, line N: why"``: a line that does not parse, a row that is not its key's task's,
    :mod:`.checks`; also warned about) and whether to rewrite the file.

    The file is rewritten (atomically) when it does not exist yet, when a partial last line,
    a rejected row or a duplicate was dropped, or when its header lacks a column of this sweep.
    """
    if resume and overwrite:
        raise SweepError("resume and overwrite exclude each other: keep the rows or drop them")
    if not stream.exists() or overwrite:
        return [], [], True
    if not resume:
        raise SweepError(f"{stream} exists: pass --resume to add the missing rows, or --overwrite")
    existing, clean, rejected = read_rows(stream)
    header = read_header(stream)
    check_header(stream, header, sweep)
    tasks = {t.key: t for t in sweep.tasks()}
    kept = []
    for row in existing:
        line = row.pop("_line", "?")
        task = tasks.get(row["key"])
        problem = None if task is None else row_problem(row, task)
        if problem is None:
            kept.append(row)
        else:
            rejected.append(f"{stream}, line {line}: {problem}")
    if rejected:
        warnings.warn(
            f"{plural(len(rejected), 'row')} of {stream} run again: " + "; ".join(rejected[:5]),
            RuntimeWarning,
            stacklevel=3,
        )
    return (
        kept,
        rejected,
        not clean or bool(rejected) or any(c not in header for c in sweep.columns()),
    )


def _open(
    stack: ExitStack,
    client: Any,
    sweep: Sweep,
    stream: Path,
    existing: list[dict[str, Any]],
    rewrite: bool,
) -> Writer:
    """Open the table for appending (after connecting: an unreachable scheduler changes
    nothing); ``stack`` closes the client and the file however the sweep ends."""
    if client is not None:
        stack.callback(client.close)
    columns = sweep.columns() if rewrite else read_header(stream)
    writer = Writer(stream, columns, existing, rewrite)
    stack.callback(writer.close)
    return writer


def _engine(
    pending: list[Task], client: Any, n_jobs: int, delay: float, tensorboard: str | None
) -> Iterator[dict[str, Any]]:
    """The rows of ``pending`` as they finish: on the Dask ``client``, else in local processes."""
    if not pending:
        return
    if client is not None:
        yield from dask_results(pending, client, delay, tensorboard)
    else:
        yield from joblib_results(pending, n_jobs, delay, tensorboard)


def _write_rows(
    results: Iterator[dict[str, Any]],
    writer: Writer,
    done: set[str],
    total: int,
    on_result: Callable[[dict[str, Any], int, int], None] | None,
) -> list[dict[str, Any]]:
    """Write each new row as it arrives, flushed; ``done`` holds the keys already in the table.

    A row whose key is in ``done`` is never written twice, whatever the engine does.
    """
    new_rows: list[dict[str, Any]] = []
    for row in results:
        if row["key"] in done:
            continue
        writer.write(row)
        done.add(row["key"])
        new_rows.append(row)
        if on_result is not None:
            on_result(row, len(new_rows), total)
    return new_rows
