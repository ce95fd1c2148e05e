"""What the page draws, computed by nnmath: one snapshot of a network during training.

Every number here comes from the network itself: the decision regions are
:meth:`Network.forward` on a grid of the plane (``a^L`` of every grid point), the small maps
are the hidden ``a^l`` of the same forward pass on a coarser grid, the costs and accuracies
are :meth:`Network.cost` and :meth:`Network.accuracy`, and the speed of learning of every
layer is ‖∂C/∂b^l‖ from :func:`nnmath.diagnostics.gradient_norms` (‖∂C/∂β^l‖ with batch
normalisation, :mod:`.layered`). Arrays travel as base64
(float32, or bytes 0..255 for the maps), so that a snapshot of an 8-layer network stays a
few kilobytes and the page only decodes and draws.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..diagnostics import gradient_norms
from .features import feature_columns
from .layered import Plan
from .toy import ToyData

__all__ = ["GRID", "UNIT_GRID", "CURVE", "Grid", "snapshot", "b64", "network_inputs", "unit_map"]

GRID = 48  # decision regions: GRID × GRID points
UNIT_GRID = 16  # the hidden units' maps: every (GRID // UNIT_GRID)-th point of that grid
CURVE = 192  # a function of x1 alone: its curve at CURVE points, the units' at a quarter


def b64(a: np.ndarray) -> str:
    """``a`` as base64 of its bytes (little-endian float32 or uint8), for the page."""
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def network_inputs(data: ToyData, features: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The training and test rows as the network sees them: the chosen features' columns."""
    return feature_columns(data.X_train, features), feature_columns(data.X_test, features)


class Grid:
    """The points of the plane where the regions are drawn: rows of ``(x1, x2)``, top row
    first (largest x2), left to right, so the page fills its canvas in order; for a function
    of x1 alone (``dims == 1``), the points ``(x1, 0)`` of a curve, left to right.
    ``inputs`` are the points as the network's input features; ``shape`` is the grid's
    (rows, columns) and ``unit_shape`` that of the units' maps (``coarse`` picks them)."""

    def __init__(
        self, bounds: tuple[float, float, float, float], features: list[str], dims: int = 2
    ) -> None:
        x0, x1, y0, y1 = bounds
        self.bounds = bounds
        if dims == 1:
            xs = np.linspace(x0, x1, CURVE)
            self.points = np.stack([xs, np.zeros(CURVE)], axis=1)
            self.coarse = np.arange(CURVE) % 4 == 2
            self.shape, self.unit_shape = (1, CURVE), (1, CURVE // 4)
        else:
            xs = np.linspace(x0, x1, GRID)
            ys = np.linspace(y1, y0, GRID)
            gx, gy = np.meshgrid(xs, ys)
            self.points = np.stack([gx.ravel(), gy.ravel()], axis=1)
            step = GRID // UNIT_GRID
            keep = np.zeros((GRID, GRID), dtype=bool)
            keep[step // 2 :: step, step // 2 :: step] = True
            self.coarse = keep.ravel()
            self.shape, self.unit_shape = (GRID, GRID), (UNIT_GRID, UNIT_GRID)
        self.inputs = feature_columns(self.points, features)


def _regions(a_L: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The class (argmax of a^L) of every grid point and its share of a^L, as 0..255."""
    cls = np.argmax(a_L, axis=0).astype(np.uint8)
    total = np.maximum(a_L.sum(axis=0), 1e-12)
    share = a_L.max(axis=0) / total  # 1/K (undecided) .. 1 (sure)
    lo = 1.0 / n_classes
    level = np.clip((share - lo) / (1 - lo), 0.0, 1.0)
    return cls, np.round(255 * level).astype(np.uint8)


def unit_map(a: np.ndarray, coarse: np.ndarray) -> dict[str, Any]:
    """One layer's ``a`` (units, grid points) on the coarse grid, each unit 0..255 between its
    own min and max over the plane (which ``min`` and ``max`` give)."""
    a = a[:, coarse]
    lo, hi = a.min(axis=1, keepdims=True), a.max(axis=1, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    scaled = np.round(255 * (a - lo) / span).astype(np.uint8)
    return {"min": lo[:, 0].tolist(), "max": hi[:, 0].tolist(), "data": b64(scaled)}


def _unit_maps(
    activations: list[np.ndarray], rows: list[int], coarse: np.ndarray
) -> list[dict[str, Any]]:
    """Each hidden layer's a^l (``activations[row + 1]``, :class:`.layered.Plan`'s rows) on
    the coarse grid (:func:`unit_map`)."""
    return [unit_map(activations[r + 1], coarse) for r in rows[:-1]]


def _scores(net: Any, data: ToyData, inputs: tuple) -> dict[str, float | None]:
    classify = data.kind == "classes"
    (X, Xt), y, yt = inputs, data.y_train, data.y_test
    with np.errstate(all="ignore"):
        return {
            "train_cost": net.cost(X, y),
            "train_accuracy": net.accuracy(X, y) if classify else None,
            "test_cost": net.cost(Xt, yt),
            "test_accuracy": net.accuracy(Xt, yt) if classify else None,
        }


def _output(a_L: np.ndarray, data: ToyData) -> dict[str, str]:
    """The output over the grid: classes and their shares, or a real target's values."""
    if data.kind == "regression":
        return {"values": b64(a_L[0].astype("<f4"))}
    cls, level = _regions(a_L, data.n_classes)
    return {"cls": b64(cls), "level": b64(level)}


def snapshot(
    net: Any, data: ToyData, grid: Grid, epoch: float, step: int, inputs: tuple, plan: Plan
) -> dict[str, Any]:
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
    inputs : (X_train, X_test)
        The rows as the network's input features (:func:`network_inputs`).
    plan : Plan
        Where each layer's Dense, speed and a^l are in ``net`` (:func:`.layered.plan_of`).

    Returns
    -------
    dict
        JSON-ready; ``speeds`` lists ‖∂C/∂b^l‖ for l = 2, …, L (first hidden layer first;
        ‖∂C/∂β^l‖ of a layer's BatchNorm when it has one); ``weights`` and ``biases`` are
        each layer's Dense ``W^l``, ``b^l``.
    """
    x = net.check_inputs(grid.inputs).T  # (features, points): the grid points as columns
    with np.errstate(all="ignore"):
        _, activations = net.forward(x)
        activations = [to_numpy(a) for a in activations]
        norms = gradient_norms(net, inputs[0], data.y_train)
    weights, biases = net.weights, net.biases
    return {
        "type": "snapshot",
        "epoch": epoch,
        "step": step,
        **_scores(net, data, inputs),
        "speeds": [norms.nabla_b[i] for i in plan.speed],
        "regions": _output(activations[-1], data),
        "units": _unit_maps(activations, plan.rows, grid.coarse),
        "weights": [b64(to_numpy(weights[i]).astype("<f4")) for i in plan.dense],
        "biases": [b64(to_numpy(biases[i]).astype("<f4")) for i in plan.dense],
    }
