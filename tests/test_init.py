"""Every initialisation of ``nnmath.init.INITS``: shapes, determinism, and the variance of
each distribution against its formula."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from nnmath.init import INITS, initialize, orthogonal

N_IN, N_OUT = 400, 300

#: Var[W] of each entry of the registry, the formula of its docstring
VARIANCE = {
    "normal": lambda n_in, n_out: 1.0,
    "scaled_normal": lambda n_in, n_out: 1.0 / n_in,
    "glorot": lambda n_in, n_out: 2.0 / (n_in + n_out),
    "he": lambda n_in, n_out: 2.0 / n_in,
    "standard": lambda n_in, n_out: 1.0 / (3 * n_in),
    "glorot_normal": lambda n_in, n_out: 2.0 / (n_in + n_out),
    "lecun": lambda n_in, n_out: 1.0 / n_in,
    "he_uniform": lambda n_in, n_out: 2.0 / n_in,
    "orthogonal": lambda n_in, n_out: 1.0 / max(n_in, n_out),
}
#: the uniform draws and their half-width r: every entry lies in [−r, r]
UNIFORM = {
    "glorot": lambda n_in, n_out: np.sqrt(6.0 / (n_in + n_out)),
    "standard": lambda n_in, n_out: 1.0 / np.sqrt(n_in),
    "he_uniform": lambda n_in, n_out: np.sqrt(6.0 / n_in),
}
N01_BIASES = {"normal", "scaled_normal"}  # the book's N(0, 1) biases; all others are zero


def test_every_entry_has_a_variance_formula_here() -> None:
    assert set(VARIANCE) == set(INITS), "add the new initialisation's Var[W] to VARIANCE"


@pytest.mark.parametrize("name", sorted(INITS))
@pytest.mark.parametrize("shape", [(N_IN, N_OUT), (N_OUT, N_IN)])
def test_variance_matches_the_formula(name: str, shape: tuple[int, int]) -> None:
    n_in, n_out = shape
    W, b = INITS[name](n_in, n_out, np.random.default_rng(0))
    assert W.shape == (n_out, n_in) and b.shape == (n_out,)
    # 120,000 draws: the sample variance is within 2 % of the true one (about 5 standard errors)
    assert W.var() == pytest.approx(VARIANCE[name](n_in, n_out), rel=0.02)
    assert abs(W.mean()) < 5 * np.sqrt(VARIANCE[name](n_in, n_out) / W.size)
    if name in UNIFORM:
        r = UNIFORM[name](n_in, n_out)
        assert np.abs(W).max() <= r and np.abs(W).max() > 0.99 * r
    if name in N01_BIASES:
        assert b.std() == pytest.approx(1.0, rel=0.2)
    else:
        assert np.all(b == 0)


@pytest.mark.parametrize("name", sorted(INITS))
def test_same_seed_same_draw_and_both_dtypes(name: str) -> None:
    w32, b32 = initialize([5, 4, 3], name, np.random.default_rng(1), np.float32)
    w64, b64 = initialize([5, 4, 3], name, np.random.default_rng(1), np.float64)
    assert [W.dtype for W in w32] == [np.float32] * 2 and w64[0].dtype == np.float64
    for a, c in zip(w32 + b32, w64 + b64):
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(INITS))
def test_network_takes_every_name(name: str) -> None:
    net = nm.Network([6, 5, 2], init=name, seed=0)
    assert net.config()["init"] == name
    assert np.all(np.isfinite(net.feedforward(np.ones((3, 6), dtype=np.float32))))


@pytest.mark.parametrize(("n_in", "n_out"), [(7, 4), (4, 7), (5, 5)])
@pytest.mark.parametrize("gain", [1.0, np.sqrt(2.0)])
def test_orthogonal_is_orthonormal_times_gain(n_in: int, n_out: int, gain: float) -> None:
    W, b = orthogonal(n_in, n_out, np.random.default_rng(3), gain=gain)
    gram = W @ W.T if n_out <= n_in else W.T @ W
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(n_in, n_out)), atol=1e-12)
    assert np.all(b == 0)


def test_orthogonal_is_not_biased_by_the_sign_convention_of_qr() -> None:
    """Haar-distributed Q: the mean of each diagonal entry over many draws is ≈ 0 (the raw Q of
    LAPACK's QR, with R's diagonal forced positive or not, would have a sign pattern)."""
    rng = np.random.default_rng(4)
    diag = np.mean([np.diag(orthogonal(3, 3, rng)[0]) for _ in range(4000)], axis=0)
    assert np.all(np.abs(diag) < 0.05)


def test_unknown_name_lists_the_registry() -> None:
    with pytest.raises(ValueError, match="unknown init 'xavier_gaussian'.*orthogonal"):
        initialize([2, 2], "xavier_gaussian", np.random.default_rng(0))
