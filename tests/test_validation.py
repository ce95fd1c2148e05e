"""Bad input gets a clear error that names the problem."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import nnmath as nm
from nnmath.validation import check_inputs


@pytest.fixture
def net() -> nm.Network:
    return nm.Network([4, 3, 3], seed=0)


def test_wrong_feature_count(net) -> None:
    with pytest.raises(ValueError, match=r"X has 5 features, the network expects 4 \(sizes\[0\]\)"):
        net.feedforward(np.zeros((2, 5)))


def test_wrong_dimensions_and_types(net) -> None:
    with pytest.raises(ValueError, match="2-D"):
        net.feedforward(np.zeros((2, 2, 4)))
    with pytest.raises(TypeError, match="numeric"):
        net.feedforward([["a", "b", "c", "d"]])


def test_nan_and_inf_in_X(net) -> None:
    X = np.zeros((3, 4))
    X[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.backprop(X, [0, 1, 2])
    X[1, 2] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.fit(X, [0, 1, 2], epochs=1)


def test_mismatched_lengths_and_bad_labels(net) -> None:
    X = np.zeros((3, 4))
    with pytest.raises(ValueError, match="X has 3 rows but Y has 2"):
        net.backprop(X, [0, 1])
    with pytest.raises(ValueError, match=r"labels out of range.*0\.\.2"):
        net.backprop(X, [0, 1, 3])
    with pytest.raises(ValueError, match="labels out of range"):
        net.accuracy(X, [0, -1, 2])
    with pytest.raises(ValueError, match="integer class labels"):
        net.backprop(X, [0.5, 1, 2])
    with pytest.raises(ValueError, match=r"expected \(3, 3\) one-hot rows"):
        net.backprop(X, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="Y contains NaN"):
        net.backprop(X, np.full((3, 3), np.nan))


def test_integer_labels_become_one_hot(net) -> None:
    X = np.random.default_rng(0).normal(size=(3, 4))
    g1 = net.backprop(X, [0, 2, 1])
    g2 = net.backprop(X, np.eye(3)[[0, 2, 1]])
    np.testing.assert_array_equal(g1.nabla_w[0], g2.nabla_w[0])


def test_single_output_regression_targets() -> None:
    net = nm.Network([2, 3, 1], activation="tanh", output_activation="identity", seed=0)
    X = np.ones((4, 2))
    g = net.backprop(X, np.array([0.5, 1.5, -2.0, 0.0]))
    assert g.nabla_w[1].shape == (1, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(sizes=[784]), "at least 2 layers"),
        (dict(sizes=[784, 0, 10]), "positive"),
        (dict(sizes=[784, -3, 10]), "positive"),
        (dict(sizes=[784, 2.5, 10]), "integers"),
        (
            dict(sizes=[4, 3], activation="no_such_sigma"),
            r"unknown activation 'no_such_sigma'.*\['elu'",
        ),
        (dict(sizes=[4, 3], cost="hinge"), r"unknown cost 'hinge'.*cross_entropy"),
        (dict(sizes=[4, 3], init="xavier"), r"unknown init 'xavier'.*glorot"),
        (dict(sizes=[4, 3], dtype="float16"), "unknown dtype"),
        (dict(sizes=[4, 3, 3, 2], activation=["relu"]), "activation list has 1 entries"),
        (dict(sizes=[4, 3, 3, 2], activation=["relu", "tanh"]), "also pass output_activation"),
    ],
)
def test_constructor_errors(kwargs, match) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        nm.Network(**kwargs)


# ---------------------------------------------------------------- inputs a user really passes


@pytest.fixture(scope="module")
def digits_data():
    from nnmath.data import load_digits

    return load_digits()


def _fit(X, y, digits_data, **kw):
    net = nm.Network([64, 20, 10], cost="cross_entropy", seed=0)
    history = net.fit(X, y, epochs=2, eta=0.5, seed=0, validation_data=digits_data.validation, **kw)
    return net, history


def test_pandas_dataframes_and_series_train_and_predict_as_arrays(digits_data):
    pd = pytest.importorskip("pandas", reason="pandas is a test dependency (nnmath[test])")
    X, y = digits_data.train
    ref, h_ref = _fit(X, y, digits_data)
    net, h = _fit(pd.DataFrame(X), pd.Series(y), digits_data)  # .get is not CuPy's
    assert h.extra["train_path"] == "c" and h.training_cost == h_ref.training_cost
    for W, W_ref in zip(net.weights, ref.weights):
        np.testing.assert_array_equal(W, W_ref)
    Xt = digits_data.test[0]
    np.testing.assert_array_equal(net.predict(pd.DataFrame(Xt)), ref.predict(Xt))
    assert net.accuracy(pd.DataFrame(Xt), pd.Series(digits_data.test[1])) == ref.accuracy(
        Xt, digits_data.test[1]
    )


@pytest.mark.parametrize(
    "layout",
    [
        np.asfortranarray,  # what DataFrame.to_numpy() gives for one dtype
        lambda X: np.repeat(X, 2, axis=1)[:, ::2],  # strided columns
        lambda X: np.repeat(X, 2, axis=0)[::2],  # strided rows
    ],
)
def test_fortran_and_strided_arrays_take_the_compiled_epoch(digits_data, layout):
    X, y = digits_data.train
    ref, h_ref = _fit(X, y, digits_data)
    Xl = layout(X)
    assert not Xl.flags.c_contiguous
    net, h = _fit(Xl, y, digits_data)
    assert h.extra["train_path"] == "c" and "fallback_reason" not in h.extra
    assert h.training_cost == h_ref.training_cost  # copied once to C order: the same run
    assert Xl.flags.f_contiguous or not Xl.flags.c_contiguous  # the caller's array untouched


def test_finite_values_too_large_for_float32_are_named(net) -> None:
    X = np.zeros((3, 4))
    X[0, 1] = 1e39  # finite in float64, inf in float32
    X[2, 3] = -5e38
    with pytest.raises(ValueError, match=r"2 finite values too large for float32 \(largest "):
        net.feedforward(X)
    with pytest.raises(ValueError, match="dtype='float64'"):
        net.fit(X, np.array([0, 1, 2]), epochs=1)
    assert nm.Network([4, 3, 3], dtype="float64").feedforward(X).shape == (3, 3)  # fits there
    X[1, 0] = np.inf  # a real infinity is still reported as such
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.feedforward(X)


def test_labels_out_of_range_are_reported_by_value(net) -> None:
    X = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"label 1e\+20 at row 1"):
        net.fit(X, np.array([0.0, 1e20, 2.0]), epochs=1)  # a cast would show -2**63
    with pytest.raises(ValueError, match=r"label -3 at row 2 \(1 outside 0\.\.2"):
        net.fit(X, np.array([0, 1, -3]), epochs=1)
    with pytest.raises(ValueError, match=f"the value {2**70}, beyond the range of a 64-bit"):
        net.fit(X, [0, 2**70, 1], epochs=1)  # NumPy keeps it as a Python int (object)


def test_a_sum_past_float32_s_range_is_silent() -> None:
    # finite values whose sum overflows float32: accepted, and no overflow warning
    X = np.full((2100, 2000), 3e35, np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = check_inputs(X, 2000, np.float32)
    assert out.shape == X.shape and np.array_equal(out, X)
    assert not [str(w.message) for w in caught]
