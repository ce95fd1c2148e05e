"""network2's model files: the book's JSON, ``{"sizes", "weights", "biases", "cost"}``."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from .._files import atomic_write
from .._unsupported import refuse_layers

__all__ = ["NielsenFileError", "read_network", "save_network"]


class NielsenFileError(ValueError):
    """A file that is not a network saved by ``network2``'s ``save``."""


def save_network(net: Any, filename: str | os.PathLike[str]) -> None:
    """Write ``net`` as the book's JSON, atomically (readers see the old file or the new one).

    Parameters
    ----------
    net : nnmath.nielsen.Network2
    filename : path-like
    """
    refuse_layers(net, "nnmath.nielsen's JSON (save_network)")
    data = {
        "sizes": list(net.sizes),
        "weights": [np.asarray(w).tolist() for w in net.weights],
        "biases": [np.asarray(b).tolist() for b in net.biases],
        "cost": net.cost.__name__,
    }
    with atomic_write(filename, "w", encoding="utf-8") as fh:
        json.dump(data, fh)


def _bad(filename: Any, what: str) -> NielsenFileError:
    return NielsenFileError(f"{os.fspath(filename)}: {what}; not a network saved by network2")


def _read(filename: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        with open(filename, encoding="utf-8") as fh:
            data = json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(filename, f"not JSON ({exc})") from None
    except RecursionError:  # "[[[[…" thousands deep
        raise _bad(filename, "JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise _bad(filename, f"a JSON {type(data).__name__}, not an object")
    missing = [k for k in ("sizes", "weights", "biases", "cost") if k not in data]
    if missing:
        raise _bad(filename, f"no {', '.join(map(repr, missing))} in the JSON object")
    return data


def _array(filename: Any, value: Any, shape: tuple[int, int], name: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise _bad(filename, f"{name} is not an array of numbers") from None
    if arr.shape != shape:
        raise _bad(filename, f"{name} has shape {arr.shape}, its sizes imply {shape}")
    if not np.isfinite(arr).all():
        raise _bad(filename, f"{name} holds NaN or infinite values")
    return arr


def read_network(filename: str | os.PathLike[str], costs: dict[str, Any]) -> tuple:
    """The parts of a network saved by ``Network2.save``: ``(sizes, cost, weights, biases)``.

    The cost is looked up by its name in ``costs``, never evaluated.

    Raises
    ------
    NielsenFileError
        A ValueError naming the file and what is wrong with it (not JSON, a missing key, an
        unknown cost, weights that do not fit the sizes).
    """
    data = _read(filename)
    sizes = data["sizes"]
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes)
    ):
        raise _bad(filename, f"sizes must be a list of at least 2 positive integers, got {sizes!r}")
    cost = costs.get(data["cost"]) if isinstance(data["cost"], str) else None
    if cost is None:
        raise _bad(filename, f"unknown cost {data['cost']!r} (one of {', '.join(costs)})")
    n_layers = len(sizes) - 1
    for key in ("weights", "biases"):
        if not isinstance(data[key], list) or len(data[key]) != n_layers:
            raise _bad(filename, f"{key} must be a list of {n_layers} arrays for sizes {sizes}")
    weights, biases = [], []
    for i, (x, y) in enumerate(zip(sizes[:-1], sizes[1:])):
        weights.append(_array(filename, data["weights"][i], (y, x), f"weights[{i}]"))
        biases.append(_array(filename, data["biases"][i], (y, 1), f"biases[{i}]"))
    return sizes, cost, weights, biases
