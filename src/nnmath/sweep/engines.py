"""Where a sweep's tasks run: local processes (joblib) or a ``dask.distributed`` cluster.

Both engines take the tasks and yield their rows as they finish, in any order; tasks carry
only their parameters, so nothing big travels to the workers.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from .spec import SweepError
from .task import Task, run_task

__all__ = ["connect", "dask_results", "joblib_results"]


def joblib_results(
    tasks: list[Task], n_jobs: int, delay: float, tensorboard: str | None = None
) -> Iterator[dict[str, Any]]:
    if n_jobs == 1:
        for t in tasks:
            yield run_task(t, delay, tensorboard)
        return
    from joblib import Parallel, delayed

    parent = os.getpid()  # each worker watches it from its start (before any task arrives)
    yield from Parallel(
        n_jobs=n_jobs,
        return_as="generator_unordered",
        initializer=watch_parent,
        initargs=(parent,),
    )(delayed(run_task)(t, delay, tensorboard) for t in tasks)


#: how often a local worker checks that the sweep that started it still runs (seconds)
PARENT_CHECK = 0.5


def watch_parent(parent: int) -> None:
    """Make this worker process exit once ``parent``, the sweep's process, has died.

    joblib's workers otherwise live on for minutes after their parent is killed (waiting for
    work until an idle timeout, or running the tasks already queued); a daemon thread notices
    within :data:`PARENT_CHECK` seconds that the worker was re-parented (or, for a worker
    that is not the sweep's child, that the sweep's process is gone), and ends it. A worker
    that starts after its parent died exits at once.
    """
    if os.getpid() == parent:
        return
    direct = os.getppid() == parent
    if not direct and not _alive(parent):
        os._exit(1)
    threading.Thread(
        target=_exit_when_orphaned, args=(parent, direct), name="nnmath-sweep-parent", daemon=True
    ).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, under another user
    return True


def _exit_when_orphaned(parent: int, direct: bool) -> None:
    """Poll the parent; once it is gone, exit at once (the task in hand is lost: a resumed
    sweep runs it again)."""
    while os.getppid() == parent if direct else _alive(parent):
        time.sleep(PARENT_CHECK)
    os._exit(1)


def connect(scheduler: str, timeout: float) -> Any:
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError(
            "a Dask scheduler needs dask.distributed: pip install 'nnmath[dask]'"
        ) from exc
    if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
        raise SweepError(f"scheduler {scheduler!r}: give an address like tcp://HOST:PORT")
    try:
        return Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SweepError(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s "
            f"({message}); start one with `dask scheduler` or check the address"
        ) from None


def dask_results(
    tasks: list[Task], client: Any, delay: float, tensorboard: str | None = None
) -> Iterator[dict[str, Any]]:
    from distributed import as_completed

    run_id = uuid.uuid4().hex[:8]
    futures = []
    try:
        futures = [
            client.submit(
                run_task, t, delay, tensorboard, key=f"nnmath-sweep-{t.key}-{run_id}", pure=False
            )
            for t in tasks
        ]
        by_key = {f.key: t for f, t in zip(futures, tasks, strict=True)}
        for fut in as_completed(futures, loop=client.loop):
            try:
                row = fut.result()
            except Exception as exc:
                t = by_key[fut.key]
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise SweepError(
                    f"task {t.key} (seed {t.seed_index}, {t.params}) failed: "
                    f"{type(exc).__name__}: {message}"
                ) from exc
            fut.release()
            yield row
    finally:
        if futures:
            client.cancel(futures)
