"""A user's own data: a CSV text of two feature columns and a label column, checked.

The text is parsed in memory (nothing is written, no path is involved). A first row that
is not numeric in its feature columns is a header. Labels may be any strings or numbers;
they become classes ``0, 1, …`` in sorted order. The features are rescaled to ``[-1, 1]``
(one affine map per column, reported back), the range the toy data sets use.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from .._words import is_number
from .config import LIMITS, ConfigError
from .toy import ToyData, split

__all__ = ["parse_csv"]


def _rows(text: str) -> list[list[str]]:
    try:
        dialect = csv.Sniffer().sniff(text[:2048], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    if not rows:
        raise ConfigError("the CSV file is empty: give two feature columns and a label column")
    return rows


def _label_order(s: str) -> tuple[bool, float, str]:
    """Numbers first, in numeric order, then the other labels alphabetically."""
    number = is_number(s)
    return (not number, float(s) if number else 0.0, s)


def _rescale(X: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Each column of ``X`` onto [-1, 1] by an affine map, ``lo`` to -1 and ``hi`` to 1 exactly
    (a constant column onto 0).

    Near ±1.8e308 the range ``hi - lo`` overflows to ∞, so each column is first divided by
    its largest magnitude (then every value lies in [-1, 1] and the range in [0, 2]).
    """
    biggest = np.maximum(np.abs(lo), np.abs(hi))
    biggest[biggest == 0] = 1.0
    X, lo, hi = X / biggest, lo / biggest, hi / biggest
    width = hi - lo
    share = np.divide(X - lo, width, out=np.full_like(X, 0.5), where=width > 0)  # in [0, 1]
    return 2 * share - 1


def parse_csv(text: str, train_fraction: float, seed: int) -> tuple[ToyData, dict]:
    """The rows of ``text`` as a split :class:`ToyData` and a summary for the page.

    Raises
    ------
    ConfigError
        For a file that is not three columns of (number, number, label), has fewer than two
        classes, or more rows than :attr:`Limits.points`; the message names the line.
    """
    rows = _rows(text)
    header = None
    if not (is_number(rows[0][0]) and is_number(rows[0][1]) if len(rows[0]) > 1 else False):
        header, rows = rows[0], rows[1:]
    if len(rows) > LIMITS.points:
        raise ConfigError(f"the CSV file has {len(rows)} rows; at most {LIMITS.points} are allowed")
    if len(rows) < 4:
        raise ConfigError(f"the CSV file has {len(rows)} data rows; give at least 4")
    first = 2 if header is not None else 1
    X = np.empty((len(rows), 2))
    labels = []
    for i, row in enumerate(rows):
        line = i + first
        if len(row) != 3:
            raise ConfigError(
                f"line {line} has {len(row)} columns; every line needs 3: x1, x2, label"
            )
        for j in range(2):
            try:
                X[i, j] = float(row[j])
            except ValueError:
                raise ConfigError(
                    f"line {line}, column {j + 1}: {row[j]!r} is not a number"
                ) from None
            if not np.isfinite(X[i, j]):
                raise ConfigError(f"line {line}, column {j + 1}: {row[j]!r} is not finite")
        labels.append(row[2].strip())
    classes = sorted(set(labels), key=_label_order)
    if len(classes) < 2:
        raise ConfigError(f"the label column has one class only ({classes[0]!r}); give at least 2")
    if len(classes) > LIMITS.classes:
        raise ConfigError(
            f"the label column has {len(classes)} classes; at most {LIMITS.classes} are allowed"
        )
    index = {c: k for k, c in enumerate(classes)}
    y = np.array([index[s] for s in labels], dtype=np.int64)
    lo, hi = X.min(axis=0), X.max(axis=0)
    X = _rescale(X, lo, hi)
    data = split(X, y, train_fraction, np.random.default_rng(seed), classes)
    summary = {
        "rows": len(rows),
        "classes": classes,
        "columns": header[:3] if header else ["x1", "x2", "label"],
        "ranges": [[float(lo[j]), float(hi[j])] for j in range(2)],
    }
    return data, summary
