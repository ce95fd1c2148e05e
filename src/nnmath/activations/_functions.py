"""The activation functions σ(z) and their derivatives σ'(z), as plain functions of ``z``.

Each works on NumPy, CuPy or PyTorch arrays (the namespace comes from ``z``); a mini-batch
is a matrix whose columns are the examples, so softmax normalises along axis 0. The objects of
:mod:`nnmath.activations` pair each σ with its σ'.
"""

from __future__ import annotations

from typing import Any

from ..backend import get_namespace

__all__ = [
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
    "softsign",
    "softsign_prime",
]


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
    """softplus(z) = ln(1 + e^z) = max(z, 0) + ln(1 + e^{−|z|}), stable for large ``|z|``."""
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
