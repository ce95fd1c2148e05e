"""Diagnostics: per-layer gradient norms ("speed of learning") and vanishing-gradient measures.

Everything here reads the lecture's quantities layer by layer: ``z^l``, ``a^l``, ``δ^l``,
``∂C/∂b^l`` and ``∂C/∂w^l``. Layers are numbered as in the lecture when shown to a person
(``a^1 = x`` is the input, ``l = 2, …, L``); in lists and arrays the first entry is the first
layer of weights (the lecture's ``l = 2``, code index ``i = l − 2``). One job a module:

* :mod:`~nnmath.diagnostics.norms` — :func:`gradient_norms` and :class:`GradientTracker`:
  ‖∂C/∂b^l‖ and ‖∂C/∂w^l‖, once or during :func:`nnmath.train.fit` (``track_gradients=``).
* :mod:`~nnmath.diagnostics.layers` — :func:`layer_statistics`: per layer the speeds, mean
  σ'(z^l), saturated and dead units, and the arrays W, z, a, δ, σ' (what training views plot).
* :mod:`~nnmath.diagnostics.histograms` — fixed-bin histograms of z^l, a^l, δ^l and the
  percentiles of z^l over training (:func:`z_percentiles`, :func:`histogram_counts` read what
  ``fit(track_histograms=True)`` recorded).
* :mod:`~nnmath.diagnostics.updates` — the update-to-data ratio ‖Δw^l‖/‖w^l‖
  (:func:`update_ratios`; :func:`probe_step_ratios`: one real step, on copies).
* :mod:`~nnmath.diagnostics.factors` — :func:`vanishing_factors`: why it vanishes, split
  into the weight and the activation factor.
* :mod:`~nnmath.diagnostics.chain` — :func:`scalar_chain`: the lecture's
  1-neuron-per-layer network and its product formula.
* :mod:`~nnmath.diagnostics.gradcheck` — :func:`gradcheck`: each backprop equation against
  central differences in float64.
* :mod:`~nnmath.diagnostics.trace` — :func:`trace`: one example's backward pass, as Markdown
  or LaTeX.

Each takes a network of layers (:mod:`nnmath.layers`) too; its layers are numbered by their
position in ``net.layers`` (the Input is ``l = 1``), and the statistics list the layers with
parameters (:mod:`~nnmath.diagnostics._gradcheck_layers`, ``_trace_layers``,
``_factors_layers`` hold what is particular to them).
"""

from __future__ import annotations

from .chain import ScalarChain, scalar_chain
from .factors import LayerFactors, VanishingFactors, vanishing_factors
from .gradcheck import GradCheck, GradCheckRow, forward_from, gradcheck
from .histograms import histogram_counts, z_percentiles
from .layers import LayerStatistics, layer_statistics
from .norms import GradientNorms, GradientTracker, gradient_norms
from .trace import LayerTrace, Trace, trace
from .updates import probe_step_ratios, update_ratios

__all__ = [
    "GradientNorms",
    "gradient_norms",
    "GradientTracker",
    "LayerStatistics",
    "layer_statistics",
    "histogram_counts",
    "z_percentiles",
    "update_ratios",
    "probe_step_ratios",
    "LayerFactors",
    "VanishingFactors",
    "vanishing_factors",
    "ScalarChain",
    "scalar_chain",
    "GradCheckRow",
    "GradCheck",
    "gradcheck",
    "forward_from",
    "LayerTrace",
    "Trace",
    "trace",
]
