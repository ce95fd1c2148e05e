"""Numba-compiled whole-epoch backpropagation: the lecture's equations with no Python per batch.

This module is the compiled twin of :meth:`nnmath.network.Network.backprop_columns` followed by
:meth:`nnmath.optim.SGD.step` / :meth:`nnmath.optim.Adam.step`; read those for the maths.
Only the *storage* differs: every buffer is allocated once by :class:`nnmath.fast.EpochRunner`
and reused, and the matrix products go straight to BLAS ``?gemm`` (see :mod:`nnmath._blas`).

Layout. A row-major buffer of shape ``(B, n_l)`` (one row per example) *is* the lecture's
column matrix ``a^l`` of shape ``(n_l, B)`` seen by column-major BLAS, with leading dimension
``n_l``. A row-major weight ``W`` ``(n_out, n_in)`` is ``Wᵀ`` to BLAS. The three products of
one layer are then::

    z = W a          gemm('T', 'N', n_out, m, n_in, 1,  W, n_in, a, n_in, 0, z, n_out)
    g = Wᵀ δ         gemm('N', 'N', n_in,  m, n_out, 1, W, n_in, δ, n_out, 0, g, n_in)
    ∂C/∂w = δ aᵀ/m   gemm('N', 'T', n_in, n_out, m, 1/m, a, n_in, δ, n_out, 0, ∇w, n_in)

For plain SGD the last product is fused with the update (``alpha = −η/m``,
``beta = 1 − ηλ/n``): ``w ← (1 − ηλ/n) w − (η/m) δ aᵀ``, Nielsen's rule in one BLAS call.

Codes (kept in step with :data:`nnmath.fast.ACTIVATION_CODES` and friends):
activations sigmoid 0, tanh 1, relu 2, leaky_relu 3, elu 4, identity 5, softmax 6;
costs quadratic 0, cross_entropy 1, log_likelihood 2; optimizers SGD 0, SGD+momentum 1, Adam 2.
"""

from __future__ import annotations

import math

import llvmlite.binding as llvm_binding
import numba
import numpy as np
from llvmlite import ir as llvm_ir
from numba import types
from numba.extending import intrinsic, overload

from ._blas import gemm_addresses

__all__ = ["train_epoch", "floor_epoch", "BLAS_INT", "BLAS_NAME"]

_gemm_lib = gemm_addresses()
if _gemm_lib is None:  # pragma: no cover - NumPy without its OpenBLAS and no SciPy
    raise ImportError("the compiled epoch needs BLAS: NumPy's bundled OpenBLAS or SciPy")
_addresses = (_gemm_lib.sgemm, _gemm_lib.dgemm)
BLAS_INT, BLAS_NAME = _gemm_lib.int_dtype, _gemm_lib.name
# Called by symbol name, not by address, so that compiled kernels can be cached on disk.
# The BLAS integer width is part of each kernel's signature (the dtype of ``iw``).
_GEMM_SIG = types.void(*([types.voidptr] * 13))
for _t, _address in zip("sd", _addresses, strict=True):
    llvm_binding.add_symbol(f"nnmath_{_t}gemm", _address)
_sgemm = types.ExternalFunction("nnmath_sgemm", _GEMM_SIG)
_dgemm = types.ExternalFunction("nnmath_dgemm", _GEMM_SIG)

_N, _T = ord("N"), ord("T")


# ---------------------------------------------------------------- e^x for the sigmoid
# libm's exp is a call per element, which keeps LLVM from vectorising the sigmoid loop; these
# branch-free versions (range reduction x = k ln2 + r, a polynomial for e^r, 2^k written into
# the exponent bits) compile to AVX / AVX-512 code. Relative error: float32 below 2e-7 (a few
# ulp), float64 below 5e-16.


@intrinsic
def _bits_as_float32(typingctx, bits):  # noqa: ARG001
    """The float32 whose bits are the low 32 bits of the integer ``bits``."""

    def codegen(context, builder, signature, args):  # noqa: ARG001
        low = builder.trunc(args[0], llvm_ir.IntType(32))
        return builder.bitcast(low, llvm_ir.FloatType())

    return types.float32(types.int64), codegen


