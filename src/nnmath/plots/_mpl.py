"""Lazy matplotlib import with a non-interactive backend, and atomic figure saving."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._files import atomic_write

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
    try:
        with atomic_write(path) as fh:  # a failed save leaves no file, an old one intact
            fig.savefig(fh, format=fmt, dpi=dpi, bbox_inches="tight" if tight else None)
    finally:
        pyplot().close(fig)
    return path
