"""Exports of a playground run: the model file (safetensors, ONNX where nnmath has it) and
the run's history as CSV. Each is written by nnmath's own writers into a private temporary
folder and handed back as bytes; no name from the page is ever a path."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["model_bytes", "history_csv", "has_onnx"]


def _to_onnx() -> Any:
    import nnmath

    return getattr(nnmath, "to_onnx", None)


def has_onnx() -> bool:
    """Whether this nnmath can write ONNX (``nnmath.to_onnx`` and the ``onnx`` package)."""
    import importlib.util

    return _to_onnx() is not None and importlib.util.find_spec("onnx") is not None


def model_bytes(net: Any, kind: str) -> bytes:
    """The bytes of ``net`` saved as ``kind``: ``"safetensors"`` (:func:`nnmath.io.save`) or
    ``"onnx"`` (:func:`nnmath.to_onnx`)."""
    with tempfile.TemporaryDirectory(prefix="nnmath-playground-") as folder:
        path = Path(folder) / f"model.{kind}"
        if kind == "safetensors":
            from ..io import save

            save(net, path)
        elif kind == "onnx" and has_onnx():
            _to_onnx()(net, path)
        else:
            raise ValueError(f"no export to {kind!r}: safetensors" + (", onnx" * has_onnx()))
        return path.read_bytes()


def history_csv(history: Any, speed: list[int] | None = None) -> str:
    """One row per epoch of fit's :class:`~nnmath.callbacks.History`: costs, accuracies,
    η and the speed of learning ‖∂C/∂b^l‖ of every layer (GradientTracker's, after the
    epoch, on the first 1,000 training rows); ``speed`` picks each layer's entry of the
    tracker's list (:class:`.layered.Plan`'s: β of a BatchNorm), all of them when None."""
    norms = history.extra.get("gradient_norms", {}).get("nabla_b", [])
    if speed is not None:
        norms = [[row[i] for i in speed] for row in norms]
    n_layers = len(norms[0]) if norms else 0
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(
        ["epoch", "training_cost", "training_accuracy", "test_cost", "test_accuracy", "eta"]
        + [f"speed_l{l + 2}" for l in range(n_layers)]
    )

    def at(values: list, i: int) -> Any:
        return repr(values[i]) if i < len(values) else ""

    for i in range(history.epochs):
        speeds = norms[i + 1] if i + 1 < len(norms) else [""] * n_layers
        w.writerow(
            [
                i + 1,
                at(history.training_cost, i),
                at(history.training_accuracy, i),
                at(history.validation_cost, i),
                at(history.validation_accuracy, i),
                at(history.extra.get("eta", []), i),
                *(repr(s) if s != "" else "" for s in speeds),
            ]
        )
    return out.getvalue()