@intrinsic
def _bits_as_float64(typingctx, bits):  # noqa: ARG001
    """The float64 whose bits are those of the int64 ``bits``."""

    def codegen(context, builder, signature, args):  # noqa: ARG001
        return builder.bitcast(args[0], llvm_ir.DoubleType())

    return types.float64(types.int64), codegen


def _exp_nonpositive(x):  # pragma: no cover - replaced by the overload below in compiled code
    """e^x for x ≤ 0 (compiled code only)."""
    return math.exp(x)


@overload(_exp_nonpositive, inline="always")
def _exp_nonpositive_impl(x):
    if x == types.float32:

        def exp32(x):
            f = np.float32
            tiny = x < f(-87.0)  # e^-87 ≈ 1.6e-38, about the smallest normal float32: give 0
            x = max(x, f(-87.0))
            k = np.floor(x * f(1.44269504) + f(0.5))
            r = (x - k * f(0.693359375)) + k * f(2.12194440e-4)  # ln 2 in two parts
            p = f(1.9875691500e-4)
            p = p * r + f(1.3981999507e-3)
            p = p * r + f(8.3334519073e-3)
            p = p * r + f(4.1665795894e-2)
            p = p * r + f(1.6666665459e-1)
            p = p * r + f(5.0000001201e-1)
            p = (p * r) * r + r + f(1.0)
            e = p * _bits_as_float32((np.int64(k) + 127) << 23)
            return f(0.0) if tiny else e

        return exp32

    def exp64(x):
        tiny = x < -708.0  # e^-708 ≈ 3e-308, about the smallest normal float64: give 0
        x = max(x, -708.0)
        k = np.floor(x * 1.44269504088896338700 + 0.5)
        r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
        p = 1.0 / 6227020800.0  # Taylor series of e^r to r^13/13!, |r| ≤ ln2/2
        for d in (
            479001600.0,
            39916800.0,
            3628800.0,
            362880.0,
            40320.0,
            5040.0,
            720.0,
            120.0,
            24.0,
            6.0,
            2.0,
            1.0,
            1.0,
        ):
            p = p * r + 1.0 / d
        e = p * _bits_as_float64((np.int64(k) + 1023) << 52)
        return 0.0 if tiny else e

    return exp64


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, iw, fw, cw):  # noqa: N803
    """C ← alpha op(A) op(B) + beta C, column-major (Fortran BLAS); scalars via scratch arrays."""
    cw[0], cw[1] = ta, tb
    iw[0], iw[1], iw[2], iw[3], iw[4], iw[5] = M, N, K, lda, ldb, ldc
    fw[0], fw[1] = alpha, beta
    args = (
        cw[0:].ctypes,
        cw[1:].ctypes,
        iw[0:].ctypes,
        iw[1:].ctypes,
        iw[2:].ctypes,
        fw[0:].ctypes,
        A.ctypes,
        iw[3:].ctypes,
        B.ctypes,
        iw[4:].ctypes,
        fw[1:].ctypes,
        C.ctypes,
        iw[5:].ctypes,
    )
    if fw.itemsize == 4:
        _sgemm(*args)
    else:
        _dgemm(*args)


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _sigma(code, alpha, z):
    """σ(z) of one element (element-wise codes only)."""
    if code == 0:  # sigmoid, stable: e^{−|z|} never overflows
        e = math.exp(-abs(z))
        return 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)
    if code == 1:
        return math.tanh(z)
    if code == 2:
        return z if z > 0 else 0.0
    if code == 3:
        return z if z >= 0 else alpha * z
    if code == 4:
        return z if z > 0 else alpha * math.expm1(min(z, 0.0))
    return z  # identity


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _sigma_prime(code, alpha, z, a):
    """σ'(z) of one element, from z and a = σ(z) (element-wise codes only)."""
    if code == 0:
        return a * (1.0 - a)  # σ(z)(1 − σ(z))
    if code == 1:
        return 1.0 - a * a  # 1 − tanh²(z)
    if code == 2:
        return 1.0 if z > 0 else 0.0
    if code == 3:
        return 1.0 if z >= 0 else alpha
    if code == 4:
        return 1.0 if z > 0 else alpha * math.exp(min(z, 0.0))
    return 1.0


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _activate(code, alpha, z, b, a, m):
    """z ← z + b (the bias of z = W a + b), then a = σ(z), for the first m examples (rows).

    ReLU and the identity get their own branch-free loops, which LLVM vectorises.
    """
    n = z.shape[1]
    zero = z.dtype.type(0)
    one = z.dtype.type(1)
    for r in range(m):
        zr, ar = z[r], a[r]
        if code == 2:  # relu: max(0, z)
            for c in range(n):
                zc = zr[c] + b[c]
                zr[c] = zc
                ar[c] = zc if zc > zero else zero
        elif code == 0:  # sigmoid, stable: 1/(1+e) for z ≥ 0, e/(1+e) for z < 0, e = e^{−|z|}
            for c in range(n):
                zc = zr[c] + b[c]
                zr[c] = zc
                e = _exp_nonpositive(-abs(zc))
                q = one / (one + e)
                ar[c] = q if zc >= zero else e * q
        elif code == 5:
            for c in range(n):
                zc = zr[c] + b[c]
                zr[c] = zc
                ar[c] = zc
        elif code == 6:  # softmax over the units of one example, max subtracted first
            zmax = -np.inf
            for c in range(n):
                zr[c] += b[c]
                zmax = max(zmax, zr[c])
            s = 0.0
            for c in range(n):
                e = math.exp(zr[c] - zmax)
                ar[c] = e
                s += ar[c]
            for c in range(n):
                ar[c] /= s
        else:
            for c in range(n):
                zc = zr[c] + b[c]
                zr[c] = zc
                ar[c] = _sigma(code, alpha, zc)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _vjp(code, alpha, z, a, g, m):
    """g ← (∂a/∂z)ᵀ g in place: g ⊙ σ'(z), or for softmax a ⊙ (g − Σ_i a_i g_i)."""
    n = z.shape[1]
    zero = z.dtype.type(0)
    one = z.dtype.type(1)
    if code == 5:
        return
    for r in range(m):
        zr, ar, gr = z[r], a[r], g[r]
        if code == 2:  # relu: g ⊙ [z > 0]
            for c in range(n):
                gr[c] = gr[c] if zr[c] > zero else zero
        elif code == 0:  # sigmoid: g ⊙ σ(1 − σ)
            for c in range(n):
                gr[c] *= ar[c] * (one - ar[c])
        elif code == 6:
            s = 0.0
            for c in range(n):
                s += ar[c] * gr[c]
            for c in range(n):
                gr[c] = ar[c] * (gr[c] - s)
        else:
            for c in range(n):
                gr[c] *= _sigma_prime(code, alpha, zr[c], ar[c])


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _output_delta(cost, fused, code, alpha, z, a, y, delta, m, eps):
    """δ^L = a − y for the fused pairs; otherwise (∂a/∂z)ᵀ ∂C/∂a^L (costs.Cost.delta)."""
    n = z.shape[1]
    for r in range(m):
        for c in range(n):
            ac, yc = a[r, c], y[r, c]
            if fused or cost == 0:  # a − y is also the quadratic cost's ∂C/∂a
                delta[r, c] = ac - yc
            else:
                ac = min(max(ac, eps), 1.0 - eps)  # clipped as in costs._clip_probabilities
                if cost == 1:
                    delta[r, c] = (ac - yc) / (ac * (1.0 - ac))
                else:
                    delta[r, c] = -yc / ac
    if not fused:
        _vjp(code, alpha, z, a, delta, m)


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _copy_row(src, dst):
    """dst ← src element by element.

    Numba's slice assignment ``dst[:] = src`` guards against overlap with a temporary copy;
    this plain loop is 3-4× faster for the gather of each mini-batch.
    """
    for c in range(src.shape[0]):
        dst[c] = src[c]


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _mean_rows(delta, out, m):
    """∂C/∂b = δ averaged over the m examples."""
    n = delta.shape[1]
    out[:] = 0
    for r in range(m):
        dr = delta[r]
        for c in range(n):
            out[c] += dr[c]
    for c in range(n):
        out[c] /= m


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _momentum(p, g, v, eta, mu, l2, nesterov):
    """v ← μ v − η (g + l2 p); p ← p + v (Nesterov: p ← p + μ v − η g); flat views."""
    pf, gf, vf = p.reshape(-1), g.reshape(-1), v.reshape(-1)
    for j in range(pf.shape[0]):
        gj = gf[j] + l2 * pf[j]
        vj = mu * vf[j] - eta * gj
        vf[j] = vj
        pf[j] += mu * vj - eta * gj if nesterov else vj


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _adam(p, g, mm, vv, step, eps_hat, b1, b2, l2):
    """m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²; p ← p − step m / (√v + ε̂)."""
    pf, gf, mf, vf = p.reshape(-1), g.reshape(-1), mm.reshape(-1), vv.reshape(-1)
    for j in range(pf.shape[0]):
        gj = gf[j] + l2 * pf[j]
        mj = b1 * mf[j] + (1.0 - b1) * gj
        vj = b2 * vf[j] + (1.0 - b2) * (gj * gj)
        mf[j] = mj
        vf[j] = vj
        pf[j] -= step * mj / (math.sqrt(vj) + eps_hat)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def train_epoch(
    X,
    Y,
    perm,
    B,
    Ws,
    bs,
    codes,
    alphas,
    cost,
    fused,
    opt,
    hp,
    t,
    A,
    Z,
    D,
    NW,
    NB,
    S1W,
    S1B,
    S2W,
    S2B,
    Yb,
    iw,
    fw,
    cw,
):  # noqa: N803
    """One epoch of mini-batch training over ``X[perm]``, in place; returns Adam's step count.

    Parameters
    ----------
    X, Y : (n, sizes[0]), (n, sizes[-1]) row-major data and one-hot / real targets.
    perm : (n,) int64, the epoch's shuffle; mini-batch k is ``perm[k B : (k+1) B]``.
    Ws, bs : tuples of the network's weights ``(n_out, n_in)`` and biases, updated in place.
    codes, alphas : per-layer activation codes and their α (leaky ReLU / ELU).
    cost, fused : cost code, and whether δ^L = a − y applies.
    opt : 0 SGD, 1 SGD with momentum, 2 Adam.  hp : [η, λ/n, μ, nesterov, β1, β2, ε, eps_dtype].
    t : Adam's step count so far.
    A, Z, D : buffers a^l (B, n_l) for l = 0..L, z^l and δ^l (B, n_{l+1}).
    NW, NB : gradient buffers; S1W, S1B, S2W, S2B : optimizer state (velocity, or m and v).
    Yb : (B, n_L) targets of the mini-batch. iw, fw, cw : BLAS scalar scratch.
    """
    n = perm.shape[0]
    L = len(Ws)
    eta, decay, mu, nesterov = hp[0], hp[1], hp[2], hp[3] != 0.0
    b1, b2, eps, eps_dtype = hp[4], hp[5], hp[6], hp[7]
    x0 = A[0]
    step, eps_hat = 0.0, 0.0
    for k in range(0, n, B):
        m = min(B, n - k)
        for r in range(m):  # gather the mini-batch (rows of X[perm[k:k+m]])
            _copy_row(X[perm[k + r]], x0[r])
            _copy_row(Y[perm[k + r]], Yb[r])
        for i in range(L):  # z^l = W^l a^{l−1} + b^l,  a^l = σ(z^l)
            W = Ws[i]
            n_out, n_in = W.shape
            _gemm(_T, _N, n_out, m, n_in, 1.0, W, n_in, A[i], n_in, 0.0, Z[i], n_out, iw, fw, cw)
            _activate(codes[i], alphas[i], Z[i], bs[i], A[i + 1], m)
        _output_delta(
            cost, fused, codes[L - 1], alphas[L - 1], Z[L - 1], A[L], Yb, D[L - 1], m, eps_dtype
        )
        t += 1
        if opt == 2:
            step = eta * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
            eps_hat = eps * math.sqrt(1.0 - b2**t)
        for i in range(L - 1, -1, -1):
            W, b = Ws[i], bs[i]
            n_out, n_in = W.shape
            _mean_rows(D[i], NB[i], m)  # ∂C/∂b^l = δ^l (mean over the mini-batch)
            if i > 0:  # δ^{l−1} = ((W^l)ᵀ δ^l) ⊙ σ'(z^{l−1}), with the weights before the step
                _gemm(
                    _N,
                    _N,
                    n_in,
                    m,
                    n_out,
                    1.0,
                    W,
                    n_in,
                    D[i],
                    n_out,
                    0.0,
                    D[i - 1],
                    n_in,
                    iw,
                    fw,
                    cw,
                )
                _vjp(codes[i - 1], alphas[i - 1], Z[i - 1], A[i], D[i - 1], m)
            if opt == 0:  # w ← (1 − ηλ/n) w − (η/m) δ aᵀ ; b ← b − η ∂C/∂b
                _gemm(
                    _N,
                    _T,
                    n_in,
                    n_out,
                    m,
                    -eta / m,
                    A[i],
                    n_in,
                    D[i],
                    n_out,
                    1.0 - eta * decay,
                    W,
                    n_in,
                    iw,
                    fw,
                    cw,
                )
                nb = NB[i]
                for c in range(n_out):
                    b[c] -= eta * nb[c]
                continue
            # ∂C/∂w^l = δ^l (a^{l−1})ᵀ / m
            _gemm(
                _N,
                _T,
                n_in,
                n_out,
                m,
                1.0 / m,
                A[i],
                n_in,
                D[i],
                n_out,
                0.0,
                NW[i],
                n_in,
                iw,
                fw,
                cw,
            )
            if opt == 1:
                _momentum(W, NW[i], S1W[i], eta, mu, decay, nesterov)
                _momentum(b, NB[i], S1B[i], eta, mu, 0.0, nesterov)
            else:
                _adam(W, NW[i], S1W[i], S2W[i], step, eps_hat, b1, b2, decay)
                _adam(b, NB[i], S1B[i], S2B[i], step, eps_hat, b1, b2, 0.0)
    return t


