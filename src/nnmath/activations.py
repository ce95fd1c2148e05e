"""Activation functions σ and their derivatives σ'(z), side by side, as in the lecture notes.

Every activation is one object: ``act(z)`` is σ(z), ``act.prime(z)`` is σ'(z) (a function of
``z``, exactly the lecture's ``σ'(z^l)``), and ``act.vjp(z, a, g)`` is the product of the
transposed Jacobian ∂a/∂z with a vector ``g = ∂C/∂a``, which backprop uses for
``δ = ∂C/∂z``. For the element-wise functions the Jacobian is diagonal and
``vjp = g ⊙ σ'(z)``; softmax couples its outputs, so it has a full Jacobian
``∂y_i/∂x_j = y_i (δ_ij − y_j)`` and its own ``vjp``.

Inside nnmath a mini-batch is a matrix whose *columns* are the examples: ``z`` has shape
``(n_l, m)`` and softmax normalises along axis 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .backend import get_namespace

__all__ = [
    "Activation",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Softmax",
    "Identity",
    "ACTIVATIONS",
    "get_activation",
    "is_builtin",
    "sigmoid",
    "sigmoid_prime",
    "tanh",
    "tanh_prime",
    "relu",
    "relu_prime",
    "leaky_relu",
    "leaky_relu_prime",
    "elu",
    "elu_prime",
    "softmax",
    "softmax_jacobian",
    "identity",
    "identity_prime",
    "gelu",
    "gelu_prime",
    "softplus",
    "softplus_prime",
    "silu",
    "silu_prime",
]


# ---------------------------------------------------------------------------- functions


def sigmoid(z: Any) -> Any:
    """σ(z) = 1 / (1 + e^{−z}), stable for large |z|.

    ``e^{−|z|}`` never overflows, and both branches ``1/(1+e^{−z})`` (z ≥ 0) and
    ``e^{z}/(1+e^{z})`` (z < 0) are written with it.
    """
    xp = get_namespace(z)
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_prime(z: Any) -> Any:
    """σ'(z) = σ(z) (1 − σ(z)); at most 1/4 (at z = 0)."""
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z: Any) -> Any:
    """tanh(z) = (e^z − e^{−z}) / (e^z + e^{−z}), values in (−1, 1)."""
    return get_namespace(z).tanh(z)


def tanh_prime(z: Any) -> Any:
    """tanh'(z) = 1 − tanh²(z)."""
    t = get_namespace(z).tanh(z)
    return 1.0 - t * t


def relu(z: Any) -> Any:
    """ReLU(z) = max(0, z)."""
    return get_namespace(z).where(z > 0, z, 0.0)


def relu_prime(z: Any) -> Any:
    """ReLU'(z) = 1 for z > 0, else 0 (the value 0 is used at z = 0)."""
    xp = get_namespace(z)
    return xp.astype(z > 0, z.dtype)


def leaky_relu(z: Any, alpha: float = 0.01) -> Any:
    """Leaky ReLU: z for z ≥ 0, α z for z < 0."""
    return get_namespace(z).where(z >= 0, z, alpha * z)


def leaky_relu_prime(z: Any, alpha: float = 0.01) -> Any:
    """Leaky ReLU': 1 for z ≥ 0, α for z < 0 (lecture: α if z < 0, 1 if z ≥ 0)."""
    xp = get_namespace(z)
    # an array branch keeps z's dtype (two Python scalars would give torch's default float32)
    return xp.where(z >= 0, xp.ones_like(z), alpha)


def elu(z: Any, alpha: float = 1.0) -> Any:
    """ELU: α (e^z − 1) for z ≤ 0, z for z > 0. ``e^z`` is only taken of min(z, 0)."""
    xp = get_namespace(z)
    return xp.where(z > 0, z, alpha * xp.expm1(xp.minimum(z, 0.0)))


def elu_prime(z: Any, alpha: float = 1.0) -> Any:
    """ELU': α e^z for z ≤ 0, 1 for z > 0."""
    xp = get_namespace(z)
    return xp.where(z > 0, 1.0, alpha * xp.exp(xp.minimum(z, 0.0)))


def _erf(z: Any) -> Any:
    """The error function erf(z) element-wise, on NumPy, PyTorch or CuPy arrays."""
    module = type(z).__module__
    if module.startswith("torch"):
        import torch

        return torch.special.erf(z)
    if module.startswith("cupy"):
        from cupyx.scipy.special import erf as cupy_erf

        return cupy_erf(z)
    from scipy.special import erf  # NumPy has no erf

    return erf(z)


