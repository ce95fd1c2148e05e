"""One example's forward and backward pass, every lecture quantity per layer, in Markdown or
LaTeX."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ._float64 import as_float64

__all__ = ["LayerTrace", "Trace", "trace"]


@dataclass
class LayerTrace:
    """One layer of one example's forward and backward pass (lecture numbering)."""

    layer: int
    activation: str
    z: list[float]
    a: list[float]
    delta: list[float]
    nabla_b: list[float]
    nabla_w: list[list[float]]


@dataclass
class Trace:
    """The backward pass of one example in lecture notation; see :func:`trace`.

    Attributes
    ----------
    x : list of float
        ``a^1 = x``.
    y : list of float
    cost : float
        C_x.
    cost_name : str
    layers : list of LayerTrace
        ``l = 2, …, L``.
    """

    x: list[float]
    y: list[float]
    cost: float
    cost_name: str
    layers: list[LayerTrace]
    digits: int = 4

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _fmt(self, v: float) -> str:
        return f"{v:.{self.digits}g}"

    def _vec(self, v: Sequence[float]) -> str:
        return "[" + ", ".join(self._fmt(t) for t in v) + "]"

    def to_markdown(self) -> str:
        """One row per layer: z^l, a^l, δ^l, ∂C/∂b^l, ∂C/∂w^l (matrix rows separated by ';')."""
        L = len(self.layers) + 1
        lines = [
            f"a^1 = x = {self._vec(self.x)}, y = {self._vec(self.y)}, "
            f"C = {self._fmt(self.cost)} ({self.cost_name}), L = {L}",
            "",
            "| l | σ | z^l | a^l | δ^l | ∂C/∂b^l | ∂C/∂w^l |",
            "|---|---|---|---|---|---|---|",
        ]
        for t in self.layers:
            w = "[" + "; ".join(", ".join(self._fmt(v) for v in r) for r in t.nabla_w) + "]"
            lines.append(
                f"| {t.layer} | {t.activation} | {self._vec(t.z)} | {self._vec(t.a)} "
                f"| {self._vec(t.delta)} | {self._vec(t.nabla_b)} | {w} |"
            )
        lines += [
            "",
            "δ^L = ∇_a C ⊙ σ'(z^L); δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l); "
            "∂C/∂b^l = δ^l; ∂C/∂w^l = δ^l (a^{l−1})ᵀ.",
        ]
        return "\n".join(lines)

    def _col(self, v: Sequence[float]) -> str:
        return r"\begin{pmatrix}" + r" \\ ".join(self._fmt(t) for t in v) + r"\end{pmatrix}"

    def _mat(self, M: Sequence[Sequence[float]]) -> str:
        body = r" \\ ".join(" & ".join(self._fmt(v) for v in r) for r in M)
        return r"\begin{pmatrix}" + body + r"\end{pmatrix}"

    def to_latex(self) -> str:
        """An ``align*`` environment: every z^l, a^l, δ^l, ∂C/∂b^l, ∂C/∂w^l, top to bottom."""
        L = len(self.layers) + 1
        out = [
            r"\begin{align*}",
            rf"a^{{1}} = x &= {self._col(self.x)}, \quad "
            rf"y = {self._col(self.y)}, \quad C = {self._fmt(self.cost)} \\",
        ]
        for t in self.layers:
            l = t.layer
            out.append(
                rf"z^{{{l}}} &= w^{{{l}}} a^{{{l - 1}}} + b^{{{l}}} = {self._col(t.z)}, "
                rf"\quad a^{{{l}}} = \sigma(z^{{{l}}}) = {self._col(t.a)} \\"
            )
        for t in reversed(self.layers):
            l = t.layer
            if l == L:
                rule = rf"\nabla_a C \odot \sigma'(z^{{{L}}})"
            else:
                rule = rf"((w^{{{l + 1}}})^T \delta^{{{l + 1}}}) \odot \sigma'(z^{{{l}}})"
            out.append(
                rf"\delta^{{{l}}} &= {rule} = {self._col(t.delta)} = "
                rf"\frac{{\partial C}}{{\partial b^{{{l}}}}} \\"
            )
            out.append(
                rf"\frac{{\partial C}}{{\partial w^{{{l}}}}} &= \delta^{{{l}}} "
                rf"(a^{{{l - 1}}})^T = {self._mat(t.nabla_w)} \\"
            )
        out[-1] = out[-1].rstrip(" \\")
        out.append(r"\end{align*}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_markdown()


def trace(net: Any, x: Any, y: Any, digits: int = 4) -> Trace:
    """Forward and backward pass of one example, every lecture quantity per layer.

    Parameters
    ----------
    net : Network
    x : array-like, shape (sizes[0],) or (1, sizes[0])
    y : array-like, shape (sizes[-1],), (1, sizes[-1]), or an integer label
    digits : int
        Significant digits when printed.

    Returns
    -------
    Trace
        ``.to_markdown()`` and ``.to_latex()``.
    """
    X = np.asarray(x, dtype=np.float64).reshape(1, -1)
    Yarr = np.asarray(y)
    Yarr = Yarr.reshape(1) if Yarr.ndim == 0 else Yarr.reshape(1, -1)
    net64 = as_float64(net)
    X = net64._inputs(X)
    Y = net64._targets(Yarr, 1)
    g = net64.backprop(X, Y)
    c = float(net64.cost_function.fn(g.activations[-1], Y.T)[0])
    layers = [
        LayerTrace(
            layer=i + 2,
            activation=getattr(act, "name", "custom"),
            z=g.zs[i][:, 0].tolist(),
            a=g.activations[i + 1][:, 0].tolist(),
            delta=g.deltas[i][:, 0].tolist(),
            nabla_b=np.asarray(g.nabla_b[i]).tolist(),
            nabla_w=np.asarray(g.nabla_w[i]).tolist(),
        )
        for i, act in enumerate(net64.activation_functions)
    ]
    return Trace(
        x=X[0].tolist(),
        y=Y[0].tolist(),
        cost=c,
        cost_name=net64.cost_name,
        layers=layers,
        digits=digits,
    )