@numba.njit(nogil=True, cache=True, error_model="numpy")
def floor_epoch(batches, B, Ws, A, D, Z, G, NW, iw, fw, cw):  # noqa: N803
    """Only the matrix products of ``batches`` backprop steps (the benchmark's floor).

    Per mini-batch and layer: ``z = W a`` (into Z), ``∇w = δ aᵀ`` (into NW) and, above the
    first layer, ``Wᵀ δ`` (into G). Inputs A and D are never overwritten.
    """
    L = len(Ws)
    for _ in range(batches):
        for i in range(L):
            W = Ws[i]
            n_out, n_in = W.shape
            _gemm(_T, _N, n_out, B, n_in, 1.0, W, n_in, A[i], n_in, 0.0, Z[i], n_out, iw, fw, cw)
        for i in range(L - 1, -1, -1):
            W = Ws[i]
            n_out, n_in = W.shape
            _gemm(
                _N, _T, n_in, n_out, B, 1.0, A[i], n_in, D[i], n_out, 0.0, NW[i], n_in, iw, fw, cw
            )
            if i > 0:
                _gemm(
                    _N,
                    _N,
                    n_in,
                    B,
                    n_out,
                    1.0,
                    W,
                    n_in,
                    D[i],
                    n_out,
                    0.0,
                    G[i - 1],
                    n_in,
                    iw,
                    fw,
                    cw,
                )
