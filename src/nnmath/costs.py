"""Cost functions C(ŷ) with ``fn(a, y)`` and ``delta(z, a, y, activation)``.

Each cost gives

* ``fn(a, y)``: the cost of every example (columns of ``a`` and ``y``), shape ``(m,)``;
* ``derivative(a, y)``: ∂C/∂a^L, shape ``(n_L, m)``;
* ``delta(z, a, y, activation)``: the output error of the lecture,
  ``δ^L = ∂C/∂a^L ⊙ σ'(z^L)`` for an element-wise σ, or ``Jᵀ ∂C/∂a^L`` with softmax's
  Jacobian ``J``. Two pairs have a well-known shortcut ``δ^L = a − y`` that skips the
  division by ``a(1 − a)`` (sigmoid + cross-entropy) or the Jacobian (softmax +
  log-likelihood); ``delta`` takes it automatically unless ``fused=False``.
"""

from __future__ import annotations

from typing import Any

from .activations import Activation
from .backend import get_namespace

__all__ = [
    "Cost",
    "QuadraticCost",
    "CrossEntropyCost",
    "LogLikelihoodCost",
    "COSTS",
    "get_cost",
]


def _clip_probabilities(a: Any) -> Any:
    """Keep ``a`` inside (0, 1) so that ``ln a`` and ``ln(1 − a)`` stay finite."""
    xp = get_namespace(a)
    eps = float(xp.finfo(a.dtype).eps)
    return xp.clip(a, eps, 1.0 - eps)


class Cost:
    """The cost protocol: ``fn(a, y)``, ``derivative(a, y)`` and ``delta(z, a, y, activation)``."""

    name: str = "cost"
    #: the output activation for which ``delta`` has the fused form δ^L = a − y
    fused_activation: str | None = None
    #: built-in output activations whose values this cost is defined for (None: any); a cost
    #: of probabilities (ln a) is meaningless for outputs outside (0, 1)
    output_activations: frozenset[str] | None = None

    def fn(self, a: Any, y: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, a: Any, y: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def delta(self, z: Any, a: Any, y: Any, activation: Activation, fused: bool = True) -> Any:
        """δ^L = ∂C/∂z^L = ∂C/∂a^L ⊙ σ'(z^L) (or Jᵀ ∂C/∂a^L for softmax).

        Parameters
        ----------
        z, a : arrays, shape (n_L, m)
            z^L and a^L = σ(z^L) of the output layer, one column per example.
        y : array, shape (n_L, m)
            Targets.
        activation : Activation
            The output layer's σ.
        fused : bool
            Use the shortcut δ^L = a − y where this cost has one for ``activation``.

        Returns
        -------
        delta : array, shape (n_L, m)
        """
        if fused and activation.name == self.fused_activation:
            return a - y
        return activation.vjp(z, a, self.derivative(a, y))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cost) and self.name == other.name

    def __hash__(self) -> int:
        return hash(self.name)


class QuadraticCost(Cost):
    """C = ½ ‖a − y‖²; ∂C/∂a = a − y; δ^L = (a − y) ⊙ σ'(z^L)."""

    name = "quadratic"

    def fn(self, a: Any, y: Any) -> Any:
        """½ Σ_j (a_j − y_j)² for each column; shape (m,)."""
        xp = get_namespace(a)
        d = a - y
        return 0.5 * xp.sum(d * d, axis=0)

    def derivative(self, a: Any, y: Any) -> Any:
        """∂C/∂a = a − y."""
        return a - y


class CrossEntropyCost(Cost):
    """C = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)].

    ∂C/∂a = (a − y) / (a (1 − a)). With a sigmoid output σ'(z) = a(1 − a) cancels and
    δ^L = a − y: ``z`` is not needed at all, which is why the fused form ignores it and why
    the cost removes the learning slow-down of saturated sigmoid outputs (Nielsen, ch. 3).
    """

    name = "cross_entropy"
    fused_activation = "sigmoid"
    output_activations = frozenset({"sigmoid", "softmax"})

    def fn(self, a: Any, y: Any) -> Any:
        """−Σ_j [y_j ln a_j + (1−y_j) ln(1−a_j)] for each column (a clipped into (0, 1))."""
        xp = get_namespace(a)
        a = _clip_probabilities(a)
        return -xp.sum(y * xp.log(a) + (1.0 - y) * xp.log(1.0 - a), axis=0)

    def derivative(self, a: Any, y: Any) -> Any:
        """∂C/∂a = (a − y) / (a (1 − a))."""
        a = _clip_probabilities(a)
        return (a - y) / (a * (1.0 - a))


class LogLikelihoodCost(Cost):
    """C = −ln a_y = −Σ_j y_j ln a_j for a one-hot ``y`` (softmax outputs).

    ∂C/∂a = −y / a. With softmax the Jacobian product gives δ^L = a − y (Σ_j y_j = 1).
    """

    name = "log_likelihood"
    fused_activation = "softmax"
    output_activations = frozenset({"softmax", "sigmoid"})

    def fn(self, a: Any, y: Any) -> Any:
        """−Σ_j y_j ln a_j for each column (a clipped away from 0)."""
        xp = get_namespace(a)
        return -xp.sum(y * xp.log(_clip_probabilities(a)), axis=0)

    def derivative(self, a: Any, y: Any) -> Any:
        """∂C/∂a = −y / a."""
        return -y / _clip_probabilities(a)


COSTS: dict[str, type[Cost]] = {
    "quadratic": QuadraticCost,
    "cross_entropy": CrossEntropyCost,
    "log_likelihood": LogLikelihoodCost,
}
_ALIASES = {"mse": "quadratic", "crossentropy": "cross_entropy", "nll": "log_likelihood"}


def get_cost(spec: str | Cost) -> Cost:
    """Look a cost up by name (``quadratic``, ``cross_entropy``, ``log_likelihood``) or pass one.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones).
    """
    if isinstance(spec, Cost):
        return spec
    if isinstance(spec, str):
        key = spec.lower().replace("-", "_")
        key = _ALIASES.get(key, key)
        if key in COSTS:
            return COSTS[key]()
        raise ValueError(f"unknown cost {spec!r}: choose one of {sorted(COSTS)}")
    raise TypeError(f"cost must be a name or a Cost object, got {type(spec).__name__}")
