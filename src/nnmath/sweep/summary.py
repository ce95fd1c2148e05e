"""A sweep's rows aggregated over seeds: mean and standard deviation of every metric."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .spec import PARAMETERS
from .table import JSON_COLUMNS

__all__ = ["Summary", "summarize"]

_NOT_METRICS = {"key", "seed_index", "worker", "wall_time", *JSON_COLUMNS}


class Summary(list):  # type: ignore[type-arg]
    """:func:`summarize`'s rows: a plain list of dicts that a notebook shows as a table."""

    def _repr_html_(self) -> str:
        from ..display import summary_html

        return summary_html(self)

    def _repr_markdown_(self) -> str:
        from ..display import summary_markdown

        return summary_markdown(self)


def summarize(
    rows: Sequence[Mapping[str, Any]],
    by: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Aggregate the rows over seeds: mean and standard deviation of every metric.

    Parameters
    ----------
    rows : sequence of dict
        Rows of a results table.
    by : sequence of str, optional
        Grouping columns; default every parameter column that takes more than one value.
    metrics : sequence of str, optional
        Default: every numeric column that is not a parameter (``training_cost``,
        ``validation_accuracy``, ``test_accuracy``, ``speed_l1`` …, ``wall_time``).

    Returns
    -------
    Summary (a list of dict)
        One per group, in first-seen order: the group's values, ``n`` (rows), and for each
        metric ``<metric>_mean`` and ``<metric>_std`` (sample standard deviation, 0 for one
        row; missing values are left out).
    """
    if not rows:
        return Summary()
    params = ["measure", "dataset", "subset", *PARAMETERS]
    if by is None:
        by = [p for p in params if len({r.get(p) for r in rows}) > 1]
    if metrics is None:
        metrics = [
            c for c in rows[0] if c not in params and c not in _NOT_METRICS and c != "diverged"
        ]
        metrics += [c for r in rows for c in r if c.startswith("speed_l") and c not in metrics]
        metrics.append("wall_time")
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(b) for b in by), []).append(r)
    out = []
    for values, members in groups.items():
        g: dict[str, Any] = dict(zip(by, values, strict=True))
        g["n"] = len(members)
        g["diverged"] = sum(bool(m.get("diverged")) for m in members)
        for m in metrics:
            xs = [
                float(v)
                for v in (r.get(m) for r in members)
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            ]
            g[f"{m}_mean"] = float(np.mean(xs)) if xs else None
            g[f"{m}_std"] = float(np.std(xs, ddof=1)) if len(xs) > 1 else (0.0 if xs else None)
        out.append(g)
    return Summary(out)
