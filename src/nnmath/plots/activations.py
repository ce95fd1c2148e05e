"""The lecture's activations σ(z) and their derivatives σ'(z), one figure.

Each panel draws one activation and its derivative with the lecture's formulas in the legend;
a last panel puts the five derivatives side by side, which shows why sigmoid networks suffer
from vanishing gradients: σ'(z) ≤ 1/4, and a product of such factors over many layers
(lecture: ∂C/∂b_1 = σ'(z_1) w_2 σ'(z_2) w_3 σ'(z_3) w_4 σ'(z_4) ∂C/∂a_4) shrinks quickly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import activations as A
from ._mpl import pyplot, save_figure

__all__ = ["ACTIVATION_PANELS", "plot_activations"]


@dataclass(frozen=True)
class _Panel:
    """One activation: σ, σ', and the lecture's formulas (matplotlib mathtext)."""

    title: str
    fn: Callable[[np.ndarray], np.ndarray]
    prime: Callable[[np.ndarray], np.ndarray]
    formula: str
    formula_prime: str


def _panels(alpha_leaky: float, alpha_elu: float) -> list[_Panel]:
    a_l, a_e = alpha_leaky, alpha_elu
    return [
        _Panel(
            "sigmoid",
            A.sigmoid,
            A.sigmoid_prime,
            r"$\sigma(z) = \dfrac{1}{1+e^{-z}}$",
            r"$\sigma'(z) = \sigma(z)\,(1-\sigma(z))$",
        ),
        _Panel(
            "tanh",
            A.tanh,
            A.tanh_prime,
            r"$\tanh z = \dfrac{e^z-e^{-z}}{e^z+e^{-z}}$",
            r"$\tanh' z = 1-\tanh^2 z$",
        ),
        _Panel("ReLU", A.relu, A.relu_prime, r"$\max(0, z)$", r"$1$ for $z>0$, $0$ otherwise"),
        _Panel(
            f"leaky ReLU (α = {a_l:g})",
            lambda z: A.leaky_relu(z, a_l),
            lambda z: A.leaky_relu_prime(z, a_l),
            r"$\alpha z$ ($z<0$), $z$ ($z\geq 0$)",
            r"$\alpha$ ($z<0$), $1$ ($z\geq 0$)",
        ),
        _Panel(
            f"ELU (α = {a_e:g})",
            lambda z: A.elu(z, a_e),
            lambda z: A.elu_prime(z, a_e),
            r"$\alpha(e^z-1)$ ($z\leq 0$), $z$ ($z>0$)",
            r"$\alpha e^z$ ($z\leq 0$), $1$ ($z>0$)",
        ),
    ]


#: names of the activations drawn, in panel order
ACTIVATION_PANELS: tuple[str, ...] = ("sigmoid", "tanh", "relu", "leaky_relu", "elu")


def _break_jumps(y: np.ndarray, jump: float = 0.2) -> np.ndarray:
    """Put NaN where consecutive samples jump (ReLU' at 0) so no vertical line is drawn."""
    y = y.astype(float).copy()
    gaps = np.flatnonzero(np.abs(np.diff(y)) > jump)
    y[gaps] = np.nan
    return y


def plot_activations(
    z_min: float = -5.0,
    z_max: float = 5.0,
    *,
    alpha_leaky: float = 0.1,
    alpha_elu: float = 1.0,
    n_points: int = 1001,
    figsize: tuple[float, float] = (12.0, 7.0),
    path: str | os.PathLike[str] | None = None,
    dpi: int = 100,
) -> Any:
    """Draw σ(z) and σ'(z) for sigmoid, tanh, ReLU, leaky ReLU and ELU, plus all σ' together.

    The curves are computed with :mod:`nnmath.activations` (the functions the networks use).
    The sigmoid's bound σ'(z) ≤ σ'(0) = 1/4 is marked.

    Parameters
    ----------
    z_min, z_max : float
        Range of ``z`` on the horizontal axis.
    alpha_leaky : float
        Slope α of leaky ReLU for z < 0. The default 0.1 (not the library's 0.01) makes the
        slope visible; the panel title shows the value used.
    alpha_elu : float
        α of ELU.
    n_points : int
        Samples of ``z``.
    figsize : (float, float)
        Figure size in inches; a saved PNG is ``figsize × dpi`` pixels.
    path : path-like, optional
        Also save the figure there (format from the suffix, ``.png`` or ``.svg``), atomically.
    dpi : int
        Resolution of a saved raster image.

    Returns
    -------
    matplotlib.figure.Figure
        A 2 × 3 grid of axes (closed when saved to ``path``).
    """
    if not z_min < z_max:
        raise ValueError(f"z_min must be below z_max, got z_min={z_min}, z_max={z_max}")
    if n_points < 2:
        raise ValueError(f"n_points must be at least 2, got {n_points}")
    plt = pyplot()
    z = np.linspace(z_min, z_max, int(n_points))
    fig, axes = plt.subplots(2, 3, figsize=figsize, layout="constrained")
    panels = _panels(alpha_leaky, alpha_elu)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, panel in zip(axes.flat, panels, strict=False):
        ax.plot(z, panel.fn(z), color=colors[0], lw=2, label=panel.formula)
        ax.plot(
            z,
            _break_jumps(panel.prime(z)),
            color=colors[1],
            lw=2,
            ls="--",
            label=panel.formula_prime,
        )
        ax.set_title(panel.title)
        _decorate(ax)
        ax.legend(
            loc="upper left" if panel.title != "tanh" else "lower right", fontsize=9, framealpha=0.9
        )
    _mark_quarter(axes.flat[0], z_min)
    _plot_all_primes(axes.flat[5], z, panels, colors[2:] + colors[:2])
    fig.suptitle("Activations σ(z) (solid) and derivatives σ'(z) (dashed)", fontsize=13)
    if path is not None:
        save_figure(fig, path, dpi=dpi, tight=False)
    return fig


def _plot_all_primes(ax: Any, z: np.ndarray, panels: Sequence[Any], colors: list[str]) -> None:
    """The last panel: every σ'(z) on one axis, with the sigmoid's bound 1/4."""
    styles = [("-", 2.0), ("-", 2.0), ("-", 4.0), ("--", 2.0), ("-.", 2.0)]
    for color, (ls, lw), panel in zip(colors, styles, panels, strict=False):
        ax.plot(
            z,
            _break_jumps(panel.prime(z)),
            ls=ls,
            lw=lw,
            color=color,
            alpha=0.85,
            label=panel.title.split(" (")[0] + "'",
        )
    ax.set_title("all derivatives σ'(z)")
    _decorate(ax)
    ax.axhline(0.25, color="0.3", lw=0.8, ls=":")
    ax.text(z[-1], 0.27, "1/4", ha="right", va="bottom", fontsize=9, color="0.3")
    ax.legend(loc="upper left", fontsize=9, framealpha=0.9)


def _decorate(ax: Any) -> None:
    ax.axhline(0, color="0.6", lw=0.6)
    ax.axvline(0, color="0.6", lw=0.6)
    ax.set_xlabel("z")
    ax.grid(alpha=0.3)


def _mark_quarter(ax: Any, z_min: float) -> None:
    """Mark the sigmoid's largest slope σ'(0) = 1/4."""
    ax.axhline(0.25, color="0.3", lw=0.8, ls=":")
    ax.plot([0.0], [0.25], "o", color="black", ms=4)
    ax.annotate(
        r"$\max\,\sigma' = \sigma'(0) = 1/4$",
        xy=(0.0, 0.25),
        xytext=(0.55, 0.4),
        textcoords="axes fraction",
        fontsize=9,
        arrowprops={"arrowstyle": "->", "color": "0.3"},
    )
