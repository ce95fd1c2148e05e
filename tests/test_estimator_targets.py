"""The regressor's standardised targets: trained on (y − mean)/std, folded back into W^L, b^L."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_regression

from nnmath.estimator import NNMathRegressor


def _raw():
    """scikit-learn's multi-output check's data: targets up to ~500, 11 rows."""
    return make_regression(random_state=42, n_targets=5, n_samples=11, n_features=10)


def test_targets_in_the_hundreds_never_diverge():
    """With the targets as given, SGD's η = 0.1 diverged for 8 of 1,000 seeds on this data
    (the weights past 10⁴; 411, 538, 654 and 995 among them on an AMD EPYC); standardised,
    none of these seeds does."""
    X, y = _raw()
    for seed in (411, 538, 654, 995, *range(40)):
        NNMathRegressor(random_state=seed).fit(X, y)


def test_the_scaling_is_folded_into_the_output_layer():
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    y = 300.0 + 80.0 * y
    reg = NNMathRegressor(epochs=40, random_state=0).fit(X, y)
    assert reg.y_mean_ == pytest.approx([y.mean()]) and reg.y_scale_ == pytest.approx([y.std()])
    assert reg.score(X, y) > 0.95
    # network_ alone predicts y in its own units: saved or exported, it needs no scaler
    np.testing.assert_allclose(reg.network_.feedforward(X)[:, 0], reg.predict(X), rtol=1e-4)
    # the same network as training on standardised targets by hand, scaled back
    by_hand = NNMathRegressor(epochs=40, random_state=0, scale_targets=False)
    by_hand.fit(X, (y - y.mean()) / y.std())
    np.testing.assert_allclose(
        by_hand.predict(X) * y.std() + y.mean(), reg.predict(X), rtol=1e-5, atol=1e-3
    )
    assert by_hand.loss_curve_ == pytest.approx(reg.loss_curve_)


def test_as_given_when_asked_or_when_the_output_is_bounded():
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    plain = NNMathRegressor(epochs=2, random_state=0, scale_targets=False).fit(X, y / y.std())
    assert plain.y_mean_ is None and plain.y_scale_ is None
    unit = (y - y.min()) / (y.max() - y.min())  # a sigmoid output needs targets in (0, 1)
    sig = NNMathRegressor(output_activation="sigmoid", epochs=2, random_state=0).fit(X, unit)
    assert sig.y_mean_ is None
    with pytest.raises(ValueError, match="scale_targets=True needs the identity output"):
        NNMathRegressor(output_activation="sigmoid", scale_targets=True).fit(X, unit)
    with pytest.raises(ValueError, match="scale_targets must be 'auto', True or False"):
        NNMathRegressor(scale_targets="yes").fit(X, y)
    with pytest.raises(ValueError, match="scale_targets must be"):
        NNMathRegressor(scale_targets=1).partial_fit(X, y)


def test_partial_fit_scales_with_its_first_call():
    X, y = make_regression(n_samples=100, n_features=3, random_state=0)
    y = 1000.0 + 50.0 * y
    reg = NNMathRegressor(random_state=0)
    for _ in range(6):
        reg.partial_fit(X, y)
    assert reg.y_mean_ == pytest.approx([y.mean()])
    assert reg.loss_curve_[-1] < reg.loss_curve_[0]
    assert reg.score(X, y) > 0.8
    np.testing.assert_allclose(reg.network_.feedforward(X)[:, 0], reg.predict(X), rtol=1e-4)


def test_constant_and_huge_targets():
    X = np.random.default_rng(0).standard_normal((30, 4))
    const = NNMathRegressor(epochs=3, random_state=0).fit(X, np.full(30, 7.0))
    assert const.y_scale_ == pytest.approx([1.0])
    np.testing.assert_allclose(const.predict(X), 7.0, atol=0.5)
    huge = 1e300 * np.random.default_rng(1).standard_normal(30)
    wide = NNMathRegressor(epochs=3, random_state=0, dtype="float64").fit(X, huge)
    assert np.isfinite(wide.y_mean_).all() and np.isfinite(wide.y_scale_).all()
    assert np.isfinite(wide.predict(X)).all()
    with pytest.raises(ValueError, match="more than a float32 network can output"):
        NNMathRegressor(epochs=1).fit(X, huge)
