"""Where nnmath keeps downloaded data sets: the user cache folder."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir(name: str | None = None) -> Path:
    """``$XDG_CACHE_HOME/nnmath`` (or ``~/.cache/nnmath``), plus ``/<name>`` when given.

    Parameters
    ----------
    name : str, optional
        A data set's name (``"mnist"``): its own folder in the cache.

    Returns
    -------
    pathlib.Path
        The folder (not created here).
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    root = Path(base) / "nnmath"
    return root / name if name else root
