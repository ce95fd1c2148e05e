"""Atomic file writes: readers see the old file or the complete new one, never a part of it.

Every file nnmath publishes (model files, checkpoints, IDX files, downloads, figures, sweep
tables) goes through :func:`atomic_write`: the bytes go to a temporary file in the target's
own folder (so the final ``os.replace`` is a rename within one file system, which is atomic),
and only a block that finished without an error replaces the target.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "usual_mode"]


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
    temporary file is removed and ``path``, if it existed, keeps its old content.

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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
