"""Atomic file writes: readers see the old file or the complete new one, never a part of it.

Every file nnmath publishes (model files, checkpoints, IDX files, downloads, figures, sweep
tables) goes through :func:`atomic_write`: the bytes go to a temporary file in the target's
own folder (so the final ``os.replace`` is a rename within one file system, which is atomic),
and only a block that finished without an error replaces the target.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "remove_stale_temporaries", "usual_mode"]


def usual_mode() -> int:
    """The mode ``open()`` gives a new file, ``0o666 & ~umask``.

    ``tempfile.mkstemp`` creates its file with mode ``0o600``; a published file gets this mode
    instead, like any other file the user creates.
    """
    umask = os.umask(0)  # reading the umask means setting it; put it back at once
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    mode: str = "wb",
    *,
    fsync: bool = False,
    encoding: str | None = None,
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success, move it onto ``path``.

    When the ``with`` block ends normally the file is flushed (and with ``fsync=True`` forced
    to disk), given the mode :func:`usual_mode`, closed, and renamed onto ``path`` with
    ``os.replace``. When the block raises (any exception, ``KeyboardInterrupt`` too) the
    temporary file is removed and ``path``, if it existed, keeps its old content. After a
    successful write, temporaries of ``path`` left by killed processes are removed
    (:func:`remove_stale_temporaries`).

    Parameters
    ----------
    path : path-like
        The file to write. Its folder must exist.
    mode : {"wb", "w"}
        Binary or text.
    fsync : bool
        Force the bytes to disk before the rename, so that a crash of the machine cannot leave
        an empty or partial file under ``path``.
    encoding, newline : str, optional
        For text mode, as in :func:`open`.

    Yields
    ------
    file object
        Open for writing on the temporary file.

    Examples
    --------
    >>> with atomic_write("table.csv", "w", encoding="utf-8") as fh:  # doctest: +SKIP
    ...     fh.write("a,b\\n")
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write writes a new file: mode 'wb' or 'w', got {mode!r}")
    path = Path(path)
    prefix = f".{path.name}.{os.getpid()}-"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as fh:
            yield fh
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), usual_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    remove_stale_temporaries(path)


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files that writes of ``path`` killed mid-way left behind.

    :func:`atomic_write` names its temporary ``.NAME.PID-XXXXXXXX.tmp`` after the process
    writing it; one whose process no longer runs belongs to a write that can never finish
    (a ``SIGKILL``, a power cut), and is removed. Writes of other processes still running
    keep theirs.

    Returns
    -------
    list of Path
        The files removed.
    """
    path = Path(path)
    removed = []
    head = f".{path.name}."
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(head) and name.endswith(".tmp")):
            continue
        pid, dash, _ = name[len(head) : -len(".tmp")].partition("-")
        if not (dash and pid.isdigit()) or _running(int(pid)):
            continue
        with contextlib.suppress(OSError):  # another process may have removed it first
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists (this one included)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or an odd number: leave its file alone
    return True
