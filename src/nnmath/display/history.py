"""The rich display of a training :class:`~nnmath.callbacks.History`: the curves as inline SVG
charts (cost, accuracy, and the speed of learning ‖∂C/∂b^l‖ of every layer when it was
tracked) and the per-epoch table."""

from __future__ import annotations

from typing import Any

from ._html import Markup, elided, esc, table_html, wrap
from .svg import line_chart

__all__ = ["history_columns", "history_html", "history_markdown"]

#: History attribute -> column title, in the order shown
_CURVES = {
    "training_cost": "training cost",
    "validation_cost": "validation cost",
    "training_accuracy": "training accuracy",
    "validation_accuracy": "validation accuracy",
}
MAX_EPOCH_ROWS = 12


def history_columns(h: Any) -> dict[str, list[Any]]:
    """Column title -> per-epoch values: the non-empty curves, η and the epoch time."""
    cols: dict[str, list[Any]] = {}
    for attr, title in _CURVES.items():
        vs = list(getattr(h, attr, []) or [])
        if vs:
            cols[title] = vs
    eta = (getattr(h, "extra", {}) or {}).get("eta")
    if isinstance(eta, list) and eta:
        cols["η"] = eta
    times = list(getattr(h, "epoch_time", []) or [])
    if times:
        cols["seconds"] = times
    return cols


def _speed_chart(h: Any) -> str:
    norms = (getattr(h, "extra", {}) or {}).get("gradient_norms")
    if not isinstance(norms, dict) or not norms.get("nabla_b"):
        return ""
    nb = norms["nabla_b"]
    x = norms.get("epoch", list(range(len(nb))))
    series = {f"layer {i + 2}": [row[i] for row in nb] for i in range(len(nb[0]))}
    return line_chart(series, "speed of learning ‖∂C/∂b^l‖", x=x, log=True)


def _charts(h: Any) -> str:
    costs = {t: getattr(h, a) for a, t in _CURVES.items() if "cost" in a and getattr(h, a, None)}
    accs = {t: getattr(h, a) for a, t in _CURVES.items() if "acc" in a and getattr(h, a, None)}
    parts = [line_chart(costs, "cost")] if costs else []
    if accs:
        parts.append(line_chart(accs, "accuracy"))
    parts.append(_speed_chart(h))
    return '<div class="eq">' + "".join(parts) + "</div>"


def history_html(h: Any) -> str:
    """HTML of a history: a summary line, the charts and the epoch table (a long run shows its
    first and last epochs; the caption says how many were left out).

    Parameters
    ----------
    h : History (duck-typed: the per-epoch lists, ``best_epoch``, ``stopped_early``, ``extra``)

    Returns
    -------
    str
    """
    cols = history_columns(h)
    n = len(getattr(h, "training_cost", []) or [])
    best = getattr(h, "best_epoch", None)
    line = f"<p><b>History</b>: {n} epoch{'s' if n != 1 else ''}"
    if best is not None:
        line += f", best validation score after epoch {best + 1}"
    if getattr(h, "stopped_early", False):
        line += ", stopped early"
    path = (getattr(h, "extra", {}) or {}).get("train_path")
    if path:
        line += f", trained on the {esc(path)} path"
    line += "</p>"
    if not n:
        return wrap(line, "history")
    shown = elided(n, MAX_EPOCH_ROWS)
    rows, classes = [], []
    for e in shown:
        if e is None:
            rows.append([Markup("⋮")] * (len(cols) + 1))
            classes.append("")
            continue
        rows.append([e + 1, *(vs[e] if e < len(vs) else None for vs in cols.values())])
        classes.append("best" if e == best else "")
    cap = None if None not in shown else f"{n} epochs, {n - len(shown) + 1} not shown"
    table = table_html(
        ["epoch", *cols], rows, caption=cap, cls="nnmath-history", row_classes=classes
    )
    return wrap(line + _charts(h) + table, "history")


def history_markdown(h: Any) -> str:
    """The epoch table as Markdown (every epoch)."""
    cols = history_columns(h)
    out = ["| epoch | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    n = len(getattr(h, "training_cost", []) or [])
    for e in range(n):
        cells = [f"{vs[e]:.6g}" if e < len(vs) else "" for vs in cols.values()]
        out.append(f"| {e + 1} | " + " | ".join(cells) + " |")
    return "\n".join(out)
