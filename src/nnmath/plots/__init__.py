"""Matplotlib figures. matplotlib is imported only inside the plotting functions (Agg backend
when no display is set), so ``import nnmath`` never pays for it.

Each function returns a ``matplotlib.figure.Figure`` and, given ``path=``, also saves it
(format from the suffix, ``.png`` or ``.svg``) atomically:

- :func:`plot_activations`: the lecture's activations σ(z) and derivatives σ'(z);
- :func:`plot_learning_curves`: cost and accuracy per epoch from a ``History``;
- :func:`plot_confusion_matrix` (and the array :func:`confusion_matrix`);
- :func:`plot_misclassified`: a grid of misclassified images (``Dataset.image_shape``);
- :func:`plot_filters`, :func:`plot_feature_maps` (also ``filters``, ``feature_maps``): a
  convolution's learned kernels and one example's feature maps (Nielsen, chapter 6);
- :func:`plot_histograms` (also ``histograms``): per layer the distribution of a^l (z^l, δ^l)
  over the epochs, the percentiles of z^l, and the update-to-data ratio ‖Δw^l‖/‖w^l‖.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> module of this package that defines it (imported on first use)
_EXPORTS: dict[str, str] = {
    "plot_activations": "activations",
    "plot_learning_curves": "training",
    "plot_confusion_matrix": "training",
    "plot_misclassified": "training",
    "confusion_matrix": "training",
    "save_figure": "_mpl",
    "plot_filters": "convolution",
    "plot_feature_maps": "convolution",
    "filters": "convolution",
    "feature_maps": "convolution",
    "plot_histograms": "histograms",
    "histograms": "histograms",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
