"""Rich display in notebooks: HTML (with inline SVG), LaTeX and Markdown of nnmath's objects.

Pure functions that take plain data or duck-typed objects and return strings; no plotting
library and no new dependency (numpy and the standard library's :mod:`html`). Every text is
escaped with ``html.escape``; a matrix is shown in full up to 8 × 8 and elided beyond (its
first rows and columns, ⋯, ⋮ and the last; the caption states the shape). The classes call
these from short ``_repr_html_`` / ``_repr_latex_`` / ``_repr_markdown_`` methods, which
Jupyter (IPython's ``DisplayFormatter``) picks up:

* :func:`network_html` — :class:`~nnmath.network.Network`: the layer table and a diagram
  (for a network of layers, its output shapes and parameter counts, and a diagram of
  feature-map blocks, :mod:`~nnmath.display.layer_svg`);
* :func:`history_html` — :class:`~nnmath.callbacks.History`: the curves and the epoch table;
* :func:`trace_html`, :func:`trace_latex` — :class:`~nnmath.diagnostics.Trace`: the forward
  pass with every ``w^l`` and ``b^l`` and the four backprop equations, filled in (a network
  of layers' trace, map by map: :mod:`~nnmath.display.layer_trace`);
* :func:`gradcheck_html`, :func:`factors_html`, :func:`summary_html` — the gradient check, the
  vanishing factors, a sweep's summary.
"""

from __future__ import annotations

from .history import history_html, history_markdown
from .network import network_html
from .svg import line_chart, network_diagram
from .tables import factors_html, gradcheck_html, summary_html, summary_markdown
from .trace import parameters_markdown, trace_html, trace_latex

__all__ = [
    "factors_html",
    "gradcheck_html",
    "history_html",
    "history_markdown",
    "line_chart",
    "network_diagram",
    "network_html",
    "parameters_markdown",
    "summary_html",
    "summary_markdown",
    "trace_html",
    "trace_latex",
]
