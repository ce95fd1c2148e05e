"""Rich displays of the diagnostics' tables and a sweep's summary: the gradient check
(:class:`~nnmath.diagnostics.GradCheck`), the vanishing-gradient factors
(:class:`~nnmath.diagnostics.VanishingFactors`) and :func:`nnmath.sweep.summarize`'s rows.

Each function takes the object duck-typed and returns HTML; the Markdown of the first two is
their own ``to_markdown()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._html import Markup, esc, math_html, num, table_html, wrap

__all__ = ["factors_html", "gradcheck_html", "summary_html", "summary_markdown"]


def gradcheck_html(check: Any) -> str:
    """The gradient check: each backprop quantity of each layer against central differences.

    A failing row is marked (class ``bad``); the caption gives ε, the tolerance and the floor
    of the relative error ``|analytic − numeric| / max(|analytic|, |numeric|, floor)``.
    """
    rows, classes = [], []
    for r in check.rows:
        rows.append(
            [
                Markup(math_html(r.quantity)),
                r.layer,
                f"{r.max_rel_error:.2e}",
                f"{r.max_abs_error:.2e}",
                r.n_checked,
                "yes" if r.ok else "NO",
            ]
        )
        classes.append("" if r.ok else "bad")
    verdict = "every equation agrees" if check.ok else "some equation disagrees"
    head = (
        f"<p><b>Gradient check</b> (float64 central differences): {esc(verdict)}; "
        f"largest relative error {check.max_error:.2e}</p>"
    )
    cap = f"ε = {check.eps:g}, tolerance {check.tol:g}, floor {check.floor:g}"
    table = table_html(
        ["quantity", "layer", "max relative error", "max absolute error", "entries", "ok"],
        rows,
        caption=cap,
        cls="nnmath-gradcheck",
        row_classes=classes,
    )
    return wrap(head + table, "gradcheck")


def _opt(v: float | None, fmt: str = ".3g") -> str:
    return "" if v is None else format(v, fmt)


def factors_html(f: Any) -> str:
    """Why δ^l shrinks: ``‖δ^l‖/‖δ^{l+1}‖ = weight factor × activation factor`` (BP2 split in
    two) per hidden layer, and the singular values of the layer Jacobians."""
    rows = [
        [
            x.layer,
            x.activation,
            f"{x.ratio:.3g}",
            f"{x.weight_factor:.3g}",
            f"{x.activation_factor:.3g}",
            f"{x.speed_ratio:.3g}",
            f"{x.mean_prime:.3g}",
            _opt(x.max_prime),
            f"{x.saturated:.1%}",
            _opt(x.ratio_bound),
        ]
        for x in f.layers
    ]
    head = (
        "<p><b>Vanishing factors</b>: "
        + math_html(
            "δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l), so ‖δ^l‖/‖δ^{l+1}‖ = weight factor × "
            "activation factor"
        )
        + "</p>"
    )
    table = table_html(
        [
            "l",
            "σ",
            "‖δ^l‖/‖δ^{l+1}‖",
            "weight factor",
            "activation factor",
            "speed ratio",
            "mean σ'(z^l)",
            "bound σ' ≤",
            "saturated",
            "max σ'·‖W^{l+1}‖₂",
        ],
        rows,
        cls="nnmath-factors",
    )
    numbers = getattr(f, "speed_layers", None) or range(2, len(f.speeds) + 2)
    speeds = "".join(
        f"<li>{math_html(f'‖∂C/∂b^{l}‖')} = {esc(num(s, 4))}</li>"
        for l, s in zip(numbers, f.speeds)
    )
    sv_rows = [
        [l, f"{s[0]:.3g}", f"{s[-1]:.3g}", f"{p[0]:.3g}", f"{p[-1]:.3g}"]
        for l, s, p in zip(f.jacobian_layers, f.jacobian_sv, f.product_sv)
    ]
    sv = ""
    if sv_rows:
        sv = table_html(
            ["l", "σ_max(J^l)", "σ_min(J^l)", "σ_max(J^L⋯J^l)", "σ_min(J^L⋯J^l)"],
            sv_rows,
            caption=f"singular values, mean over {f.n_jacobian_examples} examples",
            cls="nnmath-spectra",
        )
    return wrap(head + table + f"<p>Speeds of learning:</p><ul>{speeds}</ul>" + sv, "factors")


def _columns(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """(group columns, metrics): a metric is a name with both ``_mean`` and ``_std``."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    metrics = [k[:-5] for k in keys if k.endswith("_mean") and f"{k[:-5]}_std" in keys]
    taken = {f"{m}_mean" for m in metrics} | {f"{m}_std" for m in metrics}
    return [k for k in keys if k not in taken], metrics


def _mean_std(r: Mapping[str, Any], m: str) -> str:
    mean, std = r.get(f"{m}_mean"), r.get(f"{m}_std")
    if mean is None:
        return ""
    return num(mean, 4) if not std else f"{num(mean, 4)} ± {num(std, 2)}"


def summary_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """A sweep's summary: one row per group, each metric as ``mean ± std`` over its seeds."""
    if not rows:
        return wrap("<p><b>Sweep summary</b>: no rows</p>", "summary")
    groups, metrics = _columns(rows)
    body = [[*(r.get(g, "") for g in groups), *(_mean_std(r, m) for m in metrics)] for r in rows]
    head = (
        f"<p><b>Sweep summary</b>: {len(rows)} group{'s' if len(rows) != 1 else ''}, "
        "mean ± sample standard deviation over seeds</p>"
    )
    table = table_html([*groups, *metrics], body, cls="nnmath-summary")
    return wrap(head + table, "summary")


def summary_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """The same table in Markdown."""
    groups, metrics = _columns(rows)
    out = [
        "| " + " | ".join([*groups, *metrics]) + " |",
        "|---" * (len(groups) + len(metrics)) + "|",
    ]
    for r in rows:
        cells = [
            num(v) if isinstance(v, float) else str(r.get(g, ""))
            for g, v in ((g, r.get(g)) for g in groups)
        ]
        out.append("| " + " | ".join([*cells, *(_mean_std(r, m) for m in metrics)]) + " |")
    return "\n".join(out)
