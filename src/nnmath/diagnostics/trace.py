"""One example's forward and backward pass, every lecture quantity per layer, in Markdown or
LaTeX."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..display import parameters_markdown, trace_html, trace_latex
from ..display.layer_trace import layer_trace_html, layer_trace_latex, layer_trace_markdown
from ..display.trace import md_matrix
from ._float64 import as_float64
from ._trace_layers import layer_traces

__all__ = ["LayerTrace", "Trace", "trace"]


@dataclass
class LayerTrace:
    """One layer of one example's forward and backward pass (lecture numbering).

    ``W`` (``(n_l, n_{l−1})``) and ``b`` are the layer's parameters, so that
    ``z = W a^{l−1} + b`` can be checked by hand; ``sigma_prime`` is σ'(z^l) (empty for
    softmax, whose σ' is a Jacobian).

    In a network of layers every array keeps its layer's shape (a convolution's ``z``,
    ``a``, ``delta`` are ``(out, Ho, Wo)``: one matrix per feature map; its ``W`` and
    ``nabla_w`` ``(out, in, k, k)``: one kernel per pair of maps), ``W``, ``b``, ``nabla_w``,
    ``nabla_b`` are empty for a layer without parameters, and ``kind`` (the layer, as
    ``repr``), ``shape`` (its output shape), ``g = ∂C/∂a^{l−1}`` (what its backward pass hands
    down) and, for a max-pooling, ``routing`` (``(C, Ho, Wo, 2)``: the row and column of
    ``a^{l−1}`` each window's δ went to, its arg-max) are set. A residual block's ``g`` is
    the sum of ``g_identity`` (``δ^l`` itself, the skip path) and ``g_F`` (``J_Fᵀ δ^l``, F's
    path), and ``inner`` holds its layers' traces (``layer`` ``"l.1"``, ``"l.2"``, …); ``prev``
    is the label of the layer whose ``a`` a layer reads (``l − 1`` but for F's layers).
    """

    layer: int | str
    activation: str
    z: list[float]
    a: list[float]
    delta: list[float]
    nabla_b: list[float]
    nabla_w: list[list[float]]
    W: list[list[float]] = field(default_factory=list)
    b: list[float] = field(default_factory=list)
    sigma_prime: list[float] = field(default_factory=list)
    kind: str = ""
    shape: list[int] = field(default_factory=list)
    g: list[Any] = field(default_factory=list)
    routing: list[Any] = field(default_factory=list)
    g_identity: list[Any] = field(default_factory=list)
    g_F: list[Any] = field(default_factory=list)
    inner: list[LayerTrace] = field(default_factory=list)
    prev: int | str | None = None


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
    grad_a : list of float
        ∇_a C = ∂C/∂a^L, the cost's derivative (BP1).
    x_shape : list of int
        The input's shape for a network of layers (``[C, H, W]``; ``x`` is then flat);
        empty for a dense network.
    """

    x: list[float]
    y: list[float]
    cost: float
    cost_name: str
    layers: list[LayerTrace]
    digits: int = 4
    grad_a: list[float] = field(default_factory=list)
    x_shape: list[int] = field(default_factory=list)

    @property
    def layered(self) -> bool:
        """Whether this is the trace of a network of layers (:mod:`nnmath.layers`)."""
        return bool(self.layers) and bool(self.layers[0].kind)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _fmt(self, v: float) -> str:
        return f"{v:.{self.digits}g}"

    def _vec(self, v: Sequence[float]) -> str:
        return "[" + ", ".join(self._fmt(t) for t in v) + "]"

    def to_markdown(self) -> str:
        """One row per layer: z^l, a^l, δ^l, ∂C/∂b^l, ∂C/∂w^l (matrix rows separated by ';');
        for a network of layers, each layer's equations with its arrays, map by map."""
        if self.layered:
            return layer_trace_markdown(self)
        L = len(self.layers) + 1
        lines = [
            f"a^1 = x = {self._vec(self.x)}, y = {self._vec(self.y)}, "
            f"C = {self._fmt(self.cost)} ({self.cost_name}), L = {L}",
            "",
            "| l | σ | z^l | a^l | δ^l | ∂C/∂b^l | ∂C/∂w^l |",
            "|---|---|---|---|---|---|---|",
        ]
        for t in self.layers:
            w = md_matrix(t.nabla_w, self.digits)  # elided beyond 8 × 8
            lines.append(
                f"| {t.layer} | {t.activation} | {self._vec(t.z)} | {self._vec(t.a)} "
                f"| {self._vec(t.delta)} | {self._vec(t.nabla_b)} | {w} |"
            )
        lines += parameters_markdown(self)
        lines += [
            "",
            "δ^L = ∇_a C ⊙ σ'(z^L); δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l); "
            "∂C/∂b^l = δ^l; ∂C/∂w^l = δ^l (a^{l−1})ᵀ.",
        ]
        return "\n".join(lines)

    def to_latex(self) -> str:
        """An ``align*`` environment: x, y and C; every ``z^l = w^l a^{l−1} + b^l`` with w^l and
        b^l filled in, ``a^l = σ(z^l)``; then BP1–BP4 with their numbers, output layer first."""
        return layer_trace_latex(self) if self.layered else trace_latex(self)

    def _repr_html_(self) -> str:
        return layer_trace_html(self) if self.layered else trace_html(self)

    def _repr_latex_(self) -> str:
        if self.layered:
            return "$$" + layer_trace_latex(self, env="aligned") + "$$"
        return "$$" + trace_latex(self, env="aligned") + "$$"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_markdown()


def trace(net: Any, x: Any, y: Any, digits: int = 4) -> Trace:
    """Forward and backward pass of one example, every lecture quantity per layer.

    Parameters
    ----------
    net : Network
        Dense or of layers (then every layer is traced, pooling and Flatten included).
    x : array-like, shape (sizes[0],) or (1, sizes[0]) (or one image ``(C, H, W)``)
    y : array-like, shape (sizes[-1],), (1, sizes[-1]), or an integer label (also as a
        one-element array, ``np.array([3])``)
    digits : int
        Significant digits when printed.

    Returns
    -------
    Trace
        ``.to_markdown()`` and ``.to_latex()``.
    """
    X = np.asarray(x, dtype=np.float64).reshape(1, -1)  # an image (C, H, W) too
    Yarr = np.asarray(y)
    label = Yarr.ndim == 0 or (Yarr.size == 1 and net.sizes[-1] > 1)  # 3, [3], np.array([3])
    Yarr = Yarr.reshape(1) if label else Yarr.reshape(1, -1)
    net64 = as_float64(net)
    X = net64.check_inputs(X)
    Y = net64.check_targets(Yarr, 1)
    if getattr(net64, "layered", False):  # one example: a BatchNorm in inference form
        g = net64.backprop_columns(X.T, Y.T, training=False)
    else:
        g = net64.backprop(X, Y)
    c = float(net64.cost_function.fn(g.activations[-1], Y.T)[0])
    if getattr(net64, "layered", False):
        layers = layer_traces(net64, X.T, Y.T, LayerTrace)
    else:
        layers = _dense_traces(net64, g)
    return Trace(
        x=X[0].tolist(),
        y=Y[0].tolist(),
        cost=c,
        cost_name=net64.cost_name,
        layers=layers,
        digits=digits,
        grad_a=net64.cost_function.derivative(g.activations[-1], Y.T)[:, 0].tolist(),
        x_shape=list(net64.layers[0].shape) if getattr(net64, "layered", False) else [],
    )


def _dense_traces(net64: Any, g: Any) -> list[LayerTrace]:
    """One :class:`LayerTrace` per layer of weights of the dense float64 ``net64``."""
    return [
        LayerTrace(
            layer=i + 2,
            activation=getattr(act, "name", "custom"),
            z=g.zs[i][:, 0].tolist(),
            a=g.activations[i + 1][:, 0].tolist(),
            delta=g.deltas[i][:, 0].tolist(),
            nabla_b=np.asarray(g.nabla_b[i]).tolist(),
            nabla_w=np.asarray(g.nabla_w[i]).tolist(),
            W=np.asarray(net64.weights[i]).tolist(),
            b=np.asarray(net64.biases[i]).tolist(),
            sigma_prime=act.prime(g.zs[i])[:, 0].tolist() if act.elementwise else [],
        )
        for i, act in enumerate(net64.activation_functions)
    ]
