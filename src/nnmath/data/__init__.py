"""Data sets as ``(X, y)`` splits with examples as rows, X float32 in [0, 1], y integer labels.

``load_digits`` (embedded), ``load_mnist`` and ``load_fashion_mnist`` (IDX files found on disk
or downloaded with checksums), ``load_dataset(name_or_folder)``; ``expand`` adds the book's
one-pixel shifts of each training image (``load_mnist(expanded=True)`` reads them from disk).
"""

from __future__ import annotations

from .cache import cache_dir
from .container import Dataset
from .datasets import LOADERS, SHAPES, load_dataset, load_digits
from .idx import DataError, read_idx, write_idx
from .mnist import load_fashion_mnist, load_idx_folder, load_mnist, locate
from .names import dataset_key
from .shifts import expand

__all__ = [
    "DataError",
    "Dataset",
    "DownloadError",
    "LOADERS",
    "SHAPES",
    "cache_dir",
    "dataset_key",
    "download_dataset",
    "expand",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_idx_folder",
    "load_mnist",
    "locate",
    "read_idx",
    "write_idx",
]


def __getattr__(name: str) -> object:
    """``DownloadError`` and ``download_dataset`` on first use: :mod:`.download` imports
    ``urllib.request`` and ``http.client`` (with ``ssl``), which the command line's start-up
    and the embedded data set do not need."""
    if name in ("DownloadError", "download_dataset"):
        from . import download

        return getattr(download, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
