"""The activation objects: each σ with its σ'(z) and ``vjp``, as the registry holds them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..backend import get_namespace
from ._functions import (
    elu,
    elu_prime,
    gelu,
    gelu_prime,
    identity,
    identity_prime,
    leaky_relu,
    leaky_relu_prime,
    relu,
    relu_prime,
    sigmoid,
    sigmoid_prime,
    silu,
    silu_prime,
    softmax,
    softmax_jacobian,
    softplus,
    softplus_prime,
    softsign,
    softsign_prime,
    tanh,
    tanh_prime,
)

__all__ = [
    "Activation",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Softmax",
    "Identity",
    "GELU",
    "Softplus",
    "SiLU",
    "Softsign",
]


class Activation:
    """An activation σ with its derivative σ'(z).

    Subclasses (or :meth:`from_functions`) provide ``__call__`` (σ) and ``prime`` (σ').
    ``vjp`` defaults to the element-wise rule ``g ⊙ σ'(z)``.

    Attributes
    ----------
    name : str
        Registry name, stored in saved models.
    elementwise : bool
        True when the Jacobian ∂a/∂z is diagonal.
    max_prime : float or None
        The largest value σ' takes (1/4 for sigmoid); used by diagnostics.
    kernel : int or None
        The id of this σ in the compiled epoch (``engine/_ckernels_real.h``); ``None`` when it
        has none, and :func:`nnmath.train.fit` then trains on the reference loop.
    """

    name: str = "activation"
    elementwise: bool = True
    max_prime: float | None = None
    kernel: int | None = None

    def __call__(self, z: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def prime(self, z: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def vjp(self, z: Any, a: Any, g: Any) -> Any:
        """(∂a/∂z)ᵀ g: for an element-wise σ this is ``g ⊙ σ'(z)`` (the lecture's ⊙ σ'(z^l))."""
        return g * self.prime(z)

    @property
    def params(self) -> dict[str, float]:
        """Parameters needed to rebuild the activation (``alpha`` for leaky ReLU and ELU)."""
        return {}

    @property
    def kernel_param(self) -> float:
        """The one number the compiled kernel takes besides ``z`` (``alpha``, else 0)."""
        return float(self.params.get("alpha", 0.0))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Activation)
            and type(other) is type(self)
            and self.name == other.name
            and self.params == other.params
        )

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.params.items()))))

    @staticmethod
    def from_functions(
        fn: Callable[[Any], Any], prime: Callable[[Any], Any], name: str = "custom"
    ) -> Activation:
        """Build an element-wise activation from a function σ and its derivative σ'."""
        return _Custom(fn, prime, name)


class _Elementwise(Activation):
    """An element-wise σ whose σ and σ' are two of this module's functions: a subclass
    declares ``name``, ``max_prime``, ``kernel`` and ``fn, fn_prime = staticmethod(σ),
    staticmethod(σ')``."""

    fn: Callable[[Any], Any]
    fn_prime: Callable[[Any], Any]

    def __call__(self, z: Any) -> Any:
        return type(self).fn(z)

    def prime(self, z: Any) -> Any:
        return type(self).fn_prime(z)


class _Custom(Activation):
    def __init__(self, fn: Callable[[Any], Any], prime: Callable[[Any], Any], name: str) -> None:
        self._fn, self._prime, self.name = fn, prime, name

    def __call__(self, z: Any) -> Any:
        return self._fn(z)

    def prime(self, z: Any) -> Any:
        return self._prime(z)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


class Sigmoid(_Elementwise):
    """σ(z) = 1/(1+e^{−z}); σ'(z) = σ(z)(1 − σ(z)) ≤ 1/4."""

    name, max_prime, kernel = "sigmoid", 0.25, 0
    fn, fn_prime = staticmethod(sigmoid), staticmethod(sigmoid_prime)


class Tanh(_Elementwise):
    """tanh(z); tanh'(z) = 1 − tanh²(z) ≤ 1."""

    name, max_prime, kernel = "tanh", 1.0, 1
    fn, fn_prime = staticmethod(tanh), staticmethod(tanh_prime)


