"""``nnmath playground``: the lecture in the browser, every number computed by nnmath.

A local web application (Starlette on uvicorn; the extra ``nnmath[playground]``) in which a
small network trains on 2-D data (or a function of one input, Nielsen's chapter 4) while the
page shows its decision regions (or its output curve or surface), every unit's output, its
weights, the costs and accuracies, and the speed of learning ‖∂C/∂b^l‖ of every layer;
clicking a point shows its forward and backward pass in the lecture's notation. It plays at
a chosen pace (epochs a second), takes a new η, λ, mini-batch or dropout without losing its
weights, and says when a run has diverged. The page only draws: training is
:meth:`Network.fit` in a worker thread per tab (:mod:`.session`, :mod:`.training`), the views
are computed in :mod:`.snapshot`, and a snapshot is sent only once the page has drawn the
last (:mod:`.flow`).

* :mod:`.toy` — the toy data sets (:data:`TOY_DATASETS`, ``REGRESSION_DATASETS``), the split;
* :mod:`.features` — the input features (x₁, x₂, x₁², x₂², x₁x₂, sin πx₁, sin πx₂);
* :mod:`.upload` — a user's CSV, checked;
* :mod:`.config` — a run's configuration, checked against the registries and :data:`LIMITS`;
* :mod:`.snapshot`, :mod:`.session`, :mod:`.export` — the views, the run, the downloads;
* :mod:`.server`, :mod:`.serve` — the ASGI application and its start.
"""

from __future__ import annotations

from typing import Any

from .config import LIMITS, Config, ConfigError, Limits, parse_config
from .toy import TOY_DATASETS, make_toy

__all__ = [
    "LIMITS",
    "Limits",
    "Config",
    "ConfigError",
    "parse_config",
    "TOY_DATASETS",
    "make_toy",
    "create_app",
]


def create_app(*, port: int, **options: Any):  # noqa: ANN201
    """The ASGI application for a server on ``port``
    (:func:`nnmath.playground.server.create_app`, which takes the same ``options``);
    imports Starlette only when called."""
    from .server import create_app as _create

    return _create(port=port, **options)
