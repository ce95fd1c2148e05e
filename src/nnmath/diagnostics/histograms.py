"""Distributions of z^l, a^l and δ^l over training: fixed-edge histograms and percentiles.

What :class:`nnmath.callbacks.Histograms` (``fit(track_histograms=True)``) records after every
epoch on a fixed set of rows, and the functions that read it back from a ``History``.

* **Histograms** of every entry of ``z^l``, ``a^l`` and ``δ^l`` (units × examples; a
  convolution's ``out × Ho × Wo`` positions are its units) with bin edges chosen once, from
  the first measurement (:func:`bin_edges`): ``bins`` equal bins from ``lo − r/2`` to
  ``hi + r/2``, where ``lo``, ``hi`` are that measurement's smallest and largest value and
  ``r = hi − lo``, so that the same bins can follow the distribution as it widens. Values that
  later fall outside are counted, not dropped (``under``, ``over``).
* **Percentiles** (:data:`PERCENTILES`: 15th, 50th, 85th) of ``z^l`` over all its entries, and
  of each of the first ``units`` units over the examples: Ioffe & Szegedy (2015, figure 1)
  follow the 15th, 50th and 85th percentile of one sigmoid's input in the last hidden layer
  to show its distribution moving during training ("internal covariate shift").

Pure computation: nothing here writes or prints.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "BINS",
    "HISTOGRAMS",
    "PERCENTILES",
    "add_entry",
    "bin_edges",
    "count",
    "histogram_counts",
    "layer_percentiles",
    "new_record",
    "per_unit_percentiles",
    "unit_percentiles",
    "z_percentiles",
]

#: the per-layer quantities histogrammed: ``z^l``, ``a^l``, ``δ^l``
HISTOGRAMS = ("z", "a", "delta")
#: the percentiles of z^l recorded (Ioffe & Szegedy 2015, figure 1)
PERCENTILES = (15.0, 50.0, 85.0)
#: bins of a histogram when none are asked for
BINS = 40


def bin_edges(values: np.ndarray, bins: int = BINS) -> np.ndarray:
    """The ``bins + 1`` fixed edges of a quantity's histograms, from its first measurement.

    ``bins`` equal bins over ``[lo − r/2, hi + r/2]`` (``lo``, ``hi`` the smallest and largest
    of ``values``, ``r = hi − lo``): the range seen, widened by half of it on each side. A
    constant quantity (``r = 0``) gets ``[v − ½|v|, v + ½|v|]``, or ``[−1, 1]`` around 0.

    Parameters
    ----------
    values : numpy.ndarray
        Any shape; non-finite entries are ignored.
    bins : int

    Returns
    -------
    numpy.ndarray, shape (bins + 1,)
    """
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    pad = 0.5 * (hi - lo)
    if pad == 0.0:
        pad = 0.5 * abs(lo) or 1.0
    return np.linspace(lo - pad, hi + pad, int(bins) + 1)


def count(values: np.ndarray, edges: np.ndarray) -> tuple[list[int], int, int]:
    """The histogram of ``values`` on ``edges``, and how many fell below and above them.

    Returns
    -------
    counts : list of int, one per bin (the last bin includes its right edge, as NumPy's)
    under, over : int
        Entries below ``edges[0]`` and above ``edges[-1]`` (NaN counts in neither).
    """
    flat = values.ravel()
    counts, _ = np.histogram(flat, bins=edges)
    return counts.tolist(), int(np.sum(flat < edges[0])), int(np.sum(flat > edges[-1]))


def layer_percentiles(z: np.ndarray) -> list[float]:
    """The :data:`PERCENTILES` of every entry of ``z^l`` (NumPy's linear interpolation)."""
    return [float(p) for p in np.percentile(z, PERCENTILES)]


def per_unit_percentiles(z: np.ndarray, units: int) -> list[list[float]]:
    """The :data:`PERCENTILES` over the examples (last axis) of the first ``units`` units of
    ``z^l`` (a convolution's units in the order of its ``(out, Ho, Wo)`` positions)."""
    rows = z.reshape(-1, z.shape[-1])[: int(units)]
    return np.percentile(rows, PERCENTILES, axis=1).T.tolist()


def new_record(stats: Any, bins: int = BINS) -> dict[str, Any]:
    """An empty record of the layers of ``stats`` (a :class:`LayerStatistics` with arrays),
    its bin edges fixed from those arrays (:func:`bin_edges`); :func:`add_entry` fills it.

    The layout (plain Python, JSON-ready) is :class:`nnmath.callbacks.Histograms`'s.
    """
    arrays = _arrays(stats)
    return {
        "layers": list(stats.layers),
        "activations": list(stats.activations),
        "epoch": [],
        "bins": int(bins),
        "percentiles": list(PERCENTILES),
        "rows": int(stats.n_examples),
        "edges": {q: [bin_edges(v, bins).tolist() for v in arrays[q]] for q in HISTOGRAMS},
        "counts": {q: [] for q in HISTOGRAMS},
        "under": {q: [] for q in HISTOGRAMS},
        "over": {q: [] for q in HISTOGRAMS},
        "z_percentiles": [],
        "unit_z_percentiles": [],
    }


def add_entry(rec: dict[str, Any], stats: Any, epoch: float, units: int = 4) -> None:
    """Append the histograms and percentiles of ``stats`` (with arrays), at ``epoch`` epochs
    done (fractional inside an epoch), to the record ``rec`` of :func:`new_record` (on its
    fixed edges)."""
    arrays = _arrays(stats)
    rec["epoch"].append(epoch)
    for q in HISTOGRAMS:
        counted = [count(v, e) for v, e in zip(arrays[q], rec["edges"][q], strict=True)]
        rec["counts"][q].append([c for c, _, _ in counted])
        rec["under"][q].append([u for _, u, _ in counted])
        rec["over"][q].append([o for _, _, o in counted])
    rec["z_percentiles"].append([layer_percentiles(z) for z in arrays["z"]])
    rec["unit_z_percentiles"].append([per_unit_percentiles(z, units) for z in arrays["z"]])


def _arrays(stats: Any) -> dict[str, list[np.ndarray]]:
    if stats.arrays is None:
        raise ValueError("the histograms need the arrays: layer_statistics(..., arrays=True)")
    return stats.arrays


def _record(history: Any, key: str) -> dict[str, Any]:
    rec = getattr(history, "extra", history).get(key)
    if not rec or not rec.get("epoch"):
        raise ValueError(
            f"the history has no {key!r} record: train with fit(..., track_histograms=True) "
            "or the callback nnmath.callbacks.Histograms()"
        )
    return rec


def _layer_index(rec: dict[str, Any], layer: int) -> int:
    if layer not in rec["layers"]:
        raise ValueError(
            f"layer l = {layer} was not measured; the layers with parameters are "
            f"{', '.join(map(str, rec['layers']))} (the lecture's numbers, the input is l = 1)"
        )
    return rec["layers"].index(layer)


def z_percentiles(
    history: Any, layer: int, unit: int | None = None, key: str = "histograms"
) -> tuple[np.ndarray, np.ndarray]:
    """The 15th, 50th and 85th percentile of ``z^l`` at every recorded epoch.

    Parameters
    ----------
    history : History (or its ``extra`` dict)
    layer : int
        The lecture's number ``l`` of a layer with parameters (``history.extra[key]["layers"]``).
    unit : int, optional
        One unit's input over the examples (one of the first ``units`` recorded); default
        every entry of ``z^l``.

    Returns
    -------
    epochs : numpy.ndarray, shape (entries,)
        Epochs done at each entry (0: before training).
    percentiles : numpy.ndarray, shape (entries, 3)
        Columns: :data:`PERCENTILES`.
    """
    rec = _record(history, key)
    i = _layer_index(rec, layer)
    if unit is None:
        rows = [entry[i] for entry in rec["z_percentiles"]]
    else:
        recorded = len(rec["unit_z_percentiles"][0][i])
        if not 0 <= unit < recorded:
            raise ValueError(
                f"unit {unit} of layer l = {layer} was not recorded: the first {recorded} "
                "were (Histograms(units=...) records more)"
            )
        rows = [entry[i][unit] for entry in rec["unit_z_percentiles"]]
    return np.asarray(rec["epoch"], dtype=float), np.asarray(rows, dtype=float)


def unit_percentiles(history: Any, layer: int, unit: int = 0) -> np.ndarray:
    """:func:`z_percentiles` of one unit's input, the percentiles alone (entries, 3)."""
    return z_percentiles(history, layer, unit)[1]


def histogram_counts(
    history: Any, quantity: str, layer: int, key: str = "histograms"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A layer's histograms of ``quantity`` (``"z"``, ``"a"`` or ``"delta"``) at every entry.

    Returns
    -------
    epochs : numpy.ndarray, shape (entries,)
    edges : numpy.ndarray, shape (bins + 1,)
    counts : numpy.ndarray of int, shape (entries, bins)
        The entries outside the edges are in ``history.extra[key]["under"|"over"]``.
    """
    if quantity not in HISTOGRAMS:
        raise ValueError(f"quantity must be one of {', '.join(HISTOGRAMS)}, got {quantity!r}")
    rec = _record(history, key)
    i = _layer_index(rec, layer)
    counts = np.asarray([entry[i] for entry in rec["counts"][quantity]], dtype=np.int64)
    edges = np.asarray(rec["edges"][quantity][i], dtype=float)
    return np.asarray(rec["epoch"], dtype=float), edges, counts
