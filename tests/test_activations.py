"""Every σ'(z) against central differences; softmax's Jacobian against differences and the
closed form y_i(δ_ij − y_j); numerical guards."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from conftest import ACTIVATION_NAMES, ELEMENTWISE_NAMES
from nnmath import activations as A

ELEMENTWISE = ELEMENTWISE_NAMES  # the registry's: a new entry is tested without an edit


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_prime_matches_central_differences(name: str, rng: np.random.Generator) -> None:
    act = nm.get_activation(name)
    z = rng.normal(scale=2.0, size=(7, 5))
    z = z[np.abs(z) > 1e-3].reshape(-1)  # keep away from the kinks of ReLU-type functions
    eps = 1e-6
    numeric = (act(z + eps) - act(z - eps)) / (2 * eps)
    np.testing.assert_allclose(act.prime(z), numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("alpha", [0.01, 0.3])
def test_parametrised_activations_use_alpha(alpha: float) -> None:
    z = np.array([-2.0, -0.5, 0.5, 2.0])
    leaky = nm.get_activation("leaky_relu", alpha=alpha)
    np.testing.assert_allclose(leaky(z), [-2 * alpha, -0.5 * alpha, 0.5, 2.0])
    np.testing.assert_allclose(leaky.prime(z), [alpha, alpha, 1.0, 1.0])
    elu = nm.get_activation("elu", alpha=alpha)
    np.testing.assert_allclose(elu(z), [alpha * np.expm1(-2.0), alpha * np.expm1(-0.5), 0.5, 2.0])
    np.testing.assert_allclose(elu.prime(z), [alpha * np.exp(-2.0), alpha * np.exp(-0.5), 1, 1])


def test_lecture_formulas_by_value() -> None:
    z = np.array([-1.0, 0.0, 2.0])
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(A.sigmoid(z), s)
    np.testing.assert_allclose(A.sigmoid_prime(z), s * (1 - s))
    assert A.sigmoid_prime(np.array([0.0]))[0] == 0.25  # the bound σ' ≤ 1/4
    np.testing.assert_allclose(A.tanh_prime(z), 1 - np.tanh(z) ** 2)
    np.testing.assert_allclose(A.relu(z), [0, 0, 2])
    np.testing.assert_allclose(A.relu_prime(z), [0, 0, 1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_on_numpy_is_the_where_bit_for_bit(dtype: type) -> None:
    """NumPy's ReLU is np.fmax(z, 0) for speed: the same bits as where(z > 0, z, 0), the
    other backends' form, on every special value (NaN → 0, −0 → +0), strided or not."""
    tiny = np.finfo(dtype).smallest_subnormal
    special = [0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, tiny, -tiny, 1.5, -2.5]
    z = np.random.default_rng(0).standard_normal(4000).astype(dtype)
    z[::7] = np.tile(np.array(special, dtype), 58)[: z[::7].size]
    for arr in (z, z[::3], z.reshape(10, 20, 20)[:, ::2].transpose(2, 0, 1)):
        reference = np.where(arr > 0, arr, 0.0)
        out = A.relu(arr)
        assert out.dtype == reference.dtype and out.tobytes() == reference.tobytes()


def test_sigmoid_is_stable_for_large_z() -> None:
    z = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        s = A.sigmoid(z)
        e = A.elu(z)
    assert s.dtype == np.float32 and np.all(np.isfinite(s))
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    assert np.all(np.isfinite(e))


def test_dtype_is_preserved() -> None:
    z = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    for name in [*ELEMENTWISE, "softmax"]:
        act = nm.get_activation(name)
        assert act(z).dtype == np.float32, name
        assert act.prime(z).dtype == np.float32, name


