"""Every built-in activation, each declared once: σ(z), σ'(z) beside it, and one class that
names it for the registry, PyTorch (``torch``) and ONNX (``onnx``).

Adding an activation is one more block here: the two functions and a class decorated with
``@_register``. :data:`ACTIVATIONS`, ``__all__`` (so ``nnmath.activations.<σ>``,
``<σ>_prime`` and the class), :func:`nnmath.io.to_torch` / ``from_torch``,
:func:`nnmath.io.to_onnx` / ``from_onnx``, the command line's choices and the tests'
parameter lists all read it. A ``case`` in the C kernels is optional: without one, ``fit``
trains on the reference loop and its ``fallback_reason`` says so.

Each function works on NumPy, CuPy or PyTorch arrays (the namespace comes from ``z``); a
mini-batch is a matrix whose columns are the examples, so softmax normalises along axis 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..backend import get_namespace
from ._base import Activation, Elementwise, OnnxOps, TorchModule

#: registry name (and alias) -> activation class, filled by ``@_register`` below
ACTIVATIONS: dict[str, type[Activation]] = {}


def _register(*aliases: str) -> Callable[[type[Activation]], type[Activation]]:
    """Enter a declared class in :data:`ACTIVATIONS` under its ``name`` and ``aliases``."""

    def register(cls: type[Activation]) -> type[Activation]:
        for key in (cls.name, *aliases):
            ACTIVATIONS[key] = cls
        return cls

    return register


def sigmoid(z: Any) -> Any:
    """σ(z) = 1 / (1 + e^{−z}), stable for large ``|z|``.

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


@_register()
class Sigmoid(Elementwise):
    """σ(z) = 1/(1+e^{−z}); σ'(z) = σ(z)(1 − σ(z)) ≤ 1/4."""

    name, max_prime = "sigmoid", 0.25
    fn, fn_prime = staticmethod(sigmoid), staticmethod(sigmoid_prime)
    torch, onnx = TorchModule("Sigmoid"), OnnxOps.one("Sigmoid")


def tanh(z: Any) -> Any:
    """tanh(z) = (e^z − e^{−z}) / (e^z + e^{−z}), values in (−1, 1)."""
    return get_namespace(z).tanh(z)


def tanh_prime(z: Any) -> Any:
    """tanh'(z) = 1 − tanh²(z)."""
    t = get_namespace(z).tanh(z)
    return 1.0 - t * t


@_register()
class Tanh(Elementwise):
    """tanh(z); tanh'(z) = 1 − tanh²(z) ≤ 1."""

    name, max_prime = "tanh", 1.0
    fn, fn_prime = staticmethod(tanh), staticmethod(tanh_prime)
    torch, onnx = TorchModule("Tanh"), OnnxOps.one("Tanh")


def relu(z: Any) -> Any:
    """ReLU(z) = max(0, z)."""
    xp = get_namespace(z)
    if xp is np:  # the same bits (NaN → 0, −0 → +0: tests/test_activations.py), 5× faster
        return np.fmax(z, 0.0)
    return xp.where(z > 0, z, 0.0)


def relu_prime(z: Any) -> Any:
    """ReLU'(z) = 1 for z > 0, else 0 (the value 0 is used at z = 0)."""
    xp = get_namespace(z)
    return xp.astype(z > 0, z.dtype)


@_register()
class ReLU(Elementwise):
    """max(0, z); derivative 1 for z > 0, else 0."""

    name, max_prime = "relu", 1.0
    fn, fn_prime = staticmethod(relu), staticmethod(relu_prime)
    torch, onnx = TorchModule("ReLU"), OnnxOps.one("Relu")


def leaky_relu(z: Any, alpha: float = 0.01) -> Any:
    """Leaky ReLU: z for z ≥ 0, α z for z < 0."""
    return get_namespace(z).where(z >= 0, z, alpha * z)


def leaky_relu_prime(z: Any, alpha: float = 0.01) -> Any:
    """Leaky ReLU': 1 for z ≥ 0, α for z < 0 (lecture: α if z < 0, 1 if z ≥ 0)."""
    xp = get_namespace(z)
    # an array branch keeps z's dtype (two Python scalars would give torch's default float32)
    return xp.where(z >= 0, xp.ones_like(z), alpha)


@_register()
class LeakyReLU(Elementwise):
    """z for z ≥ 0, α z for z < 0; derivative 1 or α."""

    name, max_prime, alpha = "leaky_relu", 1.0, 0.01
    fn, fn_prime = staticmethod(leaky_relu), staticmethod(leaky_relu_prime)
    torch = TorchModule("LeakyReLU", params={"alpha": "negative_slope"})
    onnx = OnnxOps.with_alpha("LeakyRelu")