def gelu(z: Any) -> Any:
    """GELU (exact): z Φ(z) = (z/2) (1 + erf(z/√2)), Φ the standard normal's CDF."""
    return 0.5 * z * (1.0 + _erf(z * _SQRT1_2))


def gelu_prime(z: Any) -> Any:
    """GELU'(z) = Φ(z) + z φ(z), φ(z) = e^{−z²/2}/√(2π) the standard normal's density."""
    xp = get_namespace(z)
    return 0.5 * (1.0 + _erf(z * _SQRT1_2)) + z * xp.exp(-0.5 * z * z) * _INV_SQRT_2PI


_SQRT1_2, _INV_SQRT_2PI = 0.7071067811865476, 0.3989422804014327  # 1/√2, 1/√(2π)


def softplus(z: Any) -> Any:
    """softplus(z) = ln(1 + e^z) = max(z, 0) + ln(1 + e^{−|z|}), stable for large |z|."""
    xp = get_namespace(z)
    return xp.maximum(z, 0.0) + xp.log1p(xp.exp(-xp.abs(z)))


def softplus_prime(z: Any) -> Any:
    """softplus'(z) = σ(z), the sigmoid."""
    return sigmoid(z)


def silu(z: Any) -> Any:
    """SiLU (swish): z σ(z), σ the sigmoid."""
    return z * sigmoid(z)


def silu_prime(z: Any) -> Any:
    """SiLU'(z) = σ(z) (1 + z (1 − σ(z)))."""
    s = sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def softmax(z: Any, axis: int = 0) -> Any:
    """y_i = e^{x_i} / Σ_j e^{x_j}, along ``axis`` (0: the units of each column).

    The maximum along ``axis`` is subtracted first, so ``exp`` never overflows.
    """
    xp = get_namespace(z)
    e = xp.exp(z - xp.max(z, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def softmax_jacobian(z: Any) -> Any:
    """The full Jacobian of softmax, ∂y_i/∂x_j = y_i (δ_ij − y_j).

    Parameters
    ----------
    z : array, shape (n,) or (n, m)
        One input vector, or ``m`` of them as columns.

    Returns
    -------
    J : array, shape (n, n) or (m, n, n)
        ``J[..., i, j] = ∂y_i/∂x_j``: ``y_i (1 − y_i)`` on the diagonal, ``−y_i y_j`` off it.
    """
    xp = get_namespace(z)
    if z.ndim == 1:
        y = softmax(z, axis=0)
        return xp.eye(y.shape[0], dtype=y.dtype) * y[:, None] - y[:, None] * y[None, :]
    y = softmax(z, axis=0).T  # (m, n)
    n = y.shape[1]
    return xp.eye(n, dtype=y.dtype)[None, :, :] * y[:, :, None] - y[:, :, None] * y[:, None, :]


def identity(z: Any) -> Any:
    """σ(z) = z (a linear output layer, for regression)."""
    return z


def identity_prime(z: Any) -> Any:
    """σ'(z) = 1."""
    return get_namespace(z).ones_like(z)


# ---------------------------------------------------------------------------- objects


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
        The id of this σ in the compiled epoch (``nnmath/_ckernels_real.h``); ``None`` when it
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


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softmax, Identity, GELU, Softplus, SiLU)
}
ACTIVATIONS["linear"] = Identity
ACTIVATIONS["swish"] = SiLU


def is_builtin(act: Activation) -> bool:
    """Whether ``act`` is one of the registry's own activations, not a user's object."""
    return type(act) is ACTIVATIONS.get(act.name)


def get_activation(spec: str | Activation | Any, **params: float) -> Activation:
    """Look an activation up by name, or accept an :class:`Activation` object.

    Parameters
    ----------
    spec : str or Activation
        A registry name (``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"leaky_relu"``, ``"elu"``,
        ``"softmax"``, ``"identity"``), or an object with ``__call__`` (σ) and ``prime`` (σ').
    **params
        Parameters for the named activation, e.g. ``alpha=0.1``.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones).
    TypeError
        For an object that is neither a name nor has ``__call__`` and ``prime``.
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        key = spec.lower().replace("-", "_")
        if key not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {spec!r}: choose one of {sorted(ACTIVATIONS)} "
                "or pass an Activation object"
            )
        try:
            return ACTIVATIONS[key](**params)
        except TypeError as exc:
            raise ValueError(f"activation {key!r} does not take parameters {params}") from exc
    if callable(spec) and callable(getattr(spec, "prime", None)):
        return Activation.from_functions(spec, spec.prime, getattr(spec, "name", "custom"))
    raise TypeError(
        f"activation must be a name or an object with __call__ (σ) and prime (σ'), "
        f"got {type(spec).__name__}"
    )