def test_softmax_columns_sum_to_one_and_resist_overflow() -> None:
    z = np.array([[1000.0, 1.0], [1001.0, 2.0], [999.0, 3.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = A.softmax(z)
    np.testing.assert_allclose(y.sum(axis=0), 1.0)
    np.testing.assert_allclose(y[:, 1], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())


def test_softmax_jacobian_closed_form_and_central_differences(rng: np.random.Generator) -> None:
    x = rng.normal(size=5)
    J = A.softmax_jacobian(x)
    y = A.softmax(x)
    # closed form of the lecture: -y_i y_j off the diagonal, y_i (1 - y_i) on it
    for i in range(5):
        for j in range(5):
            expected = y[i] * (1 - y[i]) if i == j else -y[i] * y[j]
            assert J[i, j] == pytest.approx(expected, rel=1e-12)
    eps = 1e-6
    numeric = np.empty((5, 5))
    for j in range(5):
        e = np.zeros(5)
        e[j] = eps
        numeric[:, j] = (A.softmax(x + e) - A.softmax(x - e)) / (2 * eps)
    np.testing.assert_allclose(J, numeric, rtol=1e-6, atol=1e-10)


def test_softmax_batched_jacobian_and_vjp(rng: np.random.Generator) -> None:
    z = rng.normal(size=(4, 6))  # 6 columns
    J = nm.get_activation("softmax").jacobian(z)
    assert J.shape == (6, 4, 4)
    for k in range(6):
        np.testing.assert_allclose(J[k], A.softmax_jacobian(z[:, k]))
    g = rng.normal(size=(4, 6))
    sm = nm.get_activation("softmax")
    vjp = sm.vjp(z, sm(z), g)
    expected = np.stack([J[k].T @ g[:, k] for k in range(6)], axis=1)
    np.testing.assert_allclose(vjp, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sm.prime(z), np.stack([np.diag(J[k]) for k in range(6)], axis=1))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_vjp_is_g_times_prime(name: str, rng: np.random.Generator) -> None:
    z, g = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    act = nm.get_activation(name)
    np.testing.assert_allclose(act.vjp(z, act(z), g), g * act.prime(z))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_every_activation_keeps_the_dtype_and_is_finite_for_large_z(name: str) -> None:
    act = nm.get_activation(name)
    for dtype in (np.float32, np.float64):
        z = np.array([-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4], dtype)
        with np.errstate(over="raise", invalid="raise"):
            a, prime = act(z), act.prime(z)
        assert a.dtype == dtype and prime.dtype == dtype
        assert np.all(np.isfinite(a[1:-1])) and np.all(np.isfinite(prime))


def test_registry_and_errors() -> None:
    assert set(nm.ACTIVATIONS) >= {
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "softmax",
        "identity",
    }
    assert nm.get_activation("Leaky-ReLU").name == "leaky_relu"
    with pytest.raises(ValueError, match="unknown activation 'no_such_sigma'.*sigmoid"):
        nm.get_activation("no_such_sigma")
    with pytest.raises(ValueError, match="does not take"):
        nm.get_activation("relu", alpha=2.0)
    with pytest.raises(TypeError, match="prime"):
        nm.get_activation(42)


def test_custom_activation_objects() -> None:
    class Softplus:
        name = "softplus"

        def __call__(self, z):
            return np.logaddexp(0, z)

        def prime(self, z):
            return A.sigmoid(z)

    act = nm.get_activation(Softplus())
    z = np.array([-1.0, 0.5])
    np.testing.assert_allclose(act(z), np.log1p(np.exp(z)))
    np.testing.assert_allclose(act.vjp(z, act(z), np.ones(2)), A.sigmoid(z))
    made = nm.Activation.from_functions(np.sin, np.cos, name="sine")
    assert made.name == "sine" and made.prime(np.array([0.0]))[0] == 1.0


# ------------------------------------------------------------------ declared once


def _declared_classes() -> list[type]:
    return [nm.ACTIVATIONS[n] for n in ACTIVATION_NAMES]


def test_every_activation_declares_its_torch_module_and_onnx_operators() -> None:
    """One declaration names σ, σ', the torch module and the ONNX operators; the module-level
    names users import (``A.<σ>``, ``A.<σ>_prime``, the class) are the declaration's."""
    for cls in _declared_classes():
        assert cls.torch is not None and cls.onnx is not None, cls.name
        assert getattr(A, cls.__name__) is cls and cls.__name__ in A.__all__
        for fn in getattr(cls, "functions", None) or (cls.fn, cls.fn_prime):
            assert getattr(A, fn.__name__) is fn and fn.__name__ in A.__all__
    assert sorted(nm.io.torch.TORCH_ACTIVATIONS) == ACTIVATION_NAMES
    assert sorted(nm.io.onnx.ONNX_ACTIVATIONS) == ACTIVATION_NAMES
    assert not any(hasattr(cls, "kernel") for cls in _declared_classes())  # C looks up names


def test_the_command_line_offers_the_registries_names() -> None:
    from nnmath.cli import _leaf_parsers, build_parser
    from nnmath.costs import COSTS
    from nnmath.optim import OPTIMIZERS

    registries = {"output_activation": nm.ACTIVATIONS, "cost": COSTS, "optimizer": OPTIMIZERS}
    seen = set()
    for leaf in _leaf_parsers(build_parser()):
        for action in leaf._actions:
            if action.dest in registries and action.choices is not None:
                assert sorted(action.choices) == sorted(registries[action.dest]), leaf.prog
                seen.add(action.dest)
    assert seen == set(registries)


def test_selu_by_hand() -> None:
    """SELU (Klambauer et al. 2017): λ z for z > 0, λ α (e^z − 1) for z ≤ 0."""
    lam, alpha = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717
    z = np.array([-2.0, -0.5, 0.5, 2.0])
    selu = nm.get_activation("selu")
    negative, positive = z[:2], z[2:]
    expected = np.concatenate([lam * alpha * np.expm1(negative), lam * positive])
    np.testing.assert_allclose(selu(z), expected, rtol=1e-15)
    expected_prime = np.concatenate([lam * alpha * np.exp(negative), [lam, lam]])
    np.testing.assert_allclose(selu.prime(z), expected_prime, rtol=1e-15)
    assert selu.max_prime == pytest.approx(lam * alpha) and selu.kernel_param == 0.0
    torch = pytest.importorskip("torch")
    t = torch.tensor(z, dtype=torch.float64)
    np.testing.assert_allclose(selu(z), torch.nn.SELU()(t).numpy(), rtol=1e-15)


def test_selu_trains_and_says_where(rng: np.random.Generator) -> None:
    """Without a C kernel an activation trains on the reference loop and says so."""
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    net = nm.Network([3, 5, 2], activation="selu", output_activation="sigmoid", seed=0)
    history = net.fit(X, y, epochs=2, mini_batch_size=8, eta=0.1)
    assert len(history.training_cost) == 2
    if history.extra["train_path"] == "reference":
        assert "'selu' has no compiled kernel" in history.extra["fallback_reason"]