def elu(z: Any, alpha: float = 1.0) -> Any:
    """ELU: α (e^z − 1) for z ≤ 0, z for z > 0. ``e^z`` is only taken of min(z, 0)."""
    xp = get_namespace(z)
    return xp.where(z > 0, z, alpha * xp.expm1(xp.minimum(z, 0.0)))


def elu_prime(z: Any, alpha: float = 1.0) -> Any:
    """ELU': α e^z for z ≤ 0, 1 for z > 0."""
    xp = get_namespace(z)
    return xp.where(z > 0, 1.0, alpha * xp.exp(xp.minimum(z, 0.0)))


@_register()
class ELU(Elementwise):
    """α(e^z − 1) for z ≤ 0, z for z > 0; derivative α e^z or 1."""

    name, alpha = "elu", 1.0
    fn, fn_prime = staticmethod(elu), staticmethod(elu_prime)
    torch = TorchModule("ELU", params={"alpha": "alpha"})
    onnx = OnnxOps.with_alpha("Elu")

    def __init__(self, alpha: float | None = None) -> None:
        super().__init__(alpha)
        self.max_prime = max(1.0, self.alpha)  # α e^z just below 0, or 1 above


#: SELU's λ and α (Klambauer et al. 2017), to torch's digits: the fixed point of mean 0 and
#: variance 1 for N(0, 1/n_in) weights
SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def selu(z: Any) -> Any:
    """SELU (Klambauer et al. 2017, self-normalizing): λ z for z > 0, λ α (e^z − 1) for z ≤ 0."""
    return SELU_LAMBDA * elu(z, SELU_ALPHA)


def selu_prime(z: Any) -> Any:
    """SELU'(z) = λ for z > 0, λ α e^z for z ≤ 0."""
    return SELU_LAMBDA * elu_prime(z, SELU_ALPHA)


@_register()
class SELU(Elementwise):
    """λ z for z > 0, λ α (e^z − 1) for z ≤ 0, with torch's λ and α; derivative λ or λ α e^z."""

    name, max_prime = "selu", SELU_LAMBDA * SELU_ALPHA  # σ' peaks just below 0: 1.7581
    fn, fn_prime = staticmethod(selu), staticmethod(selu_prime)
    torch = TorchModule("SELU")
    onnx = OnnxOps.one("Selu", alpha=SELU_ALPHA, gamma=SELU_LAMBDA)


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


@_register()
class Softmax(Activation):
    """Softmax over the units of each column; a full Jacobian ∂y_i/∂x_j = y_i(δ_ij − y_j).

    ``prime(z)`` returns the Jacobian's diagonal ``y_i (1 − y_i)`` (the derivative of each
    output with respect to its own input); backprop never uses it alone but calls
    :meth:`vjp`, which applies the whole Jacobian.
    """

    name, elementwise, max_prime = "softmax", False, 0.25
    functions = (softmax, softmax_jacobian)  # what nnmath.activations exports besides the class
    torch = TorchModule(
        "Softmax",
        fixed={"dim": (1, -1)},
        why="nnmath's softmax normalises each example (row), i.e. Softmax(dim=1)",
    )
    onnx = OnnxOps.one("Softmax", axis=-1)  # each example: a row there, a column here

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


def identity(z: Any) -> Any:
    """σ(z) = z (a linear output layer, for regression)."""
    return z


def identity_prime(z: Any) -> Any:
    """σ'(z) = 1."""
    return get_namespace(z).ones_like(z)


@_register("linear")
class Identity(Elementwise):
    """σ(z) = z; σ'(z) = 1."""

    name, max_prime = "identity", 1.0
    fn, fn_prime = staticmethod(identity), staticmethod(identity_prime)
    torch, onnx = TorchModule("Identity"), OnnxOps.one("Identity")


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


_SQRT1_2, _INV_SQRT_2PI = 0.7071067811865476, 0.3989422804014327  # 1/√2, 1/√(2π)


def gelu(z: Any) -> Any:
    """GELU (exact): z Φ(z) = (z/2) (1 + erf(z/√2)), Φ the standard normal's CDF."""
    return 0.5 * z * (1.0 + _erf(z * _SQRT1_2))


def gelu_prime(z: Any) -> Any:
    """GELU'(z) = Φ(z) + z φ(z), φ(z) = e^{−z²/2}/√(2π) the standard normal's density."""
    xp = get_namespace(z)
    return 0.5 * (1.0 + _erf(z * _SQRT1_2)) + z * xp.exp(-0.5 * z * z) * _INV_SQRT_2PI


