"""Lazy matplotlib import with a non-interactive backend, and atomic figure saving."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["pyplot", "save_figure"]


def pyplot() -> Any:
    """Import ``matplotlib.pyplot`` (Agg backend unless one is already chosen)."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("plots need matplotlib: pip install 'nnmath[plot]'") from exc
    if "MPLBACKEND" not in os.environ:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 100, tight: bool = True) -> Path:
    """Save ``fig`` to ``path`` (format from the suffix: .png, .svg, .pdf) atomically.

    ``tight=True`` crops the canvas to the drawn artists (``bbox_inches="tight"``); with
    ``tight=False`` the file has exactly the figure's size, ``figsize × dpi`` pixels.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format=fmt, dpi=dpi, bbox_inches="tight" if tight else None)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        pyplot().close(fig)
    return path