class ReLU(_Elementwise):
    """max(0, z); derivative 1 for z > 0, else 0."""

    name, max_prime, kernel = "relu", 1.0, 2
    fn, fn_prime = staticmethod(relu), staticmethod(relu_prime)


class LeakyReLU(Activation):
    """z for z ≥ 0, α z for z < 0; derivative 1 or α."""

    name, max_prime, kernel = "leaky_relu", 1.0, 3

    def __init__(self, alpha: float = 0.01) -> None:
        self.alpha = float(alpha)

    @property
    def params(self) -> dict[str, float]:
        return {"alpha": self.alpha}

    def __call__(self, z: Any) -> Any:
        return leaky_relu(z, self.alpha)

    def prime(self, z: Any) -> Any:
        return leaky_relu_prime(z, self.alpha)


class ELU(Activation):
    """α(e^z − 1) for z ≤ 0, z for z > 0; derivative α e^z or 1."""

    name, kernel = "elu", 4

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = float(alpha)
        self.max_prime = max(1.0, self.alpha)

    @property
    def params(self) -> dict[str, float]:
        return {"alpha": self.alpha}

    def __call__(self, z: Any) -> Any:
        return elu(z, self.alpha)

    def prime(self, z: Any) -> Any:
        return elu_prime(z, self.alpha)


class Softmax(Activation):
    """Softmax over the units of each column; a full Jacobian ∂y_i/∂x_j = y_i(δ_ij − y_j).

    ``prime(z)`` returns the Jacobian's diagonal ``y_i (1 − y_i)`` (the derivative of each
    output with respect to its own input); backprop never uses it alone but calls
    :meth:`vjp`, which applies the whole Jacobian.
    """

    name, elementwise, max_prime, kernel = "softmax", False, 0.25, 6

    def __call__(self, z: Any) -> Any:
        return softmax(z, axis=0)

    def prime(self, z: Any) -> Any:
        y = softmax(z, axis=0)
        return y * (1.0 - y)

    def jacobian(self, z: Any) -> Any:
        """∂y_i/∂x_j = y_i(δ_ij − y_j); shape (n, n) for one vector, (m, n, n) for columns."""
        return softmax_jacobian(z)

    def vjp(self, z: Any, a: Any, g: Any) -> Any:
        """Jᵀ g without forming J: (Jᵀ g)_j = Σ_i y_i(δ_ij − y_j) g_i = y_j (g_j − Σ_i y_i g_i).

        Parameters
        ----------
        z, a : arrays, shape (n, m)
            Pre-activation and softmax output (``a = softmax(z)``).
        g : array, shape (n, m)
            ∂C/∂a for each column.
        """
        xp = get_namespace(a)
        return a * (g - xp.sum(a * g, axis=0, keepdims=True))


class Identity(_Elementwise):
    """σ(z) = z; σ'(z) = 1."""

    name, max_prime, kernel = "identity", 1.0, 5
    fn, fn_prime = staticmethod(identity), staticmethod(identity_prime)


class GELU(_Elementwise):
    """Gaussian error linear unit, exact (with erf): z Φ(z); derivative Φ(z) + z φ(z)."""

    name, max_prime, kernel = "gelu", 1.1289, 7  # σ' peaks at z = √2: 1.1289
    fn, fn_prime = staticmethod(gelu), staticmethod(gelu_prime)


class Softplus(_Elementwise):
    """ln(1 + e^z), a smooth ReLU; derivative the sigmoid σ(z)."""

    name, max_prime, kernel = "softplus", 1.0, 8
    fn, fn_prime = staticmethod(softplus), staticmethod(softplus_prime)


class SiLU(_Elementwise):
    """SiLU, also called swish: z σ(z); derivative σ(z) (1 + z (1 − σ(z)))."""

    name, max_prime, kernel = "silu", 1.0998, 9  # σ' peaks at z ≈ 2.3994: 1.0998
    fn, fn_prime = staticmethod(silu), staticmethod(silu_prime)


class Softsign(_Elementwise):
    """z / (1 + ``|z|``) (Glorot & Bengio 2010); derivative 1 / (1 + ``|z|``)² ≤ 1."""

    name, max_prime, kernel = "softsign", 1.0, 10
    fn, fn_prime = staticmethod(softsign), staticmethod(softsign_prime)
