"""What the page draws, computed by nnmath: one snapshot of a network during training.

Every number here comes from the network itself: the decision regions are
:meth:`Network.forward` on a grid of the plane (``a^L`` of every grid point), the small maps
are the hidden ``a^l`` of the same forward pass on a coarser grid, the costs and accuracies
are :meth:`Network.cost` and :meth:`Network.accuracy`, and the speed of learning of every
layer is ‖∂C/∂b^l‖ from :func:`nnmath.diagnostics.gradient_norms`. Arrays travel as base64
(float32, or bytes 0..255 for the maps), so that a snapshot of an 8-layer network stays a
few kilobytes and the page only decodes and draws.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..diagnostics import gradient_norms
from .toy import ToyData

__all__ = ["GRID", "UNIT_GRID", "Grid", "snapshot", "b64"]

GRID = 48  # decision regions: GRID × GRID points
UNIT_GRID = 16  # the hidden units' maps: every (GRID // UNIT_GRID)-th point of that grid


def b64(a: np.ndarray) -> str:
    """``a`` as base64 of its bytes (little-endian float32 or uint8), for the page."""
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


class Grid:
    """The points of the plane where the regions are drawn: rows of ``(x1, x2)``, top row
    first (largest x2), left to right, so the page fills its canvas in order."""

    def __init__(self, bounds: tuple[float, float, float, float]) -> None:
        x0, x1, y0, y1 = bounds
        self.bounds = bounds
        xs = np.linspace(x0, x1, GRID)
        ys = np.linspace(y1, y0, GRID)
        gx, gy = np.meshgrid(xs, ys)
        self.points = np.stack([gx.ravel(), gy.ravel()], axis=1)
        step = GRID // UNIT_GRID
        keep = np.zeros((GRID, GRID), dtype=bool)
        keep[step // 2 :: step, step // 2 :: step] = True
        self.coarse = keep.ravel()


def _regions(a_L: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The class (argmax of a^L) of every grid point and its share of a^L, as 0..255."""
    cls = np.argmax(a_L, axis=0).astype(np.uint8)
    total = np.maximum(a_L.sum(axis=0), 1e-12)
    share = a_L.max(axis=0) / total  # 1/K (undecided) .. 1 (sure)
    lo = 1.0 / n_classes
    level = np.clip((share - lo) / (1 - lo), 0.0, 1.0)
    return cls, np.round(255 * level).astype(np.uint8)


def _unit_maps(activations: list[np.ndarray], coarse: np.ndarray) -> list[dict[str, Any]]:
    """Each hidden layer's a^l on the coarse grid, each unit 0..255 between its own min and
    max over the plane (which ``min`` and ``max`` give)."""
    maps = []
    for a in activations[1:-1]:
        a = a[:, coarse]
        lo, hi = a.min(axis=1, keepdims=True), a.max(axis=1, keepdims=True)
        span = np.where(hi > lo, hi - lo, 1.0)
        scaled = np.round(255 * (a - lo) / span).astype(np.uint8)
        maps.append({"min": lo[:, 0].tolist(), "max": hi[:, 0].tolist(), "data": b64(scaled)})
    return maps


def _scores(net: Any, data: ToyData) -> dict[str, float]:
    with np.errstate(all="ignore"):
        return {
            "train_cost": net.cost(data.X_train, data.y_train),
            "train_accuracy": net.accuracy(data.X_train, data.y_train),
            "test_cost": net.cost(data.X_test, data.y_test),
            "test_accuracy": net.accuracy(data.X_test, data.y_test),
        }


def snapshot(net: Any, data: ToyData, grid: Grid, epoch: float, step: int) -> dict[str, Any]:
    """The views of ``net`` now: regions, unit maps, weights, scores and speeds per layer.

    Parameters
    ----------
    net : Network
    data : ToyData
    grid : Grid
    epoch : float
        Epochs done (fractional inside an epoch).
    step : int
        Mini-batches done.

    Returns
    -------
    dict
        JSON-ready; ``speeds`` lists ‖∂C/∂b^l‖ for l = 2, …, L (first hidden layer first).
    """
    x = net._inputs(grid.points).T  # (2, GRID²): the grid points as columns
    with np.errstate(all="ignore"):
        _, activations = net.forward(x)
        activations = [to_numpy(a) for a in activations]
        cls, level = _regions(activations[-1], data.n_classes)
        norms = gradient_norms(net, data.X_train, data.y_train)
    return {
        "type": "snapshot",
        "epoch": epoch,
        "step": step,
        **_scores(net, data),
        "speeds": norms.nabla_b,
        "regions": {"cls": b64(cls), "level": b64(level)},
        "units": _unit_maps(activations, grid.coarse),
        "weights": [b64(to_numpy(W).astype("<f4")) for W in net.weights],
        "biases": [b64(to_numpy(b).astype("<f4")) for b in net.biases],
    }