def _gelu_onnx(p: Any) -> list[Any]:
    """GELU exactly in ONNX: z Φ(z) = ½ z (1 + erf(z/√2)); ONNX before opset 20 has no Gelu."""
    return [
        ("Div", ("$x", "sqrt2"), {}),
        ("Erf", ("$prev",), {}),
        ("Add", ("$prev", "one"), {}),
        ("Mul", ("$x", "$prev"), {}),
        ("Mul", ("$prev", "half"), {}),
    ]


@_register()
class GELU(Elementwise):
    """Gaussian error linear unit, exact (with erf): z Φ(z); derivative Φ(z) + z φ(z)."""

    name, max_prime = "gelu", 1.1289  # σ' peaks at z = √2: 1.1289
    fn, fn_prime = staticmethod(gelu), staticmethod(gelu_prime)
    torch = TorchModule("GELU", fixed={"approximate": ("none",)}, why="nnmath's GELU is exact")
    onnx = OnnxOps(_gelu_onnx, constants={"sqrt2": math.sqrt(2.0), "one": 1.0, "half": 0.5})


def softplus(z: Any) -> Any:
    """softplus(z) = ln(1 + e^z) = max(z, 0) + ln(1 + e^{−|z|}), stable for large ``|z|``."""
    xp = get_namespace(z)
    return xp.maximum(z, 0.0) + xp.log1p(xp.exp(-xp.abs(z)))


def softplus_prime(z: Any) -> Any:
    """softplus'(z) = σ(z), the sigmoid."""
    return sigmoid(z)


@_register()
class Softplus(Elementwise):
    """ln(1 + e^z), a smooth ReLU; derivative the sigmoid σ(z)."""

    name, max_prime = "softplus", 1.0
    fn, fn_prime = staticmethod(softplus), staticmethod(softplus_prime)
    torch = TorchModule(
        "Softplus", fixed={"beta": (1.0,)}, why="nnmath's softplus is ln(1 + e^z), beta = 1"
    )
    onnx = OnnxOps.one("Softplus")


def silu(z: Any) -> Any:
    """SiLU (swish): z σ(z), σ the sigmoid."""
    return z * sigmoid(z)


def silu_prime(z: Any) -> Any:
    """SiLU'(z) = σ(z) (1 + z (1 − σ(z)))."""
    s = sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def _silu_onnx(p: Any) -> list[Any]:
    """SiLU in ONNX: z · Sigmoid(z)."""
    return [("Sigmoid", ("$x",), {}), ("Mul", ("$x", "$prev"), {})]


@_register("swish")
class SiLU(Elementwise):
    """SiLU, also called swish: z σ(z); derivative σ(z) (1 + z (1 − σ(z)))."""

    name, max_prime = "silu", 1.0998  # σ' peaks at z ≈ 2.3994: 1.0998
    fn, fn_prime = staticmethod(silu), staticmethod(silu_prime)
    torch, onnx = TorchModule("SiLU"), OnnxOps(_silu_onnx)


def softsign(z: Any) -> Any:
    """softsign(z) = z / (1 + ``|z|``), values in (−1, 1) (Glorot & Bengio 2010).

    Like tanh it is odd and saturates at ±1, but polynomially, not exponentially: its
    asymptotes are approached as 1/``|z|``, so fewer units end up with σ' ≈ 0.
    """
    xp = get_namespace(z)
    return z / (1.0 + xp.abs(z))


def softsign_prime(z: Any) -> Any:
    """softsign'(z) = 1 / (1 + ``|z|``)², at most 1 (at z = 0)."""
    xp = get_namespace(z)
    d = 1.0 + xp.abs(z)
    return 1.0 / (d * d)


@_register()
class Softsign(Elementwise):
    """z / (1 + ``|z|``) (Glorot & Bengio 2010); derivative 1 / (1 + ``|z|``)² ≤ 1."""

    name, max_prime = "softsign", 1.0
    fn, fn_prime = staticmethod(softsign), staticmethod(softsign_prime)
    torch, onnx = TorchModule("Softsign"), OnnxOps.one("Softsign")


def _public_names() -> list[str]:
    """Each declared class, its σ and σ' (softmax: σ and its Jacobian), in declaration order."""
    names: list[str] = []
    for key, cls in ACTIVATIONS.items():
        if key != cls.name:
            continue  # an alias
        fns = getattr(cls, "functions", None) or (cls.fn, cls.fn_prime)  # type: ignore[attr-defined]
        names += [cls.__name__, *(f.__name__ for f in fns)]
    return names


__all__ = ["ACTIVATIONS", "SELU_ALPHA", "SELU_LAMBDA", *_public_names()]
