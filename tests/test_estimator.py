"""The scikit-learn estimators: scikit-learn's own checks, pipelines, searches, behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import nnmath as nm
from nnmath.estimator import NNMathClassifier, NNMathRegressor


# Every check passes, none is excused. (Predictions are computed in float64 so that they do
# not depend on the order or grouping of the rows; see NNMathClassifier._outputs.)
@parametrize_with_checks(
    [
        NNMathClassifier(),
        NNMathRegressor(),
        NNMathClassifier(
            hidden_layer_sizes=(8, 6),
            activation=["relu", "tanh"],
            optimizer="adam",
            eta=0.01,
            init="he",
            dtype="float64",
        ),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600], y[:600], X[600:900], y[600:900]


def test_pipeline_on_digits(digits):
    X, y, Xt, yt = digits
    model = make_pipeline(StandardScaler(), NNMathClassifier(epochs=15, random_state=0))
    model.fit(X, y)
    assert model.score(Xt, yt) > 0.9
    clf = model[-1]
    assert list(clf.classes_) == list(range(10))
    assert clf.n_features_in_ == 64
    assert clf.network_.sizes == [64, 30, 10]
    assert len(clf.loss_curve_) == 15 and clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.validation_scores_ is None


def test_grid_search_and_cross_val(digits):
    X, y, *_ = digits
    X, y = X[:300] / 16, y[:300]
    grid = GridSearchCV(
        NNMathClassifier(epochs=5, random_state=0),
        {"hidden_layer_sizes": [(10,), (20,)], "eta": [0.1, 1.0]},
        cv=3,
    )
    grid.fit(X, y)
    # the best parameters are those of the best mean score, and refitting with them alone
    # gives the same estimator as the search's refit
    scores = grid.cv_results_["mean_test_score"]
    assert grid.best_params_ == grid.cv_results_["params"][int(np.argmax(scores))]
    assert grid.best_score_ == scores.max() > 0.7
    alone = NNMathClassifier(epochs=5, random_state=0, **grid.best_params_).fit(X, y)
    np.testing.assert_array_equal(alone.predict(X), grid.best_estimator_.predict(X))
    assert grid.cv_results_["mean_test_score"].shape == (4,)
    scores = cross_val_score(NNMathClassifier(epochs=5, random_state=0), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.7


def test_regressor_fits_and_cross_validates():
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    y = (y - y.mean()) / y.std()
    reg = NNMathRegressor(epochs=40, random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.95
    assert reg.predict(X).shape == (200,) and reg.predict(X).dtype == np.float64
    assert reg.network_.activation_functions[-1].name == "identity"
    assert reg.network_.cost_name == "quadratic"
    scores = cross_val_score(NNMathRegressor(epochs=40, random_state=0), X, y, cv=3)
    assert scores.min() > 0.9


def test_regressor_multi_output():
    X, Y = make_regression(n_samples=150, n_features=4, n_targets=2, random_state=1)
    Y = (Y - Y.mean(0)) / Y.std(0)
    reg = NNMathRegressor(epochs=30, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (150, 2)
    assert reg.score(X, Y) > 0.9


def test_defaults_softmax_log_likelihood(digits):
    X, y, *_ = digits
    clf = NNMathClassifier(epochs=2, random_state=0).fit(X[:100] / 16, y[:100])
    net = clf.network_
    assert [a.name for a in net.activation_functions] == ["sigmoid", "softmax"]
    assert net.cost_name == "log_likelihood" and net.init == "scaled_normal"
    assert net.dtype == np.float32
    P = clf.predict_proba(X[:20] / 16)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(P, net.feedforward(X[:20] / 16), rtol=1e-5, atol=1e-6)
    assert np.array_equal(clf.predict(X[:20] / 16), np.argmax(P, axis=1))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X[:20] / 16)), P)
    # a sigmoid output gets cross-entropy unless a cost is given
    sig = NNMathClassifier(output_activation="sigmoid", epochs=1).fit(X[:50], y[:50])
    assert sig.network_.cost_name == "cross_entropy"


def test_string_labels_and_reproducibility():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    a = NNMathClassifier(epochs=10, random_state=7).fit(X, y)
    b = NNMathClassifier(epochs=10, random_state=7).fit(X, y)
    assert list(a.classes_) == ["no", "yes"]
    assert set(a.predict(X)) <= {"no", "yes"}
    assert a.score(X, y) > 0.85
    assert all(np.array_equal(u, v) for u, v in zip(a.network_.weights, b.network_.weights))


def test_early_stopping(digits):
    X, y, *_ = digits
    clf = NNMathClassifier(
        epochs=60, eta=3.0, early_stopping=True, patience=3, validation_fraction=0.2, random_state=0
    ).fit(X / 16, y)
    assert clf.validation_scores_ is not None
    assert len(clf.validation_scores_) == len(clf.loss_curve_) == clf.n_epochs_
    assert clf.n_epochs_ < 60 and clf.history_.stopped_early
    assert clf.best_epoch_ == int(np.argmax(clf.validation_scores_))
    reg = NNMathRegressor(epochs=20, early_stopping=True, random_state=0)
    Xr, yr = make_regression(n_samples=100, n_features=3, random_state=0)
    reg.fit(Xr, yr / yr.std())
    assert len(reg.validation_scores_) == reg.n_epochs_
    assert max(reg.validation_scores_) > 0.5  # held-out R²


def test_partial_fit(digits):
    X, y, *_ = digits
    X = X / 16
    clf = NNMathClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:50], y[:50])
    for start in range(0, 600, 100):
        clf.partial_fit(X[start : start + 100], y[start : start + 100], classes=np.arange(10))
    assert len(clf.loss_curve_) == 6
    first = clf.score(X, y)
    for _ in range(5):
        clf.partial_fit(X, y)
    assert clf.score(X, y) > max(first, 0.85)
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X[:5], np.full(5, 11))
    reg = NNMathRegressor(random_state=0)
    Xr, yr = make_regression(n_samples=100, n_features=3, random_state=0)
    for _ in range(3):
        reg.partial_fit(Xr, yr / yr.std())
    assert len(reg.loss_curve_) == 3 and reg.loss_curve_[-1] < reg.loss_curve_[0]


def test_partial_fit_keeps_optimizer_state():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    clf = NNMathClassifier(optimizer="adam", eta=0.01, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1])
    clf.partial_fit(X, y)
    assert clf._optimizer.state["t"] == 2 * 4  # 40 rows / 10 per mini-batch, two calls


@pytest.mark.parametrize(
    "params,message",
    [
        ({"hidden_layer_sizes": (10, -1)}, "positive integers"),
        ({"hidden_layer_sizes": "big"}, "int or a sequence"),
        ({"activation": ["relu", "tanh"]}, "2 functions for 1 hidden layers"),
        ({"activation": "no_such_sigma"}, "unknown activation"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"early_stopping": True, "validation_fraction": 1.5}, "validation_fraction"),
        ({"dtype": "float16"}, "unknown dtype"),
    ],
)
def test_bad_parameters(params, message):
    X, y = np.random.default_rng(0).standard_normal((20, 3)), np.arange(20) % 2
    with pytest.raises(ValueError, match=message):
        NNMathClassifier(**params).fit(X, y)


def test_one_class_is_an_error():
    with pytest.raises(ValueError, match="at least 2 classes"):
        NNMathClassifier().fit(np.ones((5, 2)), np.zeros(5))


def test_fitted_network_saves_and_loads(tmp_path, digits):
    X, y, Xt, _ = digits
    clf = NNMathClassifier(epochs=2, random_state=0).fit(X / 16, y)
    net = nm.load(nm.save(clf.network_, tmp_path / "clf.safetensors"))
    assert np.array_equal(net.predict(Xt / 16), clf.predict(Xt / 16))


def test_set_params_between_partial_fits_takes_effect() -> None:
    """The optimizer object holds η: a new eta set between partial_fit calls is the one the
    next call trains with (never a contradiction error, never the old value)."""
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 4)), rng.integers(0, 2, 40)
    clf = nm.NNMathClassifier(hidden_layer_sizes=(5,), random_state=0)
    clf.partial_fit(X, y, classes=[0, 1])
    clf.set_params(eta=0.05)
    clf.partial_fit(X, y)
    assert clf._optimizer.eta == 0.05


def test_dataframes_and_series_fit_as_their_arrays(digits):
    pd = pytest.importorskip("pandas", reason="pandas is a test dependency (nnmath[test])")
    X, y, *_ = digits
    X, y = X[:300] / 16, y[:300]
    a = NNMathClassifier(epochs=3, random_state=0).fit(pd.DataFrame(X), pd.Series(y))
    b = NNMathClassifier(epochs=3, random_state=0).fit(X, y)
    assert a.loss_curve_ == b.loss_curve_ and a.history_.extra["train_path"] == "c"
    np.testing.assert_array_equal(a.predict(pd.DataFrame(X)), b.predict(X))


@pytest.mark.parametrize(("optimizer", "eta"), [("sgd", 0.5), ("adam", 1e-3), ("rmsprop", 1e-3)])
def test_eta_not_given_is_the_optimizers_own(digits, optimizer: str, eta: float) -> None:
    """eta=None (the default): SGD's 0.5, Adam's and RMSprop's own 1e-3 (their registry
    entries' default_eta), not SGD's 0.5, with which Adam scored 10 % on the digits."""
    X, y, Xt, yt = digits
    X, Xt = X / 16, Xt / 16
    assert NNMathClassifier().get_params()["eta"] is None
    default = NNMathClassifier(optimizer=optimizer, epochs=15, random_state=0).fit(X, y)
    given = NNMathClassifier(optimizer=optimizer, eta=eta, epochs=15, random_state=0).fit(X, y)
    assert default.loss_curve_ == given.loss_curve_
    assert default.score(Xt, yt) > 0.75
    part = NNMathClassifier(optimizer=optimizer, random_state=0)
    part.partial_fit(X, y, classes=np.arange(10))
    assert part._optimizer.eta == eta
    reg = NNMathRegressor(optimizer=optimizer, epochs=1).fit(X[:50], y[:50] / 10.0)
    assert reg._make_optimizer(50).eta == (0.1 if optimizer == "sgd" else eta)
